"""Scenario 2: allocations per request on the hot path, and retained memory over a long run.

Allocations are traced with memray (Python allocator hooks on, so every object counts),
after warm-up, for a batch of requests through each variant. Three figures per variant:

* all allocations per request on the event-loop thread (the app's included),
* those made in beaconguard's own code: the innermost frame outside the standard library
  belongs to ``beaconguard/`` (the hot logging path: header scan, Visit, pipeline, submit),
* the writer thread's allocations per request (serialization, off the event loop).

The retained-memory run sends many requests (one million in the full run) with a new
client address on every request and a new user agent and path every hundredth, so every
cache is pushed past its bound; Python's allocated block count and the RSS are compared
between the end of warm-up and the end of the run, after the writer has flushed.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
import sysconfig
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from benchmarks import apps
from benchmarks.asgi import REQUESTS, Driver, Lifespan, default_scopes, discard, make_scope, receive
from benchmarks.config import Config
from benchmarks.model import NOT_AVAILABLE, UNAVAILABLE, Group, Row, Target

NAME = "allocations"
TITLE = "Allocations per request and retained memory"

TRACED = ("bare", "access_log", "full")
RETAINED = ("access_log", "full")
MAX_HOT_ALLOCATIONS = 10
#: Python blocks that may come and go between two quiet points without meaning growth.
GROWTH_TOLERANCE_BLOCKS = 2000

_PACKAGE = str(Path(__file__).resolve().parents[2] / "beaconguard") + os.sep
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_SITE = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])


def _owner(stack: list[tuple[str, str, int]]) -> tuple[str, str]:
    """Who made an allocation: the innermost frame outside the standard library."""
    for function, filename, line in stack:
        if filename.startswith(_STDLIB) and not filename.startswith(_SITE):
            continue
        if filename.startswith(_PACKAGE):
            rel = "beaconguard/" + filename[len(_PACKAGE):]
            return "beaconguard", f"{rel}:{line} ({function})"
        return "other", filename
    return "other", "?"


def trace(variant: apps.Variant, requests: int, warmup: int, directory: Path) -> dict[str, Any]:
    """Run ``requests`` through ``variant`` under memray; per-request allocation figures."""
    import memray

    py_allocators = {
        memray.AllocatorType.PYMALLOC_MALLOC,
        memray.AllocatorType.PYMALLOC_CALLOC,
        memray.AllocatorType.PYMALLOC_REALLOC,
    }
    out = directory / f"{variant.name}.memray"
    driver = Driver(variant.app, default_scopes())  # type: ignore[arg-type]
    span = Lifespan(variant.app)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(span.startup())
        loop.run_until_complete(driver.batch(warmup))
        if variant.guard is not None and variant.guard.access_log is not None:
            variant.guard.access_log.flush()
        with memray.Tracker(out, trace_python_allocators=True, native_traces=False):
            loop.run_until_complete(driver.batch(requests))
        loop.run_until_complete(span.shutdown())
    finally:
        loop.close()
        variant.close()
    problem = variant.verify(driver.sent)
    if problem:
        raise RuntimeError(problem)

    reader = memray.FileReader(out)
    main = reader.metadata.main_thread_id
    count = size = hot = hot_bytes = writer = 0
    sites: Counter[str] = Counter()
    for record in reader.get_allocation_records():
        if record.allocator not in py_allocators:
            continue
        n = record.n_allocations
        if record.tid != main:
            writer += n
            continue
        count += n
        size += record.size
        owner, site = _owner(record.stack_trace())
        if owner == "beaconguard":
            hot += n
            hot_bytes += record.size
            sites[site] += n
    out.unlink()
    return {
        "allocs": count / requests,
        "bytes": size / requests,
        "hot_allocs": hot / requests,
        "hot_bytes": hot_bytes / requests,
        "writer_allocs": writer / requests,
        "sites": {s: round(c / requests, 2) for s, c in sites.most_common(12)},
    }


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _churn_scopes(warmup: int) -> Callable[[int], dict[str, Any]]:
    """A request factory whose client never repeats, nor (every 100th) its UA and path.

    During warm-up every request has a new user agent too, so the UA cache reaches its
    bound before the first measurement and later growth would be a leak, not a cache.
    """
    bases = [make_scope(path, query, ua) for path, query, ua, _ in REQUESTS]

    def scope_for(i: int) -> dict[str, Any]:
        if i < warmup or i % 100 == 0:
            scope = make_scope(
                f"/files/{i:08x}-report.pdf", b"", f"Mozilla/5.0 (X11; Linux) Bench/{i}.0"
            )
        else:
            scope = bases[i & 3].copy()
        scope["client"] = (f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 40000 + (i & 8191))
        scope["state"] = {}
        return scope

    return scope_for


def _quiet_point(variant: apps.Variant) -> tuple[int, int]:
    if variant.guard is not None and variant.guard.access_log is not None:
        variant.guard.access_log.flush()
    gc.collect()
    return sys.getallocatedblocks(), _rss_kib()


def retained(variant: apps.Variant, requests: int, warmup: int) -> dict[str, Any]:
    """Send ``requests`` varied requests; allocated blocks and RSS after warm-up vs at the end."""
    scope_for = _churn_scopes(warmup)
    app = variant.app
    assert app is not None
    span = Lifespan(app)
    sent = 0

    async def send_range(start: int, stop: int) -> None:
        for i in range(start, stop):
            await app(scope_for(i), receive, discard)

    checkpoints: list[dict[str, int]] = []
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(span.startup())
        loop.run_until_complete(send_range(0, warmup))
        sent = warmup
        blocks, rss = _quiet_point(variant)
        checkpoints.append({"requests": 0, "blocks": blocks, "rss_kib": rss})
        for part in _parts(requests, 4):
            loop.run_until_complete(send_range(sent, sent + part))
            sent += part
            blocks, rss = _quiet_point(variant)
            checkpoints.append({"requests": sent - warmup, "blocks": blocks, "rss_kib": rss})
        loop.run_until_complete(span.shutdown())
    finally:
        loop.close()
        variant.close()
    problem = variant.verify(sent)
    if problem:
        raise RuntimeError(problem)
    first, last = checkpoints[0], checkpoints[-1]
    return {
        "requests": requests,
        "blocks_growth": last["blocks"] - first["blocks"],
        "rss_growth_kib": last["rss_kib"] - first["rss_kib"],
        "checkpoints": checkpoints,
    }


def _parts(total: int, n: int) -> Iterator[int]:
    for k in range(n):
        yield total // n + (1 if k < total % n else 0)


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    try:
        import memray  # noqa: F401
    except ImportError as exc:
        memray_missing = f"memray is not installed ({exc}); `make bench` installs .[dev]"
    else:
        memray_missing = ""

    with tempfile.TemporaryDirectory(prefix="bg-bench-") as tmp:
        base = Path(tmp)
        traced: dict[str, dict[str, Any]] = {}
        for name in TRACED:
            variant = apps.build(name, base / f"trace-{name}")
            label = f"{variant.label}: allocations/request"
            if variant.app is None:
                group.rows.append(Row.missing(f"{name}.allocs", label, "allocs", variant.missing))
                continue
            if memray_missing:
                group.rows.append(
                    Row.missing(f"{name}.allocs", label, "allocs", memray_missing, UNAVAILABLE)
                )
                continue
            figures = trace(variant, config.alloc_requests, config.warmup, base)
            traced[name] = figures
            row = Row(f"{name}.allocs", label, "allocs", value=figures["allocs"])
            row.extra = {"bytes_per_request": figures["bytes"]}
            if name != "bare" and "bare" in traced:
                row.extra["added_vs_bare"] = figures["allocs"] - traced["bare"]["allocs"]
            group.rows.append(row)
            if name != "bare":
                hot = Row(
                    f"{name}.hot",
                    f"{variant.label}: in beaconguard code",
                    "allocs",
                    value=figures["hot_allocs"],
                )
                hot.extra = {
                    "bytes_per_request": figures["hot_bytes"],
                    "writer_thread_allocs": figures["writer_allocs"],
                    "sites": figures["sites"],
                }
                group.rows.append(hot)

        for name in TRACED[1:]:
            title = f"{name.replace('_', ' ')}: allocations/request in beaconguard code"
            goal = f"≤ {MAX_HOT_ALLOCATIONS}"
            if name in traced:
                group.targets.append(
                    Target.check(title, goal, traced[name]["hot_allocs"], MAX_HOT_ALLOCATIONS)
                )
            else:
                reason = memray_missing or "variant not on main yet"
                group.targets.append(Target(title, goal, status=NOT_AVAILABLE, note=reason))

        for name in RETAINED:
            variant = apps.build(name, base / f"retain-{name}")
            label = f"{variant.label}: blocks retained after {config.retain_requests:,} req"
            title = f"{name.replace('_', ' ')}: retained growth"
            goal = f"≤ {GROWTH_TOLERANCE_BLOCKS} blocks"
            if variant.app is None:
                group.rows.append(Row.missing(f"{name}.retained", label, "blocks", variant.missing))
                group.targets.append(Target(title, goal, status=NOT_AVAILABLE, note=variant.missing))
                continue
            # Warm-up long enough to fill every bounded cache (UA and IP caches: 4096).
            figures = retained(variant, config.retain_requests, warmup=max(config.warmup, 5000))
            row = Row(f"{name}.retained", label, "blocks", value=float(figures["blocks_growth"]))
            row.extra = {
                "rss_growth_kib": figures["rss_growth_kib"],
                "checkpoints": figures["checkpoints"],
            }
            group.rows.append(row)
            group.targets.append(
                Target.check(
                    title, goal, float(figures["blocks_growth"]), GROWTH_TOLERANCE_BLOCKS, " blocks"
                )
            )
    group.notes.append(
        f"memray, Python allocator requests on the event-loop thread, {config.alloc_requests} "
        f"requests after {config.warmup} warm-up; 'in beaconguard code' = innermost non-stdlib "
        "frame in beaconguard/. Retained: sys.getallocatedblocks() after gc and writer flush."
    )
    return group
