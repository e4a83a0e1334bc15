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
import dis
import gc
import os
import sys
import sysconfig
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from benchmarks import alloccount, apps
from benchmarks.asgi import REQUESTS, Driver, Lifespan, default_scopes, discard, make_scope, receive
from benchmarks.config import Config
from benchmarks.model import NOT_AVAILABLE, UNAVAILABLE, Group, Row, Target

NAME = "allocations"
TITLE = "Allocations per request and retained memory"

TRACED = ("bare", "access_log", "consent", "stats", "full")
#: Held to the allocation target (the hot logging path, alone and in the full stack).
TARGETED = ("access_log", "full")
BUILD_DIR = Path(tempfile.gettempdir()) / "beaconguard-bench-build"
RETAINED = ("full", "access_log")
MAX_HOT_ALLOCATIONS = 10
#: Python blocks that may come and go between two quiet points without meaning growth.
GROWTH_TOLERANCE_BLOCKS = 2000

_PACKAGE = str(Path(__file__).resolve().parents[2] / "beaconguard") + os.sep
_STDLIB = sysconfig.get_paths()["stdlib"] + os.sep
_SITE = (sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])


Frame = tuple[str, str, int]  # function, file, line: innermost first, as memray gives them


def _owner(stack: list[Frame]) -> str:
    """Who made an allocation: 'beaconguard' when the innermost frame outside the standard
    library is in ``beaconguard/``, else 'other'."""
    for _function, filename, _line in stack:
        if filename.startswith(_STDLIB) and not filename.startswith(_SITE):
            continue
        return "beaconguard" if filename.startswith(_PACKAGE) else "other"
    return "other"


def _site(frame: Frame) -> str:
    function, filename, line = frame
    if filename.startswith(_PACKAGE):
        filename = "beaconguard/" + filename[len(_PACKAGE) :]
    return f"{filename}:{line} ({function})"


def _frames(frame: FrameType | None) -> list[Frame]:
    out = []
    while frame is not None:
        out.append((frame.f_code.co_name, frame.f_code.co_filename, frame.f_lineno))
        frame = frame.f_back
    return out


def _observer_allocations(
    loop: asyncio.AbstractEventLoop, driver: Driver, n: int
) -> Counter[tuple[str, Frame]]:
    """Allocations that exist only because a profiler is attached, counted by site.

    memray follows Python frames with a profile hook, and on CPython 3.11 an attached hook
    makes the interpreter (a) create a temporary bound method for every call of a C method
    (``d.get(k)``: "a temporary bound method as argument for profiling") and (b) run the
    unspecialized UNPACK_SEQUENCE, which allocates an iterator per tuple unpacking. Neither
    happens in production. This second run replays the same requests with a profile hook
    that counts (a) and an opcode tracer that counts (b), so they can be subtracted.
    """
    counts: Counter[tuple[str, Frame]] = Counter()
    builtin_method = type(len)
    unpack = dis.opmap["UNPACK_SEQUENCE"]
    temporary_refs = 3  # measured: the interpreter's, the hook argument's, getrefcount's

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "c_call" and type(arg) is builtin_method:
            bound_to = getattr(arg, "__self__", None)
            if (
                bound_to is not None
                and not isinstance(bound_to, ModuleType)
                and sys.getrefcount(arg) <= temporary_refs
            ):
                stack = _frames(frame)
                counts[(_owner(stack), stack[0])] += 1

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        frame.f_trace_opcodes = True
        frame.f_trace_lines = False
        if event == "opcode" and frame.f_code.co_code[frame.f_lasti] == unpack:
            stack = _frames(frame)
            counts[(_owner(stack), stack[0])] += 1
        return trace

    sys.setprofile(profile)
    sys.settrace(trace)
    try:
        loop.run_until_complete(driver.batch(n))
    finally:
        sys.settrace(None)
        sys.setprofile(None)
    return counts


def count_exact(
    variant: apps.Variant, requests: int, warmup: int, counter: ModuleType
) -> tuple[float, float]:
    """Allocations and bytes requested per request, counted by the C hook (no profiler)."""
    driver = Driver(variant.app, default_scopes(cookie=apps.request_cookie()))  # type: ignore[arg-type]
    span = Lifespan(variant.app)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(span.startup())
        loop.run_until_complete(driver.batch(warmup))
        counter.start()
        loop.run_until_complete(driver.batch(requests))
        allocs, size = counter.stop()
        loop.run_until_complete(span.shutdown())
    finally:
        loop.close()
        variant.close()
    problem = variant.verify(driver.sent)
    if problem:
        raise RuntimeError(problem)
    return allocs / requests, size / requests


def memray_sites(
    variant: apps.Variant, requests: int, warmup: int, directory: Path
) -> dict[str, Any]:
    """Where beaconguard's allocations come from, by file:line, as memray sees them."""
    import memray

    py_allocators = {
        memray.AllocatorType.PYMALLOC_MALLOC,
        memray.AllocatorType.PYMALLOC_CALLOC,
        memray.AllocatorType.PYMALLOC_REALLOC,
    }
    requests -= requests % len(REQUESTS)  # whole cycles, so both runs replay the same mix
    out = directory / f"{variant.name}.memray"
    driver = Driver(variant.app, default_scopes(cookie=apps.request_cookie()))  # type: ignore[arg-type]
    span = Lifespan(variant.app)  # type: ignore[arg-type]
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(span.startup())
        loop.run_until_complete(driver.batch(warmup))
        with memray.Tracker(out, trace_python_allocators=True, native_traces=False):
            loop.run_until_complete(driver.batch(requests))
        observer = _observer_allocations(loop, driver, requests)
        loop.run_until_complete(span.shutdown())
    finally:
        loop.close()
        variant.close()

    reader = memray.FileReader(out)
    main = reader.metadata.main_thread_id
    seen: Counter[tuple[str, Frame]] = Counter()
    writer_allocs = 0
    for record in reader.get_allocation_records():
        if record.allocator not in py_allocators:
            continue
        if record.tid != main:
            writer_allocs += record.n_allocations
            continue
        stack = record.stack_trace()
        seen[(_owner(stack), stack[0] if stack else ("?", "?", 0))] += record.n_allocations
    out.unlink()
    real = seen - observer
    hot = Counter({key[1]: c for key, c in real.items() if key[0] == "beaconguard"})
    return {
        "memray_beaconguard_allocs": sum(hot.values()) / requests,
        "writer_thread_allocs": writer_allocs / requests,
        "sites": {_site(f): round(c / requests, 2) for f, c in hot.most_common(15)},
    }


def _rss_kib() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def _churn_scopes(warmup: int) -> Callable[[int], dict[str, Any]]:
    """A request factory whose client never repeats, nor (every 100th) its UA and path.

    During warm-up every request has a new user agent too, so the UA cache reaches its
    bound before the first measurement and later growth would be a leak, not a cache.
    """
    cookie = apps.request_cookie()
    bases = [make_scope(path, query, ua, cookie=cookie) for path, query, ua, _ in REQUESTS]

    def scope_for(i: int) -> dict[str, Any]:
        if i < warmup or i % 100 == 0:
            scope = make_scope(
                f"/files/{i:08x}-report.pdf",
                b"",
                f"Mozilla/5.0 (X11; Linux) Bench/{i}.0",
                cookie=cookie,
            )
        else:
            scope = bases[i & 3].copy()
        scope["client"] = (f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}", 40000 + (i & 8191))
        scope["state"] = {}
        return scope

    return scope_for


def _quiet_point(variant: apps.Variant) -> tuple[int, int]:
    # Whatever a part holds until its next flush (log records, up to a second of pending
    # counters and visitor hashes) is written first: held batches are not retained memory,
    # and leaving them in made the figure swing by thousands of blocks between checkpoints.
    guard = variant.guard
    if guard is not None:
        if guard.access_log is not None:
            guard.access_log.flush()
        if guard.stats is not None:
            guard.stats.flush()
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
    # The unmatched /files/... requests are 404s: logged, but not page views.
    not_found = sum(1 for i in range(sent) if i < warmup or i % 100 == 0)
    problem = variant.verify(sent, pageviews=sent - not_found)
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
        try:
            counter: ModuleType | None = alloccount.build(BUILD_DIR)
            counter_missing = ""
        except Exception as exc:  # no compiler: say so, keep the other figures
            counter, counter_missing = None, str(exc)
        exact: dict[str, tuple[float, float]] = {}
        for name in TRACED:
            variant = apps.build(name, base / f"count-{name}")
            label = f"{variant.label}: allocations/request"
            if variant.app is None:
                group.rows.append(Row.missing(f"{name}.allocs", label, "allocs", variant.missing))
                continue
            if counter is None:
                group.rows.append(
                    Row.missing(f"{name}.allocs", label, "allocs", counter_missing, UNAVAILABLE)
                )
                continue
            allocs, size = count_exact(variant, config.alloc_requests, config.warmup, counter)
            exact[name] = (allocs, size)
            group.rows.append(
                Row(
                    f"{name}.allocs",
                    label,
                    "allocs",
                    value=allocs,
                    extra={"bytes_per_request": size},
                )
            )
        for name in TRACED[1:]:
            title = f"{name.replace('_', ' ')}: allocations/request added by beaconguard"
            goal = f"≤ {MAX_HOT_ALLOCATIONS}"
            variant = apps.build(name, base / f"sites-{name}")
            label = f"{variant.label}: added vs bare"
            if name not in exact or "bare" not in exact:
                reason = variant.missing or counter_missing
                group.rows.append(Row.missing(f"{name}.added", label, "allocs", reason))
                if name in TARGETED:
                    group.targets.append(Target(title, goal, status=NOT_AVAILABLE, note=reason))
                variant.close()
                continue
            added = exact[name][0] - exact["bare"][0]
            row = Row(
                f"{name}.added",
                label,
                "allocs",
                value=added,
                extra={"bytes_per_request": exact[name][1] - exact["bare"][1]},
            )
            if name not in TARGETED:
                variant.close()
            elif memray_missing:
                row.note = memray_missing
                variant.close()
            else:
                row.extra.update(memray_sites(variant, config.alloc_requests, config.warmup, base))
            group.rows.append(row)
            if name in TARGETED:
                group.targets.append(Target.check(title, goal, added, MAX_HOT_ALLOCATIONS))

        # One long run, on the full stack when it exists (it includes the access log),
        # else on the access log: two million-request runs would not fit the time budget.
        for name in RETAINED:
            variant = apps.build(name, base / f"retain-{name}")
            label = f"{variant.label}: blocks retained after {config.retain_requests:,} req"
            title = f"{name.replace('_', ' ')}: retained growth"
            goal = f"≤ {GROWTH_TOLERANCE_BLOCKS} blocks"
            if variant.app is None:
                group.rows.append(Row.missing(f"{name}.retained", label, "blocks", variant.missing))
                group.targets.append(
                    Target(title, goal, status=NOT_AVAILABLE, note=variant.missing)
                )
                continue
            figures = retained(variant, config.retain_requests, config.retain_warmup)
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
            break
    group.notes.append(
        f"Allocations: requests to Python's MEM/OBJ allocators on the event-loop thread, "
        f"counted by a C hook (benchmarks/alloccount.c, no profiler attached) over "
        f"{config.alloc_requests} requests after {config.warmup} warm-up. 'sites' (JSON) "
        "are memray's file:line attribution of beaconguard's share, its profiler artefacts "
        "(bound methods, unpack iterators) subtracted; frame objects it materializes remain."
    )
    group.notes.append(
        "Retained: sys.getallocatedblocks() after gc.collect() and a writer flush, end of "
        "warm-up vs end of run; new client address every request, new UA and path every 100th."
    )
    return group
