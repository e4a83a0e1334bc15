"""Adversarial tests of the compiled access-log path (``_logreplay.c``, ``replay.py``).

The differential tests run each request through the compiled path and through the Python
path (``Settings(speedups=False)``) with the same clocks, and require the same log bytes
and the same exceptions. The others poke the C types directly: misuse, fills that raise or
change what the C code holds, re-entrancy, garbage collection, and what the caches keep.

Tests named ``test_bug_*`` fail on the code under review (commit 59d5612); the review
report explains each one.
"""

from __future__ import annotations

import asyncio
import copy
import enum
import gc
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from http import HTTPStatus
from pathlib import Path
from types import MappingProxyType
from typing import Any

import orjson
import pytest
from starlette.routing import Mount, Route, Router

from beaconguard import BeaconGuard, Settings
from beaconguard.accesslog.replay import MAX_KEY, LogColumns, content_type_of
from beaconguard.client import make_client_resolver
from beaconguard.stats.part import SERVER_TIMING
from tests.conftest import SECRET
from tests.support.geoip import build_country_mmdb

speedups = pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

REPO = Path(__file__).resolve().parents[2]
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
ABSENT: Any = object()
DAY = 86_400.0
#: A UTC midnight (2026-09-22T00:00:00Z).
MIDNIGHT = 1_790_035_200.0

Message = dict[str, Any]
Send = Callable[[Any], Awaitable[None]]
Behaviour = Callable[[dict[str, Any], Any, Send], Awaitable[None]]


def settings_of(**values: Any) -> Settings:
    """Settings from keywords (``secret_key`` as one string, as users write it)."""
    return Settings(**{"secret_key": SECRET, "store": "memory://", **values})


def asgi(app: Any) -> Any:
    """An app as BeaconGuard and Starlette's types take it."""
    return app


# --- the differential harness ------------------------------------------------------------


class Script:
    """The app: request ``i`` runs behaviour ``i``."""

    def __init__(self, behaviours: list[Behaviour]) -> None:
        self.behaviours: Iterator[Behaviour] = iter(behaviours)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Send) -> None:
        await next(self.behaviours)(scope, receive, send)


def routed(script: Script) -> Any:
    inner = Router(routes=[Route("/items/{item_id}", script)])
    return Router(
        routes=[Route("/products/{id}", script), Mount("/shop/{shop_id}", app=inner)],
        default=asgi(script),
    )


class Clocks:
    """``time.time`` and ``time.perf_counter`` for both paths, by request."""

    def __init__(self, nows: list[float], durations: list[float]) -> None:
        self.nows = nows
        self.durations = durations
        self.i = 0
        self.reads = 0

    def begin(self, i: int) -> None:
        self.i = i
        self.reads = 0

    def time(self) -> float:
        return self.nows[self.i % len(self.nows)]

    def perf_counter(self) -> float:
        self.reads += 1
        if self.reads == 1:
            return 5000.0
        return 5000.0 + self.durations[self.i % len(self.durations)] / 1000.0


def ok(status: Any = 200, *chunks: Any) -> Behaviour:
    body = chunks or (b"hello",)

    async def behave(scope: dict[str, Any], receive: Any, send: Send) -> None:
        await send({"type": "http.response.start", "status": status, "headers": []})
        for i, chunk in enumerate(body):
            await send(
                {"type": "http.response.body", "body": chunk, "more_body": i + 1 < len(body)}
            )

    return behave


def sends(*messages: Any, then: BaseException | None = None) -> Behaviour:
    async def behave(scope: dict[str, Any], receive: Any, send: Send) -> None:
        for message in messages:
            await send(message)
        if then is not None:
            raise then

    return behave


def scope(**over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/products/17",
        "raw_path": b"/products/17",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"shop.example.com"), (b"user-agent", CHROME.encode())],
        "client": ("203.0.113.77", 5000),
        "server": ("127.0.0.1", 8000),
    }
    out.update(over)
    return {k: v for k, v in out.items() if v is not ABSENT}


def run(
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    cases: list[tuple[dict[str, Any], Behaviour]],
    *,
    fast: bool,
    nows: list[float],
    durations: list[float],
    router: bool,
    extra: dict[str, Any],
) -> tuple[bytes, list[str | None], BeaconGuard]:
    log = tmp / ("fast.log" if fast else "slow.log")
    log.unlink(missing_ok=True)
    values: dict[str, Any] = {
        "secret_key": SECRET,
        "store": "memory://",
        "access_log": str(log),
        "stats": False,
        "consent": False,
        "speedups": fast,
    }
    values.update(extra)
    script = Script([behaviour for _, behaviour in cases])
    guard = BeaconGuard(asgi(routed(script) if router else script), settings=Settings(**values))
    clocks = Clocks(nows, durations)
    errors: list[str | None] = []
    with monkeypatch.context() as patch:
        patch.setattr("time.time", clocks.time)
        patch.setattr("time.perf_counter", clocks.perf_counter)

        async def drive() -> None:
            for i, (request, _) in enumerate(cases):
                clocks.begin(i)

                async def receive() -> Message:
                    return {"type": "http.request", "body": b"", "more_body": False}

                async def send(message: Any) -> None:
                    return None

                try:
                    await guard(copy.deepcopy(request), receive, send)
                except BaseException as exc:  # the app's and the middleware's alike
                    errors.append(type(exc).__name__)
                else:
                    errors.append(None)

        asyncio.run(drive())
    guard.close()
    return log.read_bytes(), errors, guard


def both(
    tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    cases: list[tuple[dict[str, Any], Behaviour]],
    *,
    nows: list[float] | None = None,
    durations: list[float] | None = None,
    router: bool = False,
    lines: int | None = None,
    **extra: Any,
) -> bytes:
    """Both paths: the same log bytes and the same exceptions; the compiled log's bytes."""
    nows = nows or [1_790_000_000.25]
    durations = durations or [0.1234]
    options = {"nows": nows, "durations": durations, "router": router, "extra": extra}
    fast, fast_errors, guard = run(tmp, monkeypatch, cases, fast=True, **options)  # type: ignore[arg-type]
    assert guard._fast_log is not None, "the compiled log path was not used"
    slow, slow_errors, other = run(tmp, monkeypatch, cases, fast=False, **options)  # type: ignore[arg-type]
    assert other._fast_log is None
    assert fast_errors == slow_errors
    assert fast.decode() == slow.decode()
    assert fast.count(b"\n") == (len(cases) if lines is None else lines)
    return fast


def records(log: bytes) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in log.splitlines()]


# --- status ------------------------------------------------------------------------------


class Zero(enum.IntEnum):
    ZERO = 0


def test_status_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    statuses: list[Any] = [
        True,
        HTTPStatus.CREATED,
        Zero.ZERO,
        2**63 - 1,
        2**63,  # past a C long: the Python path logs it
        2**64 - 1,
        -(2**63),  # LONG_MIN: the C path prints it itself
        -1,
        0,
        599,
        "200",
        1.5,
    ]
    cases = [(scope(), ok(status)) for status in statuses]
    out = records(both(tmp_path, monkeypatch, cases))
    assert [r["status"] for r in out][3:7] == [2**63 - 1, 2**63, 2**64 - 1, -(2**63)]


@pytest.mark.parametrize(
    "status", [False, 0.0, Zero.ZERO], ids=["False", "float-zero", "IntEnum-zero"]
)
def test_bug_failed_after_a_falsy_odd_status_is_logged_as_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: Any
) -> None:
    # The Python path: ``if observed.status == 0: observed.status = 500``; LogSend_failed
    # only looks at a plain int status, so False / 0.0 / an IntEnum 0 stay as they are.
    start = {"type": "http.response.start", "status": status, "headers": []}
    out = both(tmp_path, monkeypatch, [(scope(), sends(start, then=RuntimeError("boom")))])
    assert records(out)[0]["status"] == 500


def test_status_changes_and_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = {"type": "http.response.start", "headers": []}
    body = {"type": "http.response.body", "body": b"abc"}
    cases = [
        (scope(), sends({**start, "status": 200}, {**start, "status": True}, body)),
        (scope(), sends({**start, "status": 2**70}, {**start, "status": 201}, body)),
        (scope(), sends(then=RuntimeError("before"))),
        (scope(), sends({**start, "status": 204}, then=RuntimeError("after"))),
        (scope(), sends({**start, "status": 200}, body, then=asyncio.CancelledError())),
        (scope(), sends(then=asyncio.CancelledError())),
        (scope(), sends({"type": "http.response.start", "headers": []})),  # no status: KeyError
        (scope(), sends()),  # no response at all, no error: status 0
    ]
    out = records(both(tmp_path, monkeypatch, cases))
    assert [r["status"] for r in out] == [True, 201, 500, 204, 200, 500, 500, 0]


# --- messages ----------------------------------------------------------------------------


class Text(str):
    pass


class Quiet(dict[str, Any]):
    """A dict subclass whose get() never reports a body."""

    def get(self, key: str, default: Any = None) -> Any:
        return b"" if key == "body" else super().get(key, default)


class Frozen(Mapping[str, Any]):
    def __init__(self, **values: Any) -> None:
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def test_message_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    start = {"type": "http.response.start", "status": 200, "headers": []}

    def body(chunk: Any) -> Message:
        return {"type": "http.response.body", "body": chunk}

    cases = [
        (scope(), sends({**start, "type": Text("http.response.start")}, body(b"abcd"))),
        (scope(), sends(start, {**body(b"xyz"), "type": Text("http.response.body")})),
        (scope(), sends(MappingProxyType(start), MappingProxyType(body(b"12345")))),
        (scope(), sends(Frozen(**start), Frozen(**body(b"123456")))),
        (scope(), sends(Quiet(start), Quiet(body(b"ignored")))),
        (scope(), sends(start, body(memoryview(b"abcdefg")))),
        (scope(), sends(start, body(memoryview(bytes(12)).cast("B", (3, 4))))),
        (scope(), sends(start, body(bytearray(b"ab")))),
        (scope(), sends(start, body("h\u00e9"))),
        (scope(), sends(start, {"type": "http.response.body"})),  # no body key
        (scope(), sends(start, body(None))),  # len(None): TypeError on both
        (scope(), sends(start, None)),  # not a message: TypeError on both
        (scope(), sends(start, {"body": b"x"})),  # no type: KeyError on both
        (scope(), sends(start, {"type": b"http.response.body", "body": b"x"})),  # bytes type
        (scope(), sends(start, {"type": "http.response.trailers", "body": b"x"})),
        (scope(method="HEAD"), sends(start, body(b"not sent for HEAD"))),
    ]
    both(tmp_path, monkeypatch, cases)


@pytest.mark.parametrize(
    "headers",
    [[(b"content-type", "text/html")], [(1, 2)], [(b"a", b"b", b"c")], "not a list"],
    ids=["str-value", "int-name", "three-tuple", "str"],
)
def test_bug_malformed_response_headers_log_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, headers: Any
) -> None:
    # The Python path's _ObservedSend reads the response's Content-Type (for statistics,
    # which are off here) and raises on a malformed header list: the app fails and its
    # body is never counted. The compiled path never reads them: the response goes out
    # and its bytes are logged. Not the same bytes, not the same exception.
    start = {"type": "http.response.start", "status": 200, "headers": headers}
    body = {"type": "http.response.body", "body": b"hello"}
    both(tmp_path, monkeypatch, [(scope(), sends(start, body))])


# --- scope shapes ------------------------------------------------------------------------


def test_scope_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Scope(dict[str, Any]):
        pass

    plain = ok(200, b"x" * 10)
    variants: list[dict[str, Any]] = [
        scope(client=["203.0.113.9", 1]),
        scope(client=()),
        scope(client=[]),
        scope(client=("203.0.113.9",)),
        scope(client=(None, 1)),
        scope(client=None),
        scope(client=ABSENT),
        scope(client=(Text("203.0.113.9"), 1)),
        scope(client=("x" * 600, 1)),
        scope(client=("2001:db8:85a3::8a2e:370:7334", 1)),
        scope(client=("::ffff:203.0.113.9", 1)),
        scope(client=("[2001:db8::1]", 1)),
        scope(root_path=None),
        scope(root_path=ABSENT),
        scope(root_path=Text("")),
        scope(root_path="/app", path="/app/products/17"),
        scope(query_string=bytearray(b"utm_source=x")),
        scope(query_string=ABSENT),
        scope(query_string=None),
        scope(query_string=b"utm_source=news&token=abc123secret&email=a@b.example"),
        scope(query_string=b"q=" + b"y" * 600),
        scope(query_string=b"%ff%fe=%00"),
        scope(method=Text("GET")),
        scope(method="head"),
        scope(method="HEAD"),
        scope(method="BREW"),
        scope(method="G" * 600),
        scope(method=""),
        scope(path="/users/alice@example.com/orders/123456"),
        scope(path="/x" * 400),
        scope(path="no-slash"),
        scope(path=""),
        scope(path=Text("/a/b")),
        scope(path="/caf\u00e9/\udce9"),
        Scope(scope()),
    ]
    # A bytearray or None query_string fails the request on both paths alike (the query
    # filter's cache hashes it): not the compiled path's doing.
    both(tmp_path, monkeypatch, [(v, plain) for v in variants], lines=len(variants) - 2)


def test_header_shapes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    host = (b"host", b"shop.example.com")
    agent = (b"user-agent", CHROME.encode())
    variants: list[Any] = [
        [(b"Host", b"shop.example.com"), agent],
        [host, host, agent],
        [host, agent, (b"user-agent", b"curl/8.5.0")],
        [host, (b"referer", b"https://a.example/"), (b"Referer", b"https://b.example/")],
        [host, (b"x-forwarded-for", b"198.51.100.1"), (b"x-forwarded-for", b"10.0.0.1")],
        [host, (b"forwarded", b"for=192.0.2.60"), (b"FORWARDED", b"for=192.0.2.61")],
        [(b"host", b"a.example"), (b"HOST", b"b.example")],
        [host, agent, (b"accept", b"a"), (b"accept", b"b")],  # a repeat the log does not read
        [host, agent, (b"Accept", b"text/html")],
        [host, agent, (b"accept", "text/html")],  # a str value the log does not read
        [[b"host", b"shop.example.com"], agent],  # a list, not a tuple
        (host, agent),  # a tuple of headers: the middleware makes a list
        [(b"host", b""), (b"user-agent", b"")],
        [(b"host", b"\xe9.example"), (b"user-agent", b"\xff\xfe")],
        [(b"host", b"SHOP.Example.COM:8443"), (b"user-agent", b"Mozilla/5.0 " * 60)],
        [host, (b"referer", b"https://shop.example.com/users/bob@example.com/cart?x=1")],
        [host, (b"referer", b"https://elsewhere.example/" + b"p" * 600)],
        [(b"host", b"h" * 600), (b"referer", b"https://shop.example.com/a")],
        [host, (b"referer", b"")],
        [host, (b"x-forwarded-for", b"198.51.100.1"), (b"forwarded", b"for=192.0.2.9")],
        [host, (b"cookie", b"session=topsecret"), (b"cookie", b"_ga=GA1.1.1.1")],
        [],
    ]
    both(tmp_path, monkeypatch, [(scope(headers=v), ok()) for v in variants])


def test_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Templated:
        path_format = "/not/a/route/{x}"

    endpoint = ok()
    odd_route = Route("/x", endpoint)
    odd_route.path_format = 17  # type: ignore[assignment]

    def setting_route(route: Any) -> Behaviour:
        async def behave(scope: dict[str, Any], receive: Any, send: Send) -> None:
            scope["route"] = route
            await endpoint(scope, receive, send)

        return behave

    cases = [
        (scope(path="/products/17"), endpoint),
        (scope(path="/products/18"), endpoint),
        (scope(path="/shop/3/items/9"), endpoint),
        (scope(root_path="/app", path="/app/shop/3/items/9"), endpoint),
        (
            scope(root_path="/app/u/alice@example.com", path="/app/u/alice@example.com/products/1"),
            endpoint,
        ),
        (scope(path="/unrouted/alice@example.com"), endpoint),
        (scope(path="/elsewhere"), setting_route(odd_route)),
        (scope(path="/elsewhere"), setting_route(Templated())),
        (scope(path="/elsewhere"), setting_route(Mount("/m/{id}", app=asgi(endpoint)))),
        (scope(path="/elsewhere"), setting_route(Route("/r/{id}", endpoint))),
        (scope(path="/elsewhere", root_path="/app"), setting_route(Route("/r/{id}", endpoint))),
        (scope(path="/elsewhere"), setting_route(None)),
    ]
    out = records(both(tmp_path, monkeypatch, cases, router=True))
    assert out[0]["path"] == "/products/{id}" and out[6]["path"] == 17


# --- clocks ------------------------------------------------------------------------------


def test_clocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nows = [
        1_790_000_000.999999,
        1_790_000_001.0,
        -5.5,
        -0.5,
        0.0,
        0.75,
        1e11,
        253_402_300_799.5,
        253_402_300_800.0,
        MIDNIGHT - 1e-7,
    ]
    durations = [0.1234, -0.004, -0.0, float("nan"), float("inf"), 1e-9, 0.005, 2e15, -5.0, 1e6]
    cases = [(scope(), ok()) for _ in nows]
    both(tmp_path, monkeypatch, cases, nows=nows, durations=durations)


# --- the client column: hash days, proxies, countries -------------------------------------


@pytest.mark.parametrize("consent", [False, True])
def test_hash_mode_across_midnight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, consent: bool
) -> None:
    nows = [MIDNIGHT - 0.5, MIDNIGHT + 0.5, MIDNIGHT - 0.25, MIDNIGHT + DAY + 3.0, MIDNIGHT + 1.0]
    cases = [(scope(), ok()) for _ in nows]
    out = records(both(tmp_path, monkeypatch, cases, nows=nows, ip_mode="hash", consent=consent))
    clients = [r["client"] for r in out]
    assert clients[0] == clients[2] and clients[1] == clients[4]
    assert len({clients[0], clients[1], clients[3]}) == 3, "a pseudonym outlived its day"


def test_trusted_proxies_same_peer_many_chains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    peer = ("10.1.2.3", 1)
    host = (b"host", b"shop.example.com")
    variants = [
        [host, (b"x-forwarded-for", b"198.51.100.9, 10.0.0.2")],
        [host, (b"x-forwarded-for", b"192.0.2.200")],
        [host, (b"forwarded", b'for="[2001:db8::7]:443";proto=https')],
        [host],
        [host, (b"x-forwarded-for", b"not an address")],
        [host, (b"x-forwarded-for", b"198.51.100.9")],
    ]
    cases = [(scope(client=peer, headers=v), ok()) for v in variants]
    cases.append((scope(client=("203.0.113.5", 1), headers=variants[0]), ok()))
    for mode in ("truncate", "hash"):
        out = records(
            both(tmp_path, monkeypatch, cases, trusted_proxies=("10.0.0.0/8",), ip_mode=mode)
        )
        clients = [r["client"] for r in out]
        assert len(set(clients[:3])) == 3 and clients[3] != clients[0], mode


def test_country_is_of_the_full_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = build_country_mmdb(tmp_path / "c.mmdb", {"203.0.113.0/25": "JP", "203.0.113.128/25": "KR"})
    peers = ["203.0.113.1", "203.0.113.200", "203.0.113.1", "203.0.113.201"]
    cases = [(scope(client=(p, 1)), ok()) for p in peers]
    out = records(both(tmp_path, monkeypatch, cases, geoip_db=str(db)))
    assert [r["country"] for r in out] == ["JP", "KR", "JP", "KR"]
    assert {r["client"] for r in out} == {"203.0.113.0"}


# --- handed back to the Python path -------------------------------------------------------


def rewriting_headers(new: list[tuple[bytes, bytes]]) -> Behaviour:
    """An app (an inner middleware) that rewrites the request headers in place, as
    starlette.datastructures.MutableHeaders(scope=scope) does."""

    async def behave(scope: dict[str, Any], receive: Any, send: Send) -> None:
        scope["headers"][:] = new
        await ok()(scope, receive, send)

    return behave


def test_bug_handed_back_request_logs_headers_as_read_before_the_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Host spelled "Host" sends the request to the Python path; _log_handed_back reads
    # scope["headers"] after the app ran, the Python path read them before.
    after = [(b"host", b"evil.example"), (b"referer", b"https://tracker.example/x")]
    cases = [
        (scope(headers=[(b"Host", b"shop.example.com")]), rewriting_headers(after)),
        (scope(headers=[(b"host", b"shop.example.com")]), rewriting_headers(after)),
    ]
    out = records(both(tmp_path, monkeypatch, cases))
    assert [r["host"] for r in out] == ["shop.example.com", "shop.example.com"]


def test_bug_handed_back_request_survives_the_app_dropping_headers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def drop_headers(scope: dict[str, Any], receive: Any, send: Send) -> None:
        del scope["headers"]
        await ok()(scope, receive, send)

    # The Python path logs the request; the compiled path raises KeyError in finish()
    # (after the response was sent) and writes nothing.
    both(tmp_path, monkeypatch, [(scope(headers=[(b"Host", b"shop.example.com")]), drop_headers)])


def test_app_mutating_scope_on_the_compiled_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def mutate(scope: dict[str, Any], receive: Any, send: Send) -> None:
        scope["headers"].clear()
        scope["client"] = ("198.51.100.250", 9)
        scope["path"] = "/users/carol@example.com"
        scope["query_string"] = b"token=0123456789abcdef0123"
        scope["method"] = "POST"
        await ok()(scope, receive, send)

    async def drop(scope: dict[str, Any], receive: Any, send: Send) -> None:
        for key in ("client", "query_string", "root_path", "headers"):
            del scope[key]
        await ok()(scope, receive, send)

    both(tmp_path, monkeypatch, [(scope(), mutate), (scope(), drop)])


# --- consumers ---------------------------------------------------------------------------


def test_bug_a_replaced_consumer_is_served(tmp_path: Path) -> None:
    settings = settings_of(access_log=str(tmp_path / "a.log"), stats=False)
    guard = BeaconGuard(asgi(ok()), settings=settings)
    seen: list[Any] = []
    # Not added, replaced: the list still has one consumer, and it is not the log.
    guard.consumers[0] = lambda visit, record: seen.append(record["path"])

    async def drive() -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        async def send(message: Any) -> None:
            return None

        await guard(scope(), receive, send)

    asyncio.run(drive())
    guard.close()
    assert seen == ["/products/{int}"]


# --- the writer: bytes lines and records in one deque ----------------------------------------


def test_bug_one_unserializable_record_loses_the_whole_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2**70 is not a C long: the request goes to the Python path, whose record orjson
    # cannot write. The writer then loses the batch: the compiled lines beside it too, and
    # counts none of them as dropped.
    cases = [(scope(), ok(200)), (scope(), ok(2**70)), (scope(), ok(200))]
    log, _, guard = run(
        tmp_path,
        monkeypatch,
        cases,
        fast=True,
        nows=[1_790_000_000.25],
        durations=[0.5],
        router=False,
        extra={"log_flush_interval": 60.0},
    )
    assert guard.access_log is not None
    assert log.count(b"\n") == 2
    assert guard.access_log.dropped == 1


def test_writer_thread_with_mixed_lines_and_records(tmp_path: Path) -> None:
    n = 3000
    log = tmp_path / "a.log"
    settings = settings_of(access_log=str(log), stats=False, log_flush_interval=0.0005)

    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        size = int(scope["path"].rsplit("/", 1)[1])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x" * size})

    guard = BeaconGuard(asgi(app), settings=settings)
    assert guard._fast_log is not None and guard.access_log is not None
    writer = guard.access_log
    stop = threading.Event()

    def hammer() -> None:  # a second thread flushing too (close() does, from any thread)
        while not stop.is_set():
            writer.flush()

    thread = threading.Thread(target=hammer)
    thread.start()
    try:

        async def drive() -> None:
            async def receive() -> Message:
                return {"type": "http.request", "body": b""}

            async def send(message: Any) -> None:
                return None

            for i in range(n):
                # every third request is handed back whole (a header name in another case)
                name = b"Host" if i % 3 == 0 else b"host"
                await guard(scope(path=f"/p/{i}", headers=[(name, b"a.example")]), receive, send)
                if i % 100 == 0:
                    await asyncio.sleep(0.001)

        asyncio.run(drive())
    finally:
        stop.set()
        thread.join()
    guard.close()
    out = records(log.read_bytes())
    assert [r["bytes"] for r in out] == list(range(n))
    assert writer.dropped == 0 and writer.written == n


# --- the C types, directly ---------------------------------------------------------------


def make_core(
    settings: Settings | None = None,
    *,
    wrap: Callable[[str, Callable[..., bytes]], Callable[..., bytes]] | None = None,
    resolver: Callable[[str | None, str | None, str | None], str | None] | None = None,
) -> tuple[Any, LogColumns, list[bytes], list[Any]]:
    """A LogCore on fresh LogColumns; ``wrap(name, fill)`` may replace each fill."""
    columns = LogColumns(settings or settings_of(), resolver or make_client_resolver(()))
    lines: list[bytes] = []
    slow: list[Any] = []
    fills = {
        name: getattr(columns, name)
        for name in (
            "fill_method",
            "fill_host",
            "fill_path",
            "fill_query",
            "fill_agent",
            "fill_referrer",
            "fill_client",
        )
    }
    if wrap is not None:
        fills = {name: wrap(name, fill) for name, fill in fills.items()}
    core = speedups.LogCore(
        methods=columns.methods,
        hosts=columns.hosts,
        paths=columns.paths,
        routes=columns.routes,
        queries=columns.queries,
        agents=columns.agents,
        referrers=columns.referrers,
        clients=columns.clients,
        submit=lines.append,
        slow=lambda *args: slow.append(args),
        route_type=Route,
        content_type_of=content_type_of,
        counter=None,
        day_name_of=None,
        server_timing=SERVER_TIMING,
        own_routes={},
        proxies=False,
        **fills,
    )
    return core, columns, lines, slow


async def _sink(message: Any) -> None:
    return None


def full_scope() -> dict[str, Any]:
    return scope(
        path="/users/alice@example.com",
        query_string=b"utm_source=x&token=abc",
        root_path="",
        client=["203.0.113.77", 1],
        headers=[
            (b"host", b"shop.example.com"),
            (b"user-agent", CHROME.encode()),
            (b"referer", b"https://shop.example.com/u/bob@example.com"),
        ],
    )


def one_line(core: Any, request: dict[str, Any]) -> bytes | None:
    obs = core.observe(request, _sink)
    obs.finish(request, request, None)
    return None


def reference_line(monkeypatch: pytest.MonkeyPatch) -> bytes:
    core, _, lines, slow = make_core()
    request = full_scope()
    one_line(core, request)
    assert not slow and len(lines) == 1
    return lines[0]


@pytest.fixture
def frozen_clocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("time.time", lambda: 1_790_000_000.25)
    monkeypatch.setattr("time.perf_counter", lambda: 5000.0)


def test_logcore_misuse() -> None:
    LogCore = speedups.LogCore
    with pytest.raises(TypeError):
        LogCore()
    bare = LogCore.__new__(LogCore)
    with pytest.raises(TypeError, match="not set up"):
        bare.observe(scope(), _sink)
    core, columns, _, _ = make_core()
    kwargs = {
        "methods": {}, "hosts": {}, "paths": {}, "routes": {}, "queries": {}, "agents": {},
        "referrers": {}, "clients": {}, "fill_method": columns.fill_method,
        "fill_host": columns.fill_host, "fill_path": columns.fill_path,
        "fill_query": columns.fill_query, "fill_agent": columns.fill_agent,
        "fill_referrer": columns.fill_referrer, "fill_client": columns.fill_client,
        "submit": print, "slow": print, "route_type": Route, "proxies": False,
        "content_type_of": content_type_of, "counter": None, "day_name_of": None,
        "server_timing": SERVER_TIMING, "own_routes": {},
    }  # fmt: skip
    with pytest.raises(TypeError, match="already set up"):
        core.__init__(**kwargs)
    with pytest.raises(TypeError):
        LogCore(**{**kwargs, "fill_host": 3})
    with pytest.raises(TypeError):
        LogCore(**{**kwargs, "hosts": []})
    with pytest.raises(TypeError):
        LogCore(**{**kwargs, "route_type": "Route"})
    with pytest.raises(TypeError):
        core.observe(scope())
    obs = core.observe(scope(), _sink)
    with pytest.raises(TypeError):
        type(obs)()
    with pytest.raises(TypeError):
        obs.finish(scope())
    with pytest.raises(TypeError):
        obs(message={"type": "http.response.start", "status": 200})
    with pytest.raises(TypeError):
        obs()
    # observe on a scope that is not a dict, or has no headers: the Python path's, not a crash
    for odd in ([("type", "http")], {"type": "http"}, {"headers": None}, {"headers": [1, (2,)]}):
        assert core.observe(odd, _sink) is None


def test_finish_twice_and_status_members(frozen_clocks: None) -> None:
    core, _, lines, slow = make_core()
    request = full_scope()
    obs = core.observe(request, _sink)
    asyncio.run(obs({"type": "http.response.start", "status": 404, "headers": []}))
    asyncio.run(obs({"type": "http.response.body", "body": b"abc"}))
    assert obs.status == 404 and obs.bytes_sent == 3
    obs.finish(request, request, None)
    obs.finish(request, request, None)
    obs.failed()
    assert len(lines) == 1 and not slow and b'"status":404,"bytes":3' in lines[0]


def test_a_fill_that_raises(frozen_clocks: None) -> None:
    calls = 0

    def wrap(name: str, fill: Callable[..., bytes]) -> Callable[..., bytes]:
        def wrapped(*args: Any) -> bytes:
            nonlocal calls
            if name == "fill_agent":
                calls += 1
                if calls == 1:
                    raise LookupError("agent database gone")
            return fill(*args)

        return wrapped

    core, columns, lines, _ = make_core(wrap=wrap)
    request = full_scope()
    obs = core.observe(request, _sink)
    with pytest.raises(LookupError):
        obs.finish(request, request, None)
    obs.finish(request, request, None)  # finished: nothing more
    assert lines == []
    one_line(core, full_scope())
    assert len(lines) == 1 and columns.agents


@pytest.mark.parametrize("bad", ["text", None, bytearray(b"{}"), 1])
def test_a_fill_that_returns_no_bytes(frozen_clocks: None, bad: Any) -> None:
    def wrap(name: str, fill: Callable[..., bytes]) -> Callable[..., bytes]:
        return (lambda *args: bad) if name == "fill_query" else fill

    core, _, lines, _ = make_core(wrap=wrap)
    request = full_scope()
    obs = core.observe(request, _sink)
    with pytest.raises(TypeError, match="wrong shape"):
        obs.finish(request, request, None)
    assert lines == []


def test_fills_that_change_what_the_c_code_holds(
    frozen_clocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_line(monkeypatch)
    state: dict[str, Any] = {}

    def wrap(name: str, fill: Callable[..., bytes]) -> Callable[..., bytes]:
        def wrapped(*args: Any) -> bytes:
            request = state["request"]
            # Everything the C code read from the scope or the caches, gone.
            if request:
                request["client"].clear()
                request["headers"].clear()
                request.clear()
            for cache in state["caches"]:
                cache.clear()
                cache[b"junk"] = b"junk"
            gc.collect()
            out = fill(*args)
            for cache in state["caches"]:
                cache.clear()
            return out

        return wrapped

    core, columns, lines, slow = make_core(wrap=wrap)
    state["caches"] = [
        columns.methods, columns.hosts, columns.paths, columns.routes, columns.queries,
        columns.agents, columns.referrers, columns.clients,
    ]  # fmt: skip
    request = state["request"] = full_scope()
    obs = core.observe(request, _sink)
    obs.finish(request, request, None)
    assert not slow and lines == [expected]


def test_cached_entries_of_the_wrong_type_are_refilled(
    frozen_clocks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = reference_line(monkeypatch)
    core, columns, lines, _ = make_core()
    request = full_scope()
    columns.methods["GET"] = "not bytes"  # type: ignore[assignment]
    columns.referrers[b"https://shop.example.com/u/bob@example.com"] = (b"other", b"x")
    columns.clients["203.0.113.77"] = None  # type: ignore[assignment]
    one_line(core, request)
    assert lines == [expected]


def test_reentrant_finish_of_the_same_request(frozen_clocks: None) -> None:
    holder: list[Any] = []

    def resolver(peer: str | None, xff: str | None, forwarded: str | None) -> str | None:
        obs, request = holder[0]
        obs.finish(request, request, None)  # finished already: nothing
        return peer

    core, _, lines, _ = make_core(resolver=resolver)
    request = full_scope()
    obs = core.observe(request, _sink)
    holder.append((obs, request))
    obs.finish(request, request, None)
    assert len(lines) == 1


def test_bug_reentrant_fill_keeps_the_request_s_own_timestamp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # replay() formats the time into LogCore.stamp before the fills and copies it after
    # them: a fill that runs another request's finish (re-entrancy; or, with one
    # BeaconGuard served from several threads, a GIL switch inside the Python fill) leaves
    # the other request's time in this request's line.
    clock = [1_790_000_000.5]
    monkeypatch.setattr("time.time", lambda: clock[0])
    pending: list[tuple[Any, dict[str, Any]]] = []

    def resolver(peer: str | None, xff: str | None, forwarded: str | None) -> str | None:
        while pending:
            other, other_scope = pending.pop()
            other.finish(other_scope, other_scope, None)
        return peer

    core, _, lines, _ = make_core(resolver=resolver)
    first = scope(client=("203.0.113.1", 1))
    a = core.observe(first, _sink)
    clock[0] += DAY
    second = scope(client=("203.0.113.2", 1))
    pending.append((core.observe(second, _sink), second))
    a.finish(first, first, None)
    times = sorted(orjson.loads(line)["time"] for line in lines)
    assert times == ["2026-09-21T14:13:20Z", "2026-09-22T14:13:20Z"]


def test_send_errors_propagate_and_the_line_is_still_written(frozen_clocks: None) -> None:
    core, _, lines, _ = make_core()

    async def broken(message: Any) -> None:
        raise ConnectionResetError("client went away")

    request = full_scope()
    obs = core.observe(request, broken)
    with pytest.raises(ConnectionResetError):
        asyncio.run(obs({"type": "http.response.start", "status": 200, "headers": []}))
    assert obs.status == 200
    obs.finish(request, request, None)
    assert len(lines) == 1


def _log_sends() -> int:
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "LogSend")


def _log_cores() -> int:
    return sum(1 for o in gc.get_objects() if type(o).__name__ == "LogCore")


def test_cycles_through_the_c_types_are_collected(frozen_clocks: None) -> None:
    gc.collect()
    sends_before, cores_before = _log_sends(), _log_cores()
    for _ in range(50):
        core, columns, _, _ = make_core()
        holder: list[Any] = []
        obs = core.observe(full_scope(), holder.append)  # obs -> send -> holder -> obs
        holder.append(obs)
        holder.append(core)
        columns.methods["self"] = core  # core -> dict -> core
        obs({"type": "http.response.start", "status": Text("odd"), "headers": []})
        del core, columns, holder, obs
    gc.collect()
    assert _log_sends() == sends_before and _log_cores() == cores_before


def test_bug_header_values_survive_a_collection_inside_observe() -> None:
    # observe() reads the header values as borrowed references, then allocates its LogSend
    # (PyObject_GC_New, which may run a collection and so any finaliser) before taking
    # them: a finaliser that empties the headers list frees them first. Run apart: the
    # current code segfaults.
    script = textwrap.dedent(
        """
        import gc, sys
        from starlette.routing import Route
        from beaconguard import Settings
        from beaconguard.accesslog.replay import compiled_log
        from beaconguard.client import make_client_resolver

        lines = []
        core = compiled_log(
            Settings(secret_key="test-secret-key-0123456789abcdef"),
            make_client_resolver(()), lines.append, lambda *a: lines.append(b"slow"),
        )

        class EmptiesHeaders:
            def __init__(self, headers):
                self.headers = headers
                self.cycle = self

            def __del__(self):
                self.headers.clear()

        # values only the headers list holds
        request = {
            "type": "http", "method": "GET", "path": "/", "query_string": b"",
            "client": ("203.0.113.7", 1),
            "headers": [
                (b"host", bytes(bytearray(b"shop.example.com"))),
                (b"user-agent", bytes(bytearray(b"curl/8.0 " * 40))),
            ],
        }

        async def send(message):
            pass

        gc.collect()
        gc.set_threshold(100000)
        EmptiesHeaders(request["headers"])
        gc.set_threshold(1)  # the next container allocation collects the cycle
        sent = core.observe(request, send)
        gc.set_threshold(700)
        sent.finish(request, request, None)
        sys.stdout.write(lines[0].decode())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=60)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    # Read before the finaliser or after it, as long as it is one or the other.
    assert orjson.loads(done.stdout)["host"] in ("shop.example.com", None)


# --- privacy -----------------------------------------------------------------------------


SECRETS = (
    b"alice@example.com",
    b"bob@example.com",
    b"carol@example.com",
    b"9f86d081884c7d659a2feaa0c55ad015",
    b"topsecret",
    b"GA1.1.1.1",
    b"203.0.113.77",
    b"198.51.100.9",
    b"Chrome/124.0.0.0",
)


def _identifying_requests(n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        out.append(
            scope(
                method="GET" if i % 2 else "HEAD",
                path=f"/users/alice@example.com/{i}"
                if i % 3
                else f"/t/9f86d081884c7d659a2feaa0c55ad015/{i}",
                query_string=f"token=9f86d081884c7d659a2feaa0c55ad015&email=carol@example.com&n={i}".encode(),
                client=("203.0.113.77", i) if i % 2 else ("198.51.100.9", i),
                headers=[
                    (b"host", b"shop.example.com"),
                    (b"user-agent", f"{CHROME} build/{i}".encode()),
                    (
                        b"referer",
                        f"https://shop.example.com/private/path/bob@example.com/{i}".encode(),
                    ),
                    (b"cookie", b"session=topsecret; _ga=GA1.1.1.1"),
                    (b"x-forwarded-for", b"198.51.100.9"),
                ],
            )
        )
    return out


def _columns_of(guard: BeaconGuard) -> LogColumns:
    assert guard._fast_log is not None
    core = guard._fast_log.__self__  # type: ignore[attr-defined]
    for ref in gc.get_referents(core):
        owner = getattr(ref, "__self__", None)
        if isinstance(owner, LogColumns):
            return owner
    raise AssertionError("no LogColumns behind the LogCore")


@pytest.mark.parametrize("mode", ["truncate", "hash", "drop"])
def test_no_identifier_reaches_the_log_and_caches_stay_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    requests = _identifying_requests(120)
    cases = [(r, ok(200, b"body")) for r in requests]
    out = both(tmp_path, monkeypatch, cases, ip_mode=mode, ua_cache_size=16)
    for secret in SECRETS:
        assert secret not in out, secret

    settings = settings_of(
        access_log=str(tmp_path / "b.log"), stats=False, ip_mode=mode, ua_cache_size=16
    )
    guard = BeaconGuard(asgi(ok()), settings=settings)
    columns = _columns_of(guard)

    async def drive() -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b""}

        for r in [*requests, *_identifying_requests(40)]:
            await guard(r, receive, _sink)
        await guard(scope(headers=[(b"user-agent", b"u" * (MAX_KEY + 1))]), receive, _sink)
        await guard(scope(path="/" + "p" * MAX_KEY), receive, _sink)

    asyncio.run(drive())
    guard.close()
    caches: dict[str, dict[Any, Any]] = {
        "methods": columns.methods, "hosts": columns.hosts, "paths": columns.paths,
        "routes": columns.routes, "queries": columns.queries, "agents": columns.agents,
        "referrers": columns.referrers, "clients": columns.clients,
    }  # fmt: skip
    for name, cache in caches.items():
        assert len(cache) <= 16, name
        for key, value in cache.items():
            size = 0 if key is None else len(key)
            if name == "referrers":
                size += len(value[0])
                value = value[1]
            assert size <= MAX_KEY, name
            for secret in SECRETS:
                assert secret not in value, (name, secret)
    if mode == "hash":
        assert columns.clients == {}, "a pseudonym kept past its day"


def test_the_clock_the_python_path_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    # observe() reads the patched clocks, as the Python path does; a clock that raises
    # fails the request before the app runs, on both paths.
    core, _, lines, _ = make_core()

    def broken() -> float:
        raise OSError("no clock")

    monkeypatch.setattr("time.perf_counter", broken)
    with pytest.raises(OSError):
        core.observe(full_scope(), _sink)
    monkeypatch.setattr("time.perf_counter", lambda: 7.0)
    monkeypatch.setattr("time.time", lambda: "not a number")
    with pytest.raises(TypeError):
        core.observe(full_scope(), _sink)
    monkeypatch.setattr("time.time", time.monotonic)
    one_line(core, full_scope())
    assert len(lines) == 1
