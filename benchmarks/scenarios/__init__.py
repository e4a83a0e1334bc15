"""The scenario groups, in the order they run and print.

Each module has ``NAME``, ``TITLE`` and ``run(config) -> Group`` and measures everything it
compares inside that one call, so its ratios come from one process run.
"""

from __future__ import annotations

from benchmarks.scenarios import allocations, http, inprocess, offline, statistics

SCENARIOS = (inprocess, allocations, http, offline, statistics)
