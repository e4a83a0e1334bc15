"""The compiled gate path (beaconguard/_speedups.c) under inputs meant to break it.

test_fast.py holds the two paths to the same answers for ordinary traffic; these tests try
what a hostile or merely unusual app, server or runtime can do: message types that are not
plain ``str``, finalisers that change headers while the C code holds them, clocks that
disagree, objects used outside their contract. The rule throughout is the project's: a
cookie the visitor did not allow never reaches the app or the browser, and whatever the
compiled path cannot replay exactly goes back to Python.
"""

from __future__ import annotations

import enum
import gc
import time
from collections.abc import Callable
from typing import Any
from unittest import mock

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beaconguard import Settings
from beaconguard.consent.cookie import ConsentCookie
from tests.conftest import SECRET
from tests.consent.test_fast import (
    COOKIES,
    EVERYTHING,
    HTML,
    JSON,
    STATS_ONLY,
    Recorder,
    _guards,
    _run,
    _same,
    _scope,
)

pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

DENIED = (b"set-cookie", b"_fbp=fb.1.2; Path=/")  # marketing: denied by STATS_ONLY
ALLOWED = (b"set-cookie", b"_ga=GA1.2.3; Path=/")  # statistics: allowed by STATS_ONLY


class _Kind(enum.StrEnum):
    START = "http.response.start"
    BODY = "http.response.body"


class _Str(str):
    pass


class _TypedRecorder(Recorder):
    """A Recorder whose messages carry ``type`` as the given ``str`` subclass."""

    def __init__(self, start: Any, body: Any) -> None:
        super().__init__()
        self.start, self.body = start, body

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.seen.append((list(scope["headers"]), None, type(send).__name__))
        await send({"type": self.start, "status": 200, "headers": self.response_headers})
        await send({"type": self.body, "body": b"ok"})


def _send_through(guard: Any, headers: list[Any], response: Any) -> list[Any]:
    guard.app.response_headers = response
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(guard, _scope(list(headers)), receive, send)
    return sent


@pytest.mark.parametrize(
    ("start", "body"),
    [(_Kind.START, _Kind.BODY), (_Str("http.response.start"), _Str("http.response.body"))],
    ids=["str-enum", "str-subclass"],
)
def test_a_response_start_typed_as_a_str_subclass_is_gated(start: Any, body: Any) -> None:
    # Servers compare message["type"] with ==, so an enum member (or any str subclass)
    # equal to "http.response.start" starts the response: the gate must filter it too.
    fast, slow = _guards()
    for guard in (fast, slow):
        guard.app = _TypedRecorder(start, body)
    request = [(b"cookie", STATS_ONLY)]
    for _ in range(3):  # the first pass teaches the tables, the next ones replay
        got = _send_through(fast, request, [HTML, ALLOWED, DENIED])
        want = _send_through(slow, request, [HTML, ALLOWED, DENIED])
        assert DENIED not in got[0]["headers"]
        assert got == want


# -- finalisers that run while the C code holds the headers ---------------------------------


class _Bomb:
    """Cyclic garbage: its finaliser runs ``action`` when the collector next runs."""

    __slots__ = ("action", "me")

    def __del__(self) -> None:
        self.action()


class _Pad:
    __slots__ = ("x",)


def _finalise_during(call: Callable[[], Any], action: Callable[[], None], pads: int) -> Any:
    """``call()`` with the collector due: the first tracked object allocated after ``pads``
    more (inside ``call``, in the C code when ``pads`` is small) runs ``action``."""
    saved = gc.get_threshold()
    enabled = gc.isenabled()
    extra: list[Any] = [None] * 8
    gc.disable()
    try:
        gc.collect()
        # Empty the list free list, so that PyList_New allocates (and so collects); no
        # list may be freed from here on.
        hold = [[] for _ in range(200)]
        gc.set_threshold(1)
        bomb = _Bomb()
        bomb.action = action
        bomb.me = bomb
        del bomb
        for i in range(pads):
            extra[i] = _Pad()
        gc.enable()
        result = call()
    finally:
        gc.set_threshold(*saved)
        if not enabled:
            gc.disable()
    del hold
    gc.collect()  # nothing armed is left for a later test
    return result


def _gated_send(guard: Any, request: list[Any], sent: list[Any]) -> Any:
    """The compiled path's ``send`` for one request (a ``GateSend``) over a server
    ``send`` that appends to ``sent``."""
    captured: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        captured.append(send)

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        raise AssertionError("not called")

    saved, guard.app = guard.app, app
    try:
        step = guard._fast(_scope(list(request)), receive, send)
        assert step is not None
        anyio.run(lambda: step)
    finally:
        guard.app = saved
    (gated,) = captured
    assert type(gated).__name__ == "GateSend"
    return gated


def test_a_finaliser_swapping_a_response_header_cannot_smuggle_a_denied_cookie() -> None:
    # Building the output list may run the collector, and so any finaliser: one that
    # replaces an allowed Set-Cookie by a denied one at the same index must not have it
    # copied out unchecked.
    fast, _ = _guards()
    request = [(b"cookie", STATS_ONLY)]
    _send_through(fast, request, [HTML, ALLOWED, DENIED])  # teach the tables
    sent: list[Any] = []
    gated = _gated_send(fast, request, sent)
    fired = []
    for pads in range(4):
        headers = [HTML, ALLOWED]
        message = {"type": "http.response.start", "status": 200, "headers": headers}

        def swap(headers: list[Any] = headers, pads: int = pads) -> None:
            headers[1] = DENIED
            fired.append(pads)

        sent.clear()
        step = _finalise_during(lambda message=message: gated(message), swap, pads)
        anyio.run(lambda step=step: step)
        (out,) = sent
        assert DENIED not in out["headers"], pads
        assert (b"cache-control", b"private") in out["headers"]
    assert fired == [0, 1, 2, 3]


def test_a_finaliser_adding_a_cookie_while_it_is_stripped_cannot_reach_the_app() -> None:
    # Block mode strips the unregistered cookie in C (nothing to expire). Building the new
    # header list may run a finaliser that adds a Cookie in another spelling: the Python
    # path drops every spelling, so must the compiled one.
    fast, _ = _guards(unregistered_cookies="block")
    request = [(b"cookie", STATS_ONLY + b"; mystery=1")]
    _send_through(fast, request, [HTML])  # teach the tables
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(list(scope["headers"]))

    async def receive() -> Any:
        raise AssertionError("not called")

    async def send(message: Any) -> None:
        pass

    fast.app = app
    fired = []
    for pads in range(4):
        headers = list(request)

        def add(headers: list[Any] = headers, pads: int = pads) -> None:
            headers.append((b"Cookie", b"_fbp=smuggled"))
            fired.append(pads)

        scope = _scope(headers)
        step = _finalise_during(lambda scope=scope: fast._fast(scope, receive, send), add, pads)
        if step is None:
            continue  # the finaliser ran before the scan, which saw the odd spelling
        anyio.run(lambda step=step: step)
        assert [v for k, v in seen[-1] if k.lower() == b"cookie"] == [STATS_ONLY], pads
    assert fired == [0, 1, 2, 3]


# -- clocks --------------------------------------------------------------------------------


def test_a_decision_signed_ahead_of_this_clock_counts_once_it_is_due() -> None:
    # Behind a load balancer the visitor may decide on a server whose clock runs a second
    # ahead: here the signature is "from the future" and reads as no decision, until this
    # clock catches up. The Python path reads the cookie on every request; the compiled
    # path must not replay "no decision" for good.
    fast, slow = _guards()
    cookie = ConsentCookie(Settings(secret_key=SECRET, store="memory://"))
    due = int(time.time()) + 2
    with mock.patch("time.time", return_value=float(due)):
        value, _ = cookie.dumps({"statistics": True})
    request = [(b"cookie", b"bg_consent=" + value.encode())]
    for guard in (fast, slow):
        _run(guard, request, [HTML, *COOKIES])
        assert guard.app.seen[-1][1] == ("default", ["necessary"])
    answered = time.time()
    assert answered < due
    # Due, and past the second for which the compiled path may replay "no decision".
    time.sleep(max(due, answered + 1.0) - answered + 0.05)
    for guard in (fast, slow):
        for _ in range(2):
            _run(guard, request, [HTML, *COOKIES])
            assert guard.app.seen[-1][1] == ("explicit", ["necessary", "statistics"])
    assert fast.app.seen[-1][2] == "GateSend"  # and once read, it is replayed again


# -- the extension's objects outside their contract -----------------------------------------


def test_a_core_used_without_or_after_its_setup_raises_instead_of_crashing() -> None:
    # Checked in a child process: before the fix these dereferenced NULL (a segfault).
    code = """
from beaconguard._speedups import GateCore
from tests.consent.test_fast import _guards
bare = GateCore.__new__(GateCore)
try:
    bare.run({"type": "http", "headers": []}, None, None)
except TypeError as exc:
    print("run:", exc)
import beaconguard._speedups as module
made = {}
real = module.GateCore
def spy(**kw):
    made["kw"], made["core"] = kw, real(**kw)
    return made["core"]
module.GateCore = spy
fast, _ = _guards()
module.GateCore = real
core, kw = made["core"], made["kw"]
# Set up again with one mask: a GateSend made under mask 3 would index past the tables.
kw.update(keep=({},), policies=None, default_mask=0, gpc_mask=0)
try:
    core.__init__(**kw)
except TypeError as exc:
    print("init:", exc)
"""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "run: " in done.stdout and "init: " in done.stdout


# -- odd bytes, many headers, many requests --------------------------------------------------

ODD = st.sampled_from(
    ["", " ", "\t", "\x0b", "\x0c", "\r", "\x85", "\xa0", "\x1f", "=", ";", '"', ",", "\x00"]
)
BASE = st.sampled_from(["_fbp", "_ga", "session", "lang", "mystery", "ad_x", "bg_consent", ""])


@st.composite
def _odd_name(draw: Any) -> str:
    return str(draw(ODD) + draw(BASE) + draw(ODD))


@st.composite
def _odd_request(draw: Any) -> list[tuple[bytes, bytes]]:
    pieces = [
        (f"{draw(_odd_name())}={draw(st.sampled_from(['1', '', ' x ', 'a=b']))}").encode("latin-1")
        for _ in range(draw(st.integers(0, 4)))
    ]
    pieces += draw(st.sampled_from([[], [STATS_ONLY], [EVERYTHING]]))
    sep = draw(st.sampled_from([b"; ", b";", b" ; ", b";;"]))
    out = [(b"cookie", sep.join(draw(st.permutations(pieces))))]
    if draw(st.booleans()):
        out.append((b"sec-gpc", draw(st.sampled_from([b"1", b"0", b" 1", b"1 ", b""]))))
    return out


@st.composite
def _odd_response(draw: Any) -> list[tuple[bytes, bytes]]:
    out = [draw(st.sampled_from([HTML, JSON, (b"content-type", b"text/htm")]))]
    for _ in range(draw(st.integers(0, 5))):
        value = draw(st.sampled_from(["1", "", '""', " ", "\t1", ";", "x; Max-Age=0"]))
        out.append((b"set-cookie", f"{draw(_odd_name())}={value}".encode("latin-1")))
    return draw(st.permutations(out))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=_odd_request(), response=_odd_response(),
       mode=st.sampled_from(["report", "block", "allow"]))
def test_property_odd_bytes_give_the_same_answers(request: Any, response: Any, mode: str) -> None:
    # Whitespace outside bytes.strip()'s set, '=' and ';' in names, empty names and values:
    # whatever the tables were taught, the compiled path answers as Python does.
    guards = _ODD_PAIRS.get(mode)
    if guards is None:
        guards = _ODD_PAIRS[mode] = _guards(unregistered_cookies=mode)
    _same(request, list(response), guards)
    _same(request, tuple(response), guards)


_ODD_PAIRS: dict[str, Any] = {}


@pytest.mark.parametrize("fillers", [62, 63, 64, 200])
def test_the_drop_bitmap_edges(fillers: int) -> None:
    # 64 headers is the most the bitmap holds: the denied cookie in its last bit is
    # dropped, and one header more goes to Python.
    guards = _guards()
    response = [*[(b"x-filler", b"%d" % i) for i in range(fillers)], DENIED]
    if fillers < 63:
        response.insert(0, ALLOWED)
    kind = _same([(b"cookie", STATS_ONLY)], response, guards)
    assert kind == "GateSend"
    sent = _run(guards[0], [(b"cookie", STATS_ONLY)], response)
    assert DENIED not in sent[0]["headers"]


def test_many_distinct_visitors_replay_within_bounds() -> None:
    fast, _ = _guards(unregistered_cookies="block")
    for i in range(1500):
        request = [(b"cookie", STATS_ONLY + b"; mystery%d=1; _ga=%d" % (i % 700, i))]
        got = _run(fast, request, [HTML, ALLOWED, DENIED])
        assert DENIED not in got[0]["headers"]
        assert fast.app.seen[-1][0] == [(b"cookie", STATS_ONLY + b"; _ga=%d" % i)]
    gate = fast.consent
    assert gate is not None and gate.fast_cookies is not None
    assert len(gate.fast_cookies[False]) <= 512


# -- the app, the clock and the keys change ---------------------------------------------------


def test_replacing_the_app_after_construction_is_seen_by_the_compiled_path() -> None:
    fast, _ = _guards()
    request = [(b"cookie", STATS_ONLY)]
    _run(fast, request, [HTML])
    other = Recorder()
    fast.app = other
    sent = _run(fast, request, [HTML, ALLOWED, DENIED])
    assert other.seen and other.seen[-1][2] == "GateSend"
    assert DENIED not in sent[0]["headers"] and ALLOWED in sent[0]["headers"]


def test_a_decision_that_expires_between_requests_is_not_replayed() -> None:
    fast, slow = _guards()
    cookie = ConsentCookie(Settings(secret_key=SECRET, store="memory://"))
    time.sleep(1.01 - time.time() % 1)  # signed just after a second starts: most of it left
    value, state = cookie.dumps({"statistics": True})
    assert state.decided_at is not None
    for guard in (fast, slow):
        gate = guard.consent
        assert gate is not None
        # Valid for under a second from now (max_age is whole seconds: itsdangerous's too).
        gate.cookie.max_age = int(state.decided_at) + 1 - int(time.time())
    request = [(b"cookie", b"bg_consent=" + value.encode() + b"; _ga=1")]
    for guard in (fast, slow):
        for _ in range(2):
            _run(guard, request, [HTML, ALLOWED, DENIED])
            assert guard.app.seen[-1][1] == ("explicit", ["necessary", "statistics"])
    assert fast.app.seen[-1][2] == "GateSend"
    assert time.time() < state.decided_at + 1
    time.sleep(state.decided_at + 1 - time.time() + 0.05)
    for guard in (fast, slow):
        sent = _run(guard, request, [HTML, ALLOWED, DENIED])
        assert guard.app.seen[-1][1] == ("default", ["necessary"])
        assert ALLOWED not in sent[0]["headers"] and DENIED not in sent[0]["headers"]


def test_a_decision_signed_with_a_rotated_out_key_is_replayed_like_python() -> None:
    old, new = SECRET, "another-test-secret-0123456789abcdef"
    value, _ = ConsentCookie(Settings(secret_key=old, store="memory://")).dumps(
        {"statistics": True, "marketing": True}
    )
    request = [(b"cookie", b"bg_consent=" + value.encode() + b"; _fbp=1")]
    rotated = _guards(secret_key=(old, new))
    assert _same(request, [HTML, ALLOWED, DENIED], rotated) == "GateSend"
    assert rotated[0].app.seen[-1][1] == ("explicit", ["marketing", "necessary", "statistics"])
    dropped = _guards(secret_key=(new,))
    assert _same(request, [HTML, ALLOWED, DENIED], dropped) == "_GatedSend"  # a purge
    assert dropped[0].app.seen[-1][1] == ("default", ["necessary"])


def test_concurrent_requests_keep_their_own_state() -> None:
    # Many interleaved requests through one guard: each GateSend filters with the state of
    # its own request, whatever the others (and Python's cache updates) do meanwhile.
    import asyncio

    fast, _ = _guards()
    choices = [(b"cookie", STATS_ONLY), (b"cookie", EVERYTHING), (b"cookie", b"session=1")]
    expected = {
        STATS_ONLY: (True, False), EVERYTHING: (True, True), b"session=1": (False, False),
    }

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(0)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [HTML, ALLOWED, DENIED]})
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b""})

    fast.app = app

    async def one(i: int) -> None:
        header = choices[i % 3]
        sent: list[Any] = []

        async def send(message: Any) -> None:
            await asyncio.sleep(0)
            sent.append(message)

        async def receive() -> Any:
            return {"type": "http.request"}

        await fast(_scope([header]), receive, send)
        headers = sent[0]["headers"]
        assert ((ALLOWED in headers), (DENIED in headers)) == expected[header[1]], i

    async def main() -> None:
        await asyncio.gather(*(one(i) for i in range(300)))

    asyncio.run(main())


def test_reentrant_requests_from_inside_send() -> None:
    # The server's send runs a whole other request through the same guard before it
    # returns: both are gated with their own state.
    fast, _ = _guards()
    inner_sent: list[Any] = []
    outer_sent: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [HTML, ALLOWED, DENIED]})

    fast.app = app

    async def receive() -> Any:
        return {"type": "http.request"}

    async def inner_send(message: Any) -> None:
        inner_sent.append(message)

    async def outer_send(message: Any) -> None:
        if not inner_sent:
            await fast(_scope([(b"cookie", EVERYTHING)]), receive, inner_send)
        outer_sent.append(message)

    async def main() -> None:
        for _ in range(2):
            inner_sent.clear()
            outer_sent.clear()
            await fast(_scope([(b"cookie", STATS_ONLY)]), receive, outer_send)

    anyio.run(main)
    assert DENIED in inner_sent[0]["headers"]
    assert DENIED not in outer_sent[0]["headers"] and ALLOWED in outer_sent[0]["headers"]
