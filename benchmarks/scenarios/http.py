"""Scenario 3: HTTP end to end, uvicorn serving the demo with and without BeaconGuard.

Both servers run at once (one uvicorn worker each, uvicorn's own access log off, as the
demo recommends) and are loaded in alternating rounds by one load generator on loopback,
so both see the same machine. "With" is ``demo_site.app:app``: the demo exactly as
``make demo`` configures it from ``BEACONGUARD_*`` (whatever parts main has: access log to
a file, and consent and statistics once they exist); "without" is ``demo_site.app:site``,
the same Starlette app unwrapped.
"""

from __future__ import annotations

import contextlib
import tempfile
import urllib.request
from pathlib import Path

from benchmarks import loadgen
from benchmarks.apps import SECRET, count_lines
from benchmarks.config import Config
from benchmarks.model import Group, Row, median
from benchmarks.server import uvicorn

NAME = "http"
TITLE = "HTTP end to end: uvicorn + demo on loopback"

SERVERS = (
    ("bare", "demo, bare Starlette", "demo_site.app:site"),
    ("beaconguard", "demo + BeaconGuard (demo settings)", "demo_site.app:app"),
)


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    gen = loadgen.generator()
    samples: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in SERVERS}
    with tempfile.TemporaryDirectory(prefix="bg-bench-") as tmp, contextlib.ExitStack() as stack:
        var = Path(tmp)
        env = {
            "BEACONGUARD_DEMO_VAR": str(var),
            "BEACONGUARD_SECRET_KEY": SECRET,
            "BEACONGUARD_ACCESS_LOG": str(var / "access.log"),
            "BEACONGUARD_STORE": f"sqlite:///{var / 'stats.db'}",
        }
        bases = {name: stack.enter_context(uvicorn(app, env, var)) for name, _, app in SERVERS}
        for base in bases.values():  # warm-up: imports, caches, first connections
            for path in loadgen.PATHS:
                with urllib.request.urlopen(base + path, timeout=10) as resp:
                    resp.read()
            loadgen.load(base, min(1.0, config.http_seconds), config.connections)
        for r in range(config.http_rounds):
            order = list(bases) if r % 2 == 0 else list(reversed(bases))
            for name in order:
                samples[name].append(
                    loadgen.load(bases[name], config.http_seconds, config.connections)
                )
        stack.close()  # graceful stop: the log is flushed on lifespan shutdown
        logged = count_lines(var / "access.log") if (var / "access.log").exists() else 0

    for name, label, app in SERVERS:
        runs = samples[name]
        bad = sum(int(s["non_2xx"]) for s in runs)
        if bad:
            raise RuntimeError(f"{name}: {bad} non-2xx answers under load")
        rps = Row.from_samples(
            f"{name}.rps", f"{label}: requests/s", "req/s", [s["rps"] for s in runs]
        )
        rps.extra = {
            "p50_ms": median([s["p50_ms"] for s in runs]),
            "p99_ms": median([s["p99_ms"] for s in runs]),
            "app": app,
        }
        group.rows.append(rps)
    served = sum(int(s["requests"]) for s in samples["beaconguard"])
    if logged < served:
        raise RuntimeError(f"BeaconGuard logged {logged} lines for {served} requests")
    bare, guard = group.rows[0], group.rows[1]
    if bare.value and guard.value:
        guard.extra["throughput_vs_bare"] = guard.value / bare.value
    group.notes.append(
        f"load: {gen}, {config.connections} keep-alive connections, {config.http_rounds} "
        f"alternating rounds of {config.http_seconds:g}s per server; uvicorn 1 worker, "
        "--no-access-log; both servers and the load generator share the machine's 2 cores."
    )
    return group
