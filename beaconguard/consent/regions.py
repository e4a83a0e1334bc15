"""Region defaults: what a visitor from a given country gets before deciding.

The map comes from ``Settings.region_defaults``: keys are ISO country codes, the groups
``EU``, ``EEA`` and ``UK`` (= ``GB``), or ``*`` (any country we could locate); values are
``opt-in`` (nothing optional until the visitor agrees), ``opt-out`` (everything optional
until the visitor objects) or a list of categories granted by default. A visitor whose
country is unknown gets the global default (only necessary): failing to locate someone
never grants more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from beaconguard.consent.categories import OPTIONAL

EU = (
    "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
    "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
)
EEA = (*EU, "IS", "LI", "NO")
# "UK" is not an ISO code (GB is), but it is what people write.
GROUPS: dict[str, tuple[str, ...]] = {"EU": EU, "EEA": EEA, "UK": ("GB",)}


def parse_policy(key: str, value: Any) -> frozenset[str]:
    """The categories one region value grants."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low == "opt-in":
            return frozenset()
        if low == "opt-out":
            return frozenset(OPTIONAL)
        items: list[Any] = [v for v in low.replace(",", " ").split() if v]
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    granted = set()
    for item in items:
        if item == "necessary":
            continue
        if item not in OPTIONAL:
            raise ValueError(
                f"region_defaults[{key!r}]: {item!r} is not 'opt-in', 'opt-out' or a list "
                f"of categories from {', '.join(OPTIONAL)}"
            )
        granted.add(item)
    return frozenset(granted)


def expand_regions(raw: Mapping[str, Any]) -> dict[str, frozenset[str]]:
    """``{country or '*': granted categories}``, groups expanded. A country named on its
    own wins over the group that contains it, whatever the order."""
    out: dict[str, frozenset[str]] = {}
    singles: dict[str, frozenset[str]] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise ValueError(f"region_defaults: key {key!r} is not a country code")
        code = key.strip().upper()
        granted = parse_policy(key, value)
        if code in GROUPS:
            for country in GROUPS[code]:
                out[country] = granted
        elif code == "*" or (len(code) == 2 and code.isalpha()):
            singles[code] = granted
        else:
            raise ValueError(
                f"region_defaults: {key!r} is not a two-letter country code, "
                f"{', '.join(GROUPS)} or '*'"
            )
    out.update(singles)
    return out
