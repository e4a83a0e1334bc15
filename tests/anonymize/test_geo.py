from pathlib import Path

import pytest

from beaconguard.anonymize.geo import make_country_lookup
from tests.support.geoip import build_country_mmdb


@pytest.fixture(scope="module")
def mmdb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("geo") / "country.mmdb"
    return build_country_mmdb(
        path, {"203.0.113.0/24": "JP", "198.51.100.0/24": "US", "2001:db8::/32": "DE"}
    )


def test_country_from_full_address(mmdb: Path) -> None:
    lookup = make_country_lookup(str(mmdb))
    assert lookup("203.0.113.200") == "JP"
    assert lookup("::ffff:198.51.100.7") == "US"
    assert lookup("2001:db8:1::9") == "DE"
    assert lookup("192.0.2.1") is None
    assert lookup("garbage") is None
    assert lookup(None) is None


def test_no_database_no_country() -> None:
    assert make_country_lookup(None)("203.0.113.200") is None
