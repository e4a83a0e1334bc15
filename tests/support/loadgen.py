"""A small keep-alive HTTP/1.1 load generator on asyncio streams, for multi-process tests.

httpx costs 2-7 ms of client CPU per request on a busy 2-core machine, which made 20k
requests take minutes; this sends the same requests with a fixed number of connections
(bounded concurrency) for a fraction of that. GET only, ``Content-Length`` answers only
(what Starlette sends), which is all the tests need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit


async def _one_connection(
    host: str, port: int, jobs: list[int], make: Callable[[int], tuple[str, Mapping[str, str]]],
    statuses: list[int],
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while jobs:
            path, headers = make(jobs.pop())
            lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
            lines += [f"{k}: {v}" for k, v in headers.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            statuses.append(status)
    finally:
        writer.close()
        await writer.wait_closed()


async def _run(
    base: str, count: int, make: Callable[[int], tuple[str, Mapping[str, str]]],
    connections: int,
) -> list[int]:
    url = urlsplit(base)
    jobs = list(range(count - 1, -1, -1))
    statuses: list[int] = []
    await asyncio.gather(*(
        _one_connection(url.hostname or "127.0.0.1", url.port or 80, jobs, make, statuses)
        for _ in range(connections)
    ))
    return statuses


def send_requests(
    base: str,
    count: int,
    make: Callable[[int], tuple[str, Mapping[str, str]]],
    connections: int = 32,
) -> list[int]:
    """Send ``count`` GETs (``make(i) -> (path, headers)``), ``connections`` at a time."""
    return asyncio.run(_run(base, count, make, connections))
