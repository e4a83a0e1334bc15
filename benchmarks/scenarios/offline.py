"""Scenario 4: the offline anonymizer against ``anonip``, lines per second.

Both read the same generated combined-format log (100,000 lines in the full run).
"""

from __future__ import annotations

import importlib.util

from benchmarks.config import Config
from benchmarks.model import NOT_AVAILABLE, Group, Row

NAME = "offline"
TITLE = "Offline anonymizer, lines per second (higher is better)"


def available() -> str:
    """'' when ``beaconguard anonymize`` exists, else why not."""
    if importlib.util.find_spec("beaconguard.cli.anonymize") is None:
        return "`beaconguard anonymize` (branch offline) is not on main yet"
    return ""


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    missing = available()
    if missing:
        group.status = NOT_AVAILABLE
        group.rows.append(Row.missing("beaconguard", "beaconguard anonymize", "lines/s", missing))
        group.rows.append(
            Row.missing("anonip", "anonip", "lines/s", "measured beside beaconguard anonymize")
        )
        return group
    raise NotImplementedError("offline scenario: wire it to beaconguard anonymize")
