"""Driving the compiled observer and the Python path side by side (tests/accesslog/
test_replay.py, tests/stats/test_replay_counts.py): the same requests, the same clocks,
and what each path wrote, sent and counted."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Mount, Route, Router

from beaconguard import BeaconGuard, Settings
from beaconguard.stats.days import day_number
from tests.conftest import SECRET

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
BOT = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"


class Plan:
    """What the app does for one request."""

    def __init__(
        self,
        status: Any = 200,
        chunks: tuple[int, ...] = (5,),
        fail: str = "",
        ctype: bytes = b"text/html",
    ) -> None:
        self.status = status
        self.chunks = chunks
        self.fail = fail  # "", "before" (no response), "after" (started, then raises)
        self.ctype = ctype


class Endpoint:
    """A raw ASGI endpoint (a class, so Starlette's Route does not wrap it as a view)."""

    def __init__(self, plans: Iterator[Plan]) -> None:
        self.plans = plans

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        plan = next(self.plans)
        if plan.fail == "before":
            raise RuntimeError("boom")
        await send(
            {
                "type": "http.response.start",
                "status": plan.status,
                "headers": [(b"content-type", plan.ctype)],
            }
        )
        if plan.fail == "after":
            raise RuntimeError("boom")
        for i, size in enumerate(plan.chunks):
            more = i < len(plan.chunks) - 1
            await send({"type": "http.response.body", "body": b"x" * size, "more_body": more})


def make_app(plans: Iterator[Plan]) -> Any:
    endpoint = Endpoint(plans)
    inner = Router(routes=[Route("/items/{item_id}", endpoint)])
    return Router(
        routes=[
            Route("/products/{id}", endpoint),
            Route("/", endpoint),
            Mount("/shop/{shop_id}", app=inner),
        ],
        default=endpoint,
    )


def scope_of(req: dict[str, Any]) -> dict[str, Any]:
    headers: list[tuple[bytes, bytes]] = []
    for name, value in req["headers"]:
        headers.append((name, value))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": req["method"],
        "scheme": "http",
        "path": req["root_path"] + req["path"],
        "raw_path": (req["root_path"] + req["path"]).encode("utf-8", "replace"),
        "root_path": req["root_path"],
        "query_string": req["query"],
        "headers": headers,
        "server": ("127.0.0.1", 8000),
    }
    if req["client"] is not _ABSENT:
        scope["client"] = req["client"]
    return scope


_ABSENT = object()  # a scope without "client"


class FakeClocks:
    """``time.time`` and ``time.perf_counter`` for both paths: the same values, in order."""

    def __init__(self, durations: list[float]) -> None:
        self.now = 1_790_000_000.25
        self.durations = durations
        self.calls = 0

    def time(self) -> float:
        return self.now

    def perf_counter(self) -> float:
        # Two reads per request, the start and the end.
        request, end = divmod(self.calls, 2)
        self.calls += 1
        if not end:
            return 1000.0
        return 1000.0 + self.durations[request % len(self.durations)] / 1000.0


#: The statistics' visitor key for the fake clock's day, the same for both paths.
DAY_KEY = b"k" * 32


@dataclass
class Outcome:
    """What one path wrote, sent and counted."""

    log: bytes = b""
    sent: list[list[dict[str, Any]]] = field(default_factory=list)
    pending: dict[Any, Any] = field(default_factory=dict)
    unkeyed: dict[Any, Any] = field(default_factory=dict)
    bots: dict[Any, Any] = field(default_factory=dict)
    compiled: bool = False


def run(
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    requests: list[dict[str, Any]],
    plans: list[Plan],
    durations: list[float],
    speedups: bool,
    extra: dict[str, Any],
) -> Outcome:
    log = tmp / ("fast.log" if speedups else "slow.log")
    log.unlink(missing_ok=True)
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "store": "memory://",
        "access_log": str(log),
        "stats": False,
        "consent": False,
        "speedups": speedups,
        "flush_interval": 3600.0,  # the counters are read before any flush
    }
    values.update(extra)
    day_key = values.pop("day_key", DAY_KEY)
    guard = BeaconGuard(make_app(iter(plans)), settings=Settings(**values))
    out = Outcome(compiled=guard._fast_log is not None)
    clocks = FakeClocks(durations)
    if guard.stats is not None:
        guard.stats._keys.clear()
        if day_key is not None:
            guard.stats._keys[day_number(clocks.now)] = day_key
    with monkeypatch.context() as patch:
        patch.setattr("time.time", clocks.time)
        patch.setattr("time.perf_counter", clocks.perf_counter)

        async def drive() -> None:
            for req in requests:

                async def receive() -> dict[str, Any]:
                    return {"type": "http.request", "body": b"", "more_body": False}

                sent: list[dict[str, Any]] = []
                out.sent.append(sent)

                async def send(message: dict[str, Any], sent: list[Any] = sent) -> None:
                    sent.append(message)

                with contextlib.suppress(RuntimeError):  # the app's own failures
                    await guard(scope_of(req), receive, send)

        asyncio.run(drive())
    if guard.stats is not None:
        out.pending = dict(guard.stats._pending)
        out.unkeyed = dict(guard.stats._unkeyed)
        out.bots = dict(guard.stats._batch.bots)
    guard.close()
    out.log = log.read_bytes() if log.exists() else b""
    return out


def both(
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    requests: list[dict[str, Any]],
    plans: list[Plan],
    durations: list[float] | None = None,
    **extra: Any,
) -> Outcome:
    """Both paths over the same requests; everything they wrote, sent and counted equal."""
    durations = durations or [0.1234]
    fast = run(tmp, monkeypatch, requests, plans, durations, True, extra)
    assert fast.compiled, "the compiled path was not used"
    slow = run(tmp, monkeypatch, requests, plans, durations, False, extra)
    assert not slow.compiled
    if extra.get("access_log", "") is not None:
        assert fast.log.count(b"\n") == len(requests)
    assert fast.log.decode() == slow.log.decode()
    assert fast.sent == slow.sent
    assert fast.pending == slow.pending
    assert fast.unkeyed == slow.unkeyed
    assert fast.bots == slow.bots
    return fast


def request(**over: Any) -> dict[str, Any]:
    req: dict[str, Any] = {
        "method": "GET",
        "path": "/products/17",
        "root_path": "",
        "query": b"",
        "headers": [(b"host", b"shop.example.com"), (b"user-agent", CHROME.encode())],
        "client": ("203.0.113.77", 5000),
    }
    req.update(over)
    return req
