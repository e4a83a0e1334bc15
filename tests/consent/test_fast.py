"""The compiled gate path (beaconguard/_speedups.c) answers exactly as the Python path.

Two middlewares over the same recording app, one with ``speedups`` and one without, see
the same requests; the app must see the same headers and consent state, and the client the
same response messages. Each request is sent twice, because the compiled path replays only
what the first (Python) pass taught it.
"""

from __future__ import annotations

import time
from typing import Any

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beaconguard import BeaconGuard, Settings
from beaconguard.consent.cookie import ConsentCookie
from beaconguard.consent.fast import speedups
from tests.conftest import SECRET
from tests.consent.conftest import REGISTRY

pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

CSP = "content-security-policy"


class Recorder:
    """An ASGI app that notes what it was given and answers with the headers it is told."""

    def __init__(self) -> None:
        self.response_headers: Any = []
        self.seen: list[tuple[Any, ...]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        state = scope.get("state", {}).get("consent")
        self.seen.append((
            list(scope["headers"]),
            None if state is None else (state.source, sorted(state.allowed)),
            type(send).__name__,
        ))
        await send({"type": "http.response.start", "status": 200,
                    "headers": self.response_headers})
        await send({"type": "http.response.body", "body": b"ok"})


def _guards(observed: bool = False, **overrides: Any) -> tuple[BeaconGuard, BeaconGuard]:
    """(compiled, Python) middlewares; ``observed``: with the statistics part counting, so
    the compiled path does only the gate's part (``GateCore.enter``)."""
    values: dict[str, Any] = {
        "secret_key": SECRET, "store": "memory://", "stats": observed,
        "cookie_registry": REGISTRY,
    }
    values.update(overrides)
    return (
        BeaconGuard(Recorder(), settings=Settings(**values)),
        BeaconGuard(Recorder(), settings=Settings(**{**values, "speedups": False})),
    )


def _scope(headers: list[Any], path: str = "/page", root_path: str = "") -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "https", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": root_path, "headers": headers, "client": ("203.0.113.9", 5000),
        "server": ("shop.example", 443),
    }


def _run(guard: BeaconGuard, headers: list[Any], response: Any, **scope: Any) -> list[Any]:
    app = guard.app
    assert isinstance(app, Recorder)
    app.response_headers = response
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(guard, _scope(list(headers), **scope), receive, send)
    return sent


def _same(headers: list[Any], response: Any, guards: tuple[BeaconGuard, BeaconGuard],
          **scope: Any) -> str:
    """Send one request through both guards twice; returns the compiled ``send`` type seen
    on the second pass (``GateSend`` when the compiled path answered)."""
    fast, slow = guards
    for _ in range(2):
        got = _run(fast, headers, response, **scope)
        want = _run(slow, headers, response, **scope)
        assert got == want
        seen_fast, seen_slow = fast.app.seen[-1], slow.app.seen[-1]  # type: ignore[attr-defined]
        assert seen_fast[:2] == seen_slow[:2]
    return seen_fast[2]


def _consent(**decisions: bool) -> bytes:
    value, _ = ConsentCookie(Settings(secret_key=SECRET, store="memory://")).dumps(decisions)
    return b"bg_consent=" + value.encode()


STATS_ONLY = _consent(statistics=True)
EVERYTHING = _consent(preferences=True, statistics=True, marketing=True)
HTML = (b"content-type", b"text/html; charset=utf-8")
JSON = (b"content-type", b"application/json")
COOKIES = [
    (b"set-cookie", b"session=abc; HttpOnly; Path=/"),
    (b"set-cookie", b"_ga=GA1.2.3; Path=/"),
    (b"set-cookie", b"_fbp=fb.1.2; Path=/"),
]


def test_the_extension_is_there_and_used() -> None:
    assert speedups() is not None
    fast, slow = _guards()
    assert fast._fast is not None and slow._fast is None
    # A middleware that also logs or counts replays only the gate's part.
    fast, slow = _guards(observed=True)
    assert fast._fast is None and fast._fast_enter is not None
    assert slow._fast_enter is None
    for guard in (fast, slow):
        guard.close()


@pytest.fixture(params=[False, True], ids=["gate-only", "observed"])
def observed(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.mark.parametrize(
    ("request_headers", "response"),
    [
        ([], [HTML, *COOKIES]),
        ([(b"sec-gpc", b"1")], [HTML, *COOKIES]),
        ([(b"cookie", b"session=1; " + STATS_ONLY)], [HTML, *COOKIES]),
        ([(b"cookie", STATS_ONLY + b"; _ga=y; mystery=z")], [JSON, *COOKIES]),
        ([(b"cookie", EVERYTHING + b"; _fbp=x")], [HTML, *COOKIES]),
        ([(b"cookie", STATS_ONLY), (b"sec-gpc", b"1")], [(b"content-type", b"TEXT/HTML")]),
        ([(b"cookie", b"session=1; mystery=2")], [HTML]),
        ([(b"cookie", EVERYTHING + b"; lang=en")], [(b"x-other", b"1"), JSON]),
        ([(b"cookie", b"")], [HTML]),
        ([(b"cookie", STATS_ONLY)], []),
        ([(b"cookie", STATS_ONLY)], ()),
        ([(b"cookie", STATS_ONLY)], None),
        ([(b"cookie", STATS_ONLY)], tuple([HTML, *COOKIES])),
    ],
)
def test_the_compiled_path_answers_as_python(
    request_headers: list[Any], response: Any, observed: bool
) -> None:
    guards = _guards(observed)
    assert _same(request_headers, response, guards) == "GateSend"


#: The send the app gets when the Python gate answers: observed, the Python observer
#: gates it, or the Python gate wraps the compiled observer (beaconguard/_logreplay.c).
PYTHON_SENDS = {False: ("_GatedSend",), True: ("_ObservedSend", "_GatedSend")}


@pytest.mark.parametrize(
    ("request_headers", "response", "why"),
    [
        # Another spelling of Cookie or Sec-GPC, or a split Cookie: Python normalises.
        ([(b"Cookie", STATS_ONLY + b"; _fbp=1")], [HTML], "request"),
        ([(b"cookie", b"_fbp=1"), (b"cookie", STATS_ONLY)], [HTML], "request"),
        ([(b"cookie", STATS_ONLY), (b"SEC-GPC", b"1")], [HTML], "request"),
        # A denied cookie the browser still holds: Python writes the purge headers.
        ([(b"cookie", b"_fbp=1")], [HTML], "request"),
        ([(b"cookie", STATS_ONLY + b"; _fbp=x; _ga=y")], [JSON, *COOKIES], "request"),
        # Headers that are not (bytes, bytes) tuples.
        ([[b"cookie", STATS_ONLY]], [HTML], "request"),
    ],
)
def test_what_the_compiled_path_leaves_to_python_still_works(
    request_headers: list[Any], response: Any, why: str, observed: bool
) -> None:
    guards = _guards(observed)
    assert _same(request_headers, response, guards) in PYTHON_SENDS[observed]


@pytest.mark.parametrize(
    "response",
    [
        # The app's own CSP and Cache-Control are merged by Python.
        [HTML, (b"content-security-policy", b"default-src 'self'"), *COOKIES],
        [HTML, (b"cache-control", b"public, max-age=60"), *COOKIES],
        # Deletions need their attributes read; an unknown cookie name is decided first.
        [HTML, (b"set-cookie", b"_fbp=; Max-Age=0; Path=/")],
        [HTML, (b"set-cookie", b'_fbp=""; Max-Age=0')],
        [HTML, (b"set-cookie", b"_fbp")],
        [HTML, (b"set-cookie", b"brand-new=1")],
        # Other spellings of the names the gate reads; items that are lists; many headers.
        [(b"Content-Type", b"text/html"), *COOKIES],
        [HTML, (b"SET-COOKIE", b"_fbp=1")],
        [HTML, [b"set-cookie", b"_fbp=1"]],
        [HTML, *COOKIES, *[(b"x-filler", b"%d" % i) for i in range(70)]],
    ],
)
def test_responses_the_compiled_path_hands_back(response: Any, observed: bool) -> None:
    guards = _guards(observed)
    _same([(b"cookie", STATS_ONLY)], response, guards)


def test_a_stripped_request_cookie_is_replayed(observed: bool) -> None:
    # Block mode strips an unregistered cookie without expiring it: nothing for Python.
    guards = _guards(observed, unregistered_cookies="block")
    header = [(b"host", b"shop.example"), (b"cookie", STATS_ONLY + b"; mystery=1; _ga=2")]
    assert _same(header, [HTML, *COOKIES], guards) == "GateSend"
    seen = guards[0].app.seen[-1][0]  # type: ignore[attr-defined]
    assert seen == [(b"host", b"shop.example"), (b"cookie", STATS_ONLY + b"; _ga=2")]
    only = [(b"cookie", b"mystery=1")]
    assert _same(only, [HTML], guards) == "GateSend"
    assert guards[0].app.seen[-1][0] == []  # type: ignore[attr-defined]


def test_own_routes_and_root_path_go_to_python(observed: bool) -> None:
    fast, slow = _guards(observed)
    for guard in (fast, slow):
        sent = _run(guard, [(b"cookie", STATS_ONLY)], [HTML], path="/_bg/consent")
        assert sent[0]["status"] == 200  # the gate's own endpoint answered, not the app
        sent = _run(guard, [(b"cookie", STATS_ONLY)], [HTML],
                    path="/shop/_bg/consent", root_path="/shop")
        assert sent[0]["status"] == 200
    assert fast.app.seen == []  # type: ignore[attr-defined]
    assert _same([(b"cookie", STATS_ONLY)], [HTML, *COOKIES], (fast, slow),
                 path="/shop/page", root_path="/shop") == "GateSend"


def test_an_expired_decision_is_read_again(observed: bool) -> None:
    fast, slow = _guards(observed)
    header = [(b"cookie", STATS_ONLY + b"; _ga=1")]
    assert _same(header, [HTML, *COOKIES], (fast, slow)) == "GateSend"
    gate = fast.consent
    assert gate is not None and gate.fast_cookies is not None
    cache = gate.fast_cookies[False]
    (key, entry), = cache.items()
    cache[key] = (entry[0], entry[1], time.time() - 1, entry[3])
    _run(fast, header, [HTML])
    assert fast.app.seen[-1][2] in ("_GatedSend", "_ObservedSend")  # type: ignore[attr-defined]
    # Python put the answer back.
    assert cache[key][2] > time.time()


def test_region_defaults_need_python_without_a_decision(tmp_path: Any, observed: bool) -> None:
    from tests.support.geoip import build_country_mmdb

    db = build_country_mmdb(tmp_path / "c.mmdb", {"203.0.113.0/24": "DE"})
    guards = _guards(observed, geoip_db=str(db),
                     region_defaults={"EEA": "opt-in", "*": "opt-out"})
    python = PYTHON_SENDS[observed]
    assert _same([], [HTML, *COOKIES], guards) in python
    assert _same([(b"cookie", b"session=1")], [HTML, *COOKIES], guards) in python
    # A valid decision does not depend on the country.
    assert _same([(b"cookie", STATS_ONLY)], [HTML, *COOKIES], guards) == "GateSend"


def test_bounded_like_the_python_cache() -> None:
    fast, _ = _guards()
    for i in range(700):
        _run(fast, [(b"cookie", STATS_ONLY + b"; _ga=%d" % i)], [HTML])
    _run(fast, [(b"cookie", b"x=" + b"a" * 5000 + b"; " + STATS_ONLY)], [HTML])
    gate = fast.consent
    assert gate is not None and gate.fast_cookies is not None
    assert len(gate.fast_cookies[False]) == 512
    assert all(len(key) <= 4096 for key in gate.fast_cookies[False])


NAMES = st.sampled_from(
    ["session", "lang", "_ga", "_ga_X1", "_hjA_ses1", "_fbp", "ad_x", "fr", "mystery", "bg_consent"]
)
VALUES = st.sampled_from(["1", "", '""', "abc", " spaced", "a=b"])
REQUEST_NAMES = st.sampled_from(
    [b"cookie", b"Cookie", b"sec-gpc", b"host", b"user-agent", b"accept"]
)
RESPONSE_NAMES = st.sampled_from(
    [b"set-cookie", b"Set-Cookie", b"content-type", b"content-length", b"cache-control", b"vary",
     b"content-security-policy"]
)


@st.composite
def request_headers(draw: Any) -> list[tuple[bytes, bytes]]:
    out = []
    for name in draw(st.lists(REQUEST_NAMES, max_size=4)):
        if name.lower() == b"cookie":
            pieces = [f"{n}={v}".encode() for n, v in
                      draw(st.lists(st.tuples(NAMES, VALUES), max_size=4))]
            pieces += draw(st.sampled_from([[], [STATS_ONLY], [EVERYTHING], [b"bg_consent=bad"]]))
            out.append((name, b"; ".join(draw(st.permutations(pieces)))))
        elif name.lower() == b"sec-gpc":
            out.append((name, draw(st.sampled_from([b"1", b"0"]))))
        else:
            out.append((name, b"x"))
    return out


@st.composite
def response_headers(draw: Any) -> list[tuple[bytes, bytes]]:
    out = []
    for name in draw(st.lists(RESPONSE_NAMES, max_size=6)):
        if name.lower() == b"set-cookie":
            cookie = draw(NAMES)
            value = draw(VALUES)
            attrs = draw(st.sampled_from(["", "; Path=/", "; Max-Age=0", "; HttpOnly"]))
            out.append((name, f"{cookie}={value}{attrs}".encode()))
        elif name == b"content-type":
            out.append((name, draw(st.sampled_from([b"text/html", b"Text/HTML; x", b"text/plain"]))))
        elif name == b"cache-control":
            out.append((name, draw(st.sampled_from([b"public", b"private", b"max-age=5"]))))
        else:
            out.append((name, b"1"))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    request=request_headers(),
    response=response_headers(),
    mode=st.sampled_from(["report", "block", "allow"]),
    csp=st.sampled_from(["enforce", "report-only", "off"]),
    watched=st.booleans(),
)
def test_property_same_answers(
    request: Any, response: Any, mode: str, csp: str, watched: bool
) -> None:
    # One pair per configuration, kept across examples: their caches warm up as a live
    # server's do, and building a middleware per example would be slow.
    guards = _PAIRS.get((mode, csp, watched))
    if guards is None:
        guards = _PAIRS[mode, csp, watched] = _guards(
            watched, unregistered_cookies=mode, csp_mode=csp
        )
    _same(request, response, guards)


_PAIRS: dict[tuple[str, str, bool], tuple[BeaconGuard, BeaconGuard]] = {}


def test_an_app_that_returns_none_is_called_once() -> None:
    # None from the compiled path means "take the Python path": an app that (wrongly)
    # returns None must not be called a second time.
    calls = []

    def app(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])

    guard = BeaconGuard(app, settings=Settings(secret_key=SECRET, store="memory://", stats=False))
    with pytest.raises(TypeError, match="awaitable"):
        anyio.run(guard, _scope([]), None, None)
    assert calls == ["/page"]


def test_set_cookie_verdicts_are_remembered_per_consent() -> None:
    # The compiled path remembers each Set-Cookie name's verdict per consent mask: the same
    # name alternates between kept and dropped as visitors with other choices come.
    fast, slow = _guards()
    response = [HTML, *COOKIES, *[(b"set-cookie", b"ad_%d=1" % i) for i in range(40)]]
    for _ in range(3):
        for cookie in (STATS_ONLY, EVERYTHING, b"session=1"):
            assert _same([(b"cookie", cookie)], response, (fast, slow)) == "GateSend"
    kept = _run(fast, [(b"cookie", EVERYTHING)], response)[0]["headers"]
    assert (b"set-cookie", b"_fbp=fb.1.2; Path=/") in kept
    dropped = _run(fast, [(b"cookie", STATS_ONLY)], response)[0]["headers"]
    assert not any(v.startswith((b"_fbp=", b"ad_")) for k, v in dropped if k == b"set-cookie")
