"""Scenario 1: in-process µs per request, the ASGI callable driven directly.

Every variant serves the same app from the same event loop, each with its lifespan running
(so BeaconGuard's writer thread runs as in production). The rounds are interleaved, the
starting variant rotating each round, and each figure is the median over rounds; ratios and
added costs are medians of per-round pairs with the bare app measured in the same round.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from benchmarks import apps
from benchmarks.asgi import Driver, Lifespan, default_scopes
from benchmarks.config import Config
from benchmarks.model import NOT_AVAILABLE, Group, Row, Target, median, paired

NAME = "inprocess"
TITLE = "In-process ASGI, µs per request (lower is better)"

VARIANTS = ("bare", "access_log", "consent", "stats", "full", "asgi_logger", "uvicorn_access")
UNIT = "µs/req"


async def measure(
    variants: dict[str, apps.Variant], config: Config
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Interleaved rounds over the live variants: per-round µs/request of each, and for
    each candidate the bare batch run right beside it (its pair).

    Each candidate batch is paired with a bare batch run immediately before or after it
    (alternating): this VM's speed jumps by half from one second to the next, so a bare
    batch taken a whole round earlier is no baseline for a difference of a few µs.
    """
    live = {name: v for name, v in variants.items() if v.app is not None}
    cookie = apps.request_cookie()
    drivers = {name: Driver(v.app, default_scopes(cookie=cookie)) for name, v in live.items()}  # type: ignore[arg-type]
    spans = {name: Lifespan(v.app) for name, v in live.items()}  # type: ignore[arg-type]
    for span in spans.values():
        await span.startup()
    try:
        for name, driver in drivers.items():
            for status, size, headers in await driver.check():
                if status != 200 or size == 0:
                    raise RuntimeError(f"{name}: answered {status} with {size} bytes")
                problem = live[name].check_response(headers)
                if problem:
                    raise RuntimeError(problem)
            await driver.batch(config.warmup)
        samples: dict[str, list[float]] = {name: [] for name in drivers}
        beside: dict[str, list[float]] = {name: [] for name in drivers if name != "bare"}
        order = list(beside)
        bare = drivers["bare"]
        for r in range(config.rounds):
            k = r % len(order)
            for i, name in enumerate(order[k:] + order[:k]):
                if (r + i) % 2:
                    base = await bare.batch(config.batch)
                    samples[name].append(await drivers[name].batch(config.batch))
                else:
                    samples[name].append(await drivers[name].batch(config.batch))
                    base = await bare.batch(config.batch)
                beside[name].append(base)
                samples["bare"].append(base)
    finally:
        for span in spans.values():
            await span.shutdown()
        for v in live.values():
            v.close()
    problems = [p for name in live if (p := live[name].verify(drivers[name].sent))]
    if problems:
        raise RuntimeError("; ".join(problems))
    return samples, beside


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    with tempfile.TemporaryDirectory(prefix="bg-bench-") as tmp:
        variants = {name: apps.build(name, Path(tmp) / name) for name in VARIANTS}
        samples, beside = asyncio.run(measure(variants, config))

    added: dict[str, float] = {}
    ratio: dict[str, float] = {}
    for name, v in variants.items():
        if name not in samples:
            group.rows.append(Row.missing(name, v.label, UNIT, v.missing))
            continue
        row = Row.from_samples(name, v.label, UNIT, samples[name])
        if name != "bare":
            ratios, diffs = paired(samples[name], beside[name])
            ratio[name] = median(ratios)
            added[name] = median(diffs)
            row.extra = {"ratio_vs_bare": ratio[name], "added_us": added[name]}
        group.rows.append(row)

    def missing(name: str, goal: str, needs: tuple[str, ...]) -> Target:
        reason = "; ".join(variants[n].missing for n in needs if variants[n].missing)
        return Target(name, goal, status=NOT_AVAILABLE, note=reason)

    group.targets.append(
        Target.check("access log vs bare", "≤ 1.25x", ratio["access_log"], 1.25, "x")
    )
    if "full" in ratio:
        group.targets.append(
            Target.check("full stack vs bare", "≤ 1.25x", ratio["full"], 1.25, "x")
        )
    else:
        group.targets.append(missing("full stack vs bare", "≤ 1.25x", ("full",)))
    peer = added.get("asgi_logger")
    for name, label in (("access_log", "access log"), ("full", "full stack")):
        title = f"{label} added cost / asgi-logger's"
        if name in added and peer:
            group.targets.append(Target.check(title, "≤ 0.10", added[name] / peer, 0.10))
        else:
            group.targets.append(missing(title, "≤ 0.10", (name, "asgi_logger")))
    if "consent" in added:
        group.targets.append(
            Target.check("consent gate added", "≤ 3 µs", added["consent"], 3.0, "µs")
        )
    else:
        group.targets.append(missing("consent gate added", "≤ 3 µs", ("consent",)))
    group.notes.append(
        f"{config.rounds} interleaved rounds of {config.batch} requests per variant after "
        f"{config.warmup} warm-up, each candidate batch beside its own bare batch (ratios "
        "and added µs are medians of those pairs); 4 request shapes cycled (templated "
        "route, query, 4 UAs, IPv4/IPv6 clients); each response sets 3 cookies."
    )
    return group
