"""Scenario 5: aggregator updates per second and store flush throughput (SQLite, Redis).

* Aggregator: ``Aggregator.consume`` (the middleware consumer) over prebuilt, anonymized
  page views, in rounds with an untimed flush between them.
* Flush: the aggregator's pending counts for a batch of page views are written by
  ``Aggregator.flush`` (expanding them into cells, then one store transaction) to a SQLite
  file, a real ``redis-server`` on a free loopback port, and the memory store for
  reference. Stores are interleaved within each round.
"""

from __future__ import annotations

import contextlib
import importlib.util
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.apps import SECRET
from benchmarks.config import Config
from benchmarks.logs import visits
from benchmarks.model import NOT_AVAILABLE, UNAVAILABLE, Group, Row, median
from benchmarks.server import redis_server

NAME = "statistics"
TITLE = "Statistics: aggregator updates/s, store flush throughput (higher is better)"
POOL = 5000  # distinct prebuilt visits, cycled


def available() -> str:
    if importlib.util.find_spec("beaconguard.stats") is None:
        return "beaconguard.stats (branch stats) is not on main yet"
    return ""


def _pairs(n: int) -> list[tuple[Any, Any]]:
    """(Visit, anonymized record) for ``n`` page views."""
    from beaconguard import Settings
    from beaconguard.anonymize.pipeline import build_pipeline
    from beaconguard.visit import Visit

    pipeline = build_pipeline(Settings(secret_key=(SECRET,), store="memory://"))
    out = []
    for kw in visits(n):
        visit = Visit(**kw)  # type: ignore[arg-type]
        out.append((visit, pipeline(visit)))
    return out


def _aggregator(url: str) -> Any:
    from beaconguard import Settings
    from beaconguard.stats.aggregator import Aggregator
    from beaconguard.stats.store import open_store

    settings = Settings(secret_key=(SECRET,), store=url)
    return Aggregator(open_store(url), settings, background=False)


def _pending_cells(aggregator: Any) -> int | None:
    """How many cells the next flush writes (reads the aggregator's pending counts)."""
    from beaconguard.stats.aggregator import expand

    pending = getattr(aggregator, "_pending", None)
    if pending is None:
        return None
    cells: dict[Any, Any] = {}
    expand(dict(pending), cells)
    return len(cells)


@contextlib.contextmanager
def _stores(work: Path, group: Group) -> Iterator[dict[str, str]]:
    urls = {"sqlite": f"sqlite:///{work / 'stats.db'}", "memory": "memory://"}
    with contextlib.ExitStack() as stack:
        why = ""
        if shutil.which("redis-server") is None:
            why = "redis-server is not installed"
        elif importlib.util.find_spec("redis") is None:
            why = "the redis package is not installed (pip install '.[redis]')"
        if why:
            group.rows.append(
                Row.missing("redis", "Redis store flush", "cells/s", why, UNAVAILABLE)
            )
        else:
            urls["redis"] = stack.enter_context(redis_server(work / "redis"))
        yield urls


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    missing = available()
    labels = {
        "sqlite": "SQLite store flush",
        "redis": "Redis store flush",
        "memory": "memory store flush (reference)",
    }
    if missing:
        group.status = NOT_AVAILABLE
        group.rows.append(Row.missing("aggregator", "aggregator updates", "updates/s", missing))
        for name in ("sqlite", "redis"):
            group.rows.append(Row.missing(name, labels[name], "cells/s", missing))
        return group

    pairs = _pairs(min(POOL, config.stats_updates))
    k = len(pairs)

    # Aggregator hot path.
    agg = _aggregator("memory://")
    consume = agg.consume
    rates = []
    for _ in range(config.stats_rounds):
        started = time.perf_counter()
        for i in range(config.stats_updates):
            visit, record = pairs[i % k]
            consume(visit, record)
        rates.append(config.stats_updates / (time.perf_counter() - started))
        agg.flush()
    agg.close()
    group.rows.append(Row.from_samples("aggregator", "Aggregator.consume", "updates/s", rates))

    # Store flushes: one batch of page views per flush, stores interleaved.
    batch = max(1, config.stats_updates // 10)
    with tempfile.TemporaryDirectory(prefix="bg-bench-") as tmp, _stores(Path(tmp), group) as urls:
        aggs = {name: _aggregator(url) for name, url in urls.items()}
        cells: dict[str, list[float]] = {name: [] for name in aggs}
        views: dict[str, list[float]] = {name: [] for name in aggs}
        flush_ms: dict[str, list[float]] = {name: [] for name in aggs}
        sizes: dict[str, int | None] = {}
        order = list(aggs)
        offset = 0
        for r in range(config.stats_rounds):
            for name in order[r % len(order) :] + order[: r % len(order)]:
                a = aggs[name]
                for i in range(batch):
                    visit, record = pairs[(offset + i) % k]
                    a.consume(visit, record)
                sizes[name] = _pending_cells(a)
                started = time.perf_counter()
                a.flush()
                seconds = time.perf_counter() - started
                views[name].append(batch / seconds)
                flush_ms[name].append(seconds * 1000)
                if sizes[name]:
                    cells[name].append(sizes[name] / seconds)  # type: ignore[operator]
            offset += batch
        for a in aggs.values():
            a.close()
            a.store.close()
    for name in ("sqlite", "redis", "memory"):
        if name not in aggs:
            continue
        row = Row.from_samples(name, labels[name], "cells/s", cells[name] or views[name])
        row.extra = {
            "page_views_per_s": median(views[name]),
            "flush_ms": median(flush_ms[name]),
            "cells_per_flush": sizes[name],
            "page_views_per_flush": batch,
        }
        if not cells[name]:
            row.unit = "page views/s"
        group.rows.append(row)
    group.notes.append(
        f"{config.stats_rounds} rounds; consume: {config.stats_updates:,} page views per round "
        f"from {k:,} distinct prebuilt ones; flush: {batch:,} page views per flush, each "
        "expanded into (day, page, dimension) cells with visitor sketches."
    )
    return group
