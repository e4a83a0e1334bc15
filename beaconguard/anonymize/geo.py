"""GeoIP processor: the country of the *full* address, looked up before it is truncated.

Any MaxMind-format database works (GeoLite2-Country, DB-IP, or one built by
``beaconguard geoip build``). Without a database the country is ``None``. Only the ISO
country code is kept; nothing finer (city, coordinates) is ever read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from beaconguard.anonymize.ip import parse as parse_ip

CountryLookup = Callable[[str | None], str | None]


def _iso(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    for key in ("country", "registered_country"):
        entry = record.get(key)
        if isinstance(entry, dict):
            code = entry.get("iso_code")
            if isinstance(code, str) and len(code) == 2 and code.isalpha():
                return code.upper()
    code = record.get("country_code") or record.get("iso_code")
    if isinstance(code, str) and len(code) == 2 and code.isalpha():
        return code.upper()
    return None


def make_country_lookup(db_path: str | None) -> CountryLookup:
    """Build ``lookup(raw_address) -> ISO country code or None``."""
    if db_path is None:

        def no_country(value: str | None) -> str | None:
            return None

        return no_country

    # Imported here: it takes a while, and most setups have no database.
    import maxminddb

    reader = maxminddb.open_database(db_path)

    def country(value: str | None) -> str | None:
        ip = parse_ip(value)
        if ip is None:
            return None
        try:
            return _iso(reader.get(ip))
        except ValueError:
            return None

    return country
