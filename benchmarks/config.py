"""How much each scenario does: ``full`` (``make bench``), ``quick`` (CI) and ``smoke`` (tests).

Only the amounts differ between modes; every scenario and every variant runs in each, so
``make bench-quick`` in CI proves the whole suite still works.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    mode: str
    # in-process: rounds of `batch` requests per variant, interleaved, after `warmup`
    rounds: int
    batch: int
    warmup: int
    # allocations: requests counted per variant; the retained-memory run and its warm-up
    # (long enough to fill every bounded cache: UA and IP caches hold 4096 entries)
    alloc_requests: int
    retain_requests: int
    retain_warmup: int
    # HTTP end to end: rounds of `http_seconds` of load per server, `connections` open
    http_rounds: int
    http_seconds: float
    connections: int
    # offline anonymizer: lines in the generated combined log, rounds per tool
    log_lines: int
    offline_rounds: int
    # statistics: aggregator updates and store flush batches
    stats_updates: int
    stats_rounds: int


FULL = Config(
    mode="full",
    rounds=15,
    batch=2000,
    warmup=2000,
    alloc_requests=2000,
    retain_requests=1_000_000,
    retain_warmup=6000,
    http_rounds=4,
    http_seconds=5.0,
    connections=32,
    log_lines=100_000,
    offline_rounds=3,
    stats_updates=200_000,
    stats_rounds=5,
)
QUICK = Config(
    mode="quick",
    rounds=5,
    batch=500,
    warmup=500,
    alloc_requests=300,
    retain_requests=50_000,
    retain_warmup=6000,
    http_rounds=2,
    http_seconds=2.0,
    connections=16,
    log_lines=20_000,
    offline_rounds=2,
    stats_updates=20_000,
    stats_rounds=3,
)
SMOKE = Config(
    mode="smoke",
    rounds=2,
    batch=20,
    warmup=20,
    alloc_requests=20,
    retain_requests=200,
    retain_warmup=100,
    http_rounds=1,
    http_seconds=1.0,
    connections=4,
    log_lines=500,
    offline_rounds=1,
    stats_updates=500,
    stats_rounds=1,
)
MODES = {c.mode: c for c in (FULL, QUICK, SMOKE)}
