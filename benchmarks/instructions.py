"""``python -m benchmarks.instructions [VARIANT ...]``: CPU instructions per request.

Timings on a shared two-core machine wander by tens of percent from run to run; the number
of instructions a request executes does not. Each variant of the in-process scenario runs
twice under ``valgrind --tool=callgrind`` (all threads counted, the log writer's too), with
the same warm-up and a different number of measured requests; the difference divided by the
difference in requests is the per-request cost, with interpreter start-up and warm-up
cancelled out. The log writer and the statistics flush at shutdown only: flushing on a timer
would make the count depend on how slowly valgrind ran. Slow (about half a minute per
variant), so it is a tool for comparing changes, not part of ``make bench``. Needs valgrind
(``apt install valgrind``).

``floor`` is the cheapest possible pass-through middleware that wraps ``send``: what any
ASGI middleware costs before it does anything.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from benchmarks import apps
from benchmarks.asgi import Driver, Lifespan, default_scopes

VARIANTS = ("bare", "floor", "access_log", "consent", "stats", "full")
WARMUP = 500
LOW, HIGH = 200, 1700
_COLLECTED = re.compile(rb"Collected : (\d+)")


def _floor(app: ASGIApp) -> ASGIApp:
    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return

        async def send_wrapper(message: Message) -> None:
            await send(message)

        await app(scope, receive, send_wrapper)

    return middleware


async def _serve(name: str, requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bg-instr-") as tmp:
        if name == "floor":
            app: ASGIApp | None = _floor(apps.site())
        else:
            app = apps.build(name, Path(tmp) / name, timed_flushes=False).app
        assert app is not None, name
        driver = Driver(app, default_scopes(cookie=apps.request_cookie()))
        span = Lifespan(app)
        await span.startup()
        await driver.batch(WARMUP)
        await driver.batch(requests)
        await span.shutdown()


def count(name: str, requests: int) -> int:
    """Instructions of one whole child run serving ``requests`` after the warm-up."""
    with tempfile.TemporaryDirectory(prefix="bg-cg-") as tmp:
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out",
             sys.executable, "-m", "benchmarks.instructions", "--child", name, str(requests)],
            capture_output=True,
            # Fixed hashing: dict probe sequences, hence instruction counts, repeat exactly.
            env={**os.environ, "PYTHONHASHSEED": "0"},
            check=True,
        )
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no callgrind total for {name}: {done.stderr[-300:]!r}")
    return int(found.group(1))


def per_request(name: str) -> float:
    return (count(name, HIGH) - count(name, LOW)) / (HIGH - LOW)


def main(argv: list[str]) -> int:
    if argv[:1] == ["--child"]:
        asyncio.run(_serve(argv[1], int(argv[2])))
        return 0
    names = argv or list(VARIANTS)
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        print(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}",
              file=sys.stderr)
        return 2
    if shutil.which("valgrind") is None:
        print("valgrind is not installed (apt install valgrind)", file=sys.stderr)
        return 1
    bare = per_request("bare")
    print(f"{'variant':<12} {'instructions/request':>21} {'vs bare':>8}")
    for name in names:
        value = bare if name == "bare" else per_request(name)
        print(f"{name:<12} {value:>21,.0f} {value / bare:>7.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
