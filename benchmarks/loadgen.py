"""Bounded loopback load: ``wrk`` when installed, else a small asyncio HTTP/1.1 client.

Both keep ``connections`` keep-alive connections busy for ``seconds`` and report requests
per second and latency percentiles. The fallback is itself Python on the same two cores,
so its figures are lower than wrk's and are labelled with the generator that made them.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA = Path(__file__).resolve().parent / "load.lua"
PATHS = ("/", "/products/2", "/blog/privacy-by-default", "/search?q=walnut&utm_source=newsletter")
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def generator() -> str:
    return "wrk" if shutil.which("wrk") else "python-asyncio"


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def run_wrk(base: str, seconds: float, connections: int) -> dict[str, Any]:
    wrk = shutil.which("wrk")
    assert wrk is not None
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "-s",
        str(LUA),
        base + "/",
    ]
    out = subprocess.run(
        cmd, capture_output=True, text=True, timeout=seconds + 60, check=True
    ).stdout
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    total = re.search(r"(\d+) requests in", out)
    if not (rps and p50 and p99 and total):
        raise RuntimeError(f"could not read wrk output:\n{out}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": float(rps.group(1)),
        "p50_ms": _ms(p50.group(1)),
        "p99_ms": _ms(p99.group(1)),
        "requests": int(total.group(1)),
        "non_2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


async def _client(
    host: str, port: int, stop: float, latencies: list[float], status: list[int]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    requests = [
        (
            f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: {UA}\r\n"
            "Accept: text/html\r\nReferer: https://news.example.org/item?id=31337\r\n\r\n"
        ).encode()
        for p in PATHS
    ]
    i = 0
    try:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            head = await reader.readuntil(b"\r\n\r\n")
            code = int(head.split(b" ", 2)[1])
            m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
            if m is None:
                raise RuntimeError("response without content-length")
            await reader.readexactly(int(m.group(1)))
            latencies.append(time.perf_counter() - t0)
            status.append(code)
    finally:
        writer.close()
        await writer.wait_closed()


def run_python(base: str, seconds: float, connections: int) -> dict[str, Any]:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    status: list[int] = []

    async def main() -> float:
        t0 = time.perf_counter()
        stop = t0 + seconds
        await asyncio.gather(
            *(_client(host, port, stop, latencies, status) for _ in range(connections))
        )
        return time.perf_counter() - t0

    elapsed = asyncio.run(main())
    latencies.sort()
    n = len(latencies)
    if n == 0:
        raise RuntimeError("no request completed")
    return {
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000,
        "requests": n,
        "non_2xx": sum(1 for s in status if not 200 <= s < 400),
        "socket_errors": "",
    }


def load(base: str, seconds: float, connections: int) -> dict[str, Any]:
    if shutil.which("wrk"):
        return run_wrk(base, seconds, connections)
    return run_python(base, seconds, connections)
