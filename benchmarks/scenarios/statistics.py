"""Scenario 5: aggregator updates per second and store flush throughput (SQLite, Redis)."""

from __future__ import annotations

import importlib.util

from benchmarks.config import Config
from benchmarks.model import NOT_AVAILABLE, Group, Row

NAME = "statistics"
TITLE = "Statistics: aggregator updates/s, store flush throughput (higher is better)"


def available() -> str:
    if importlib.util.find_spec("beaconguard.stats") is None:
        return "beaconguard.stats (branch stats) is not on main yet"
    return ""


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    missing = available()
    if missing:
        group.status = NOT_AVAILABLE
        for name, label, unit in (
            ("aggregator", "aggregator updates", "updates/s"),
            ("sqlite", "SQLite store flush", "rows/s"),
            ("redis", "Redis store flush", "rows/s"),
        ):
            group.rows.append(Row.missing(name, label, unit, missing))
        return group
    raise NotImplementedError("statistics scenario: wire it to beaconguard.stats")
