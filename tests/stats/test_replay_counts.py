"""The compiled observer counts what ``Aggregator.consume`` counts, and marks the same pages.

Both paths serve the same requests with the same clocks and the same day key; the
aggregator's pending counters, its crawler counts, the visits held for a missing key, the
messages sent (the Server-Timing mark of a counted page) and the log must be equal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.replay import _ABSENT, BOT, CHROME, Plan, both, request

pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

STATS = {"stats": True, "store": "memory://"}


def visits() -> list[dict[str, Any]]:
    return [
        request(),
        request(path="/"),
        request(path="/users/bob@example.com/orders/77", query=b"utm_source=mail&q=x"),
        request(headers=[(b"host", b"shop.example.com"), (b"user-agent", BOT.encode())]),
        request(headers=[(b"user-agent", b"curl/8.5.0")]),
        request(
            headers=[(b"referer", b"https://news.example.org/a?id=1"), (b"host", b"h.example")]
        ),
        request(
            headers=[(b"sec-purpose", b"prefetch;prerender"), (b"user-agent", CHROME.encode())]
        ),
        request(headers=[(b"purpose", b"prefetch")]),
        request(method="HEAD"),
        request(method="POST"),
        request(client=("2001:db8::1", 1)),
        request(client=None),
        request(client=_ABSENT),
        request(headers=[(b"user-agent", "Mozilla/5.0 caf\u00e9".encode("latin-1"))]),
    ]


def plans() -> list[Plan]:
    return [
        Plan(),
        Plan(ctype=b"text/html; charset=utf-8"),
        Plan(ctype=b"  TEXT/HTML"),
        Plan(),
        Plan(),
        Plan(ctype=b"application/xhtml+xml"),
        Plan(),
        Plan(),
        Plan(),
        Plan(),
        Plan(status=201),
        Plan(ctype=b"\xa0text/html"),
        Plan(status=404),
        Plan(ctype=b"application/json"),
    ]


def test_counts_and_marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = both(tmp_path, monkeypatch, visits(), plans(), **STATS)
    marked = [(b"server-timing", b"bg") in s[0]["headers"] for s in out.sent]
    # GET, 2xx, HTML (after Latin-1 whitespace, in any case), not speculative; a crawler's
    # page is marked too (the rule does not read the user agent), and counted as a bot.
    assert marked == [True] * 6 + [False] * 4 + [True, True, False, False]
    assert sum(view for view, _, _ in out.pending.values()) == 5
    # bingbot, curl, and the request without a user agent
    assert sorted(reason for _, reason in out.bots) == ["crawler", "empty", "tool"]


def test_counts_without_an_access_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = both(tmp_path, monkeypatch, visits(), plans(), access_log=None, **STATS)
    assert out.log == b"" and out.pending


def test_a_day_without_its_key_is_held_for_the_flusher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = both(tmp_path, monkeypatch, visits(), plans(), day_key=None, **STATS)
    assert out.unkeyed


def test_beacons_are_counted_by_their_own_rules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = [(b"user-agent", CHROME.encode()), (b"host", b"shop.example.com")]
    page, event = (
        b"u=http%3A%2F%2Fshop.example.com%2Fp%2F1",
        b"u=http%3A%2F%2Fshop.example.com%2F&e=signup",
    )
    reqs = [
        request(path="/_bg/b.gif", query=page, headers=headers),
        request(path="/_bg/b.gif", query=event, headers=headers),
        request(path="/_bg/b.gif", query=b"", headers=headers),  # refused: 400
        request(),
    ]
    out = both(tmp_path, monkeypatch, reqs, [Plan()], cookieless=True, **STATS)
    assert sum(events for _, events, _ in out.pending.values()) == 1
    assert sum(views for views, _, _ in out.pending.values()) == 2


def test_with_the_gate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    both(tmp_path, monkeypatch, visits(), plans(), consent=True, **STATS)


def test_odd_response_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [request(), request(), request()]
    ps = [Plan(ctype=b"Text/Html"), Plan(ctype=b"\x1ctext/html"), Plan(ctype=b"")]
    both(tmp_path, monkeypatch, reqs, ps, **STATS)


_plans = st.builds(
    Plan,
    status=st.sampled_from([200, 204, 299, 300, 404, 0]),
    chunks=st.lists(st.integers(0, 100), max_size=2).map(tuple),
    fail=st.sampled_from(["", "", "", "before", "after"]),
    ctype=st.sampled_from(
        [
            b"text/html",
            b"text/plain",
            b" text/html;q=1",
            b"\x85text/html",
            b"application/xhtml+xml",
            b"",
        ]
    ),
)
_agents = st.sampled_from([CHROME.encode(), BOT.encode(), b"", b"\xe9\xff", b"curl/8"])
_purposes = st.sampled_from([None, b"prefetch", b"xprerenderx", b"nothing"])


@st.composite
def _requests(draw: Any) -> dict[str, Any]:
    headers = [(b"host", draw(st.sampled_from([b"a.example", b"B.example", b"\xe9"])))]
    agent = draw(st.one_of(st.none(), _agents))
    if agent is not None:
        headers.append((b"user-agent", agent))
    purpose = draw(_purposes)
    if purpose is not None:
        headers.append((draw(st.sampled_from([b"sec-purpose", b"purpose"])), purpose))
    if draw(st.booleans()):
        headers.append(
            (b"referer", draw(st.sampled_from([b"https://x.example/p", b"https://a.example/q"])))
        )
    return request(
        method=draw(st.sampled_from(["GET", "GET", "HEAD", "POST"])),
        path=draw(st.sampled_from(["/", "/products/3", "/a/bob@example.com"])),
        query=draw(st.sampled_from([b"", b"utm_campaign=x", b"token=abc"])),
        headers=headers,
        client=draw(st.sampled_from([("203.0.113.9", 1), ("2001:db8::2", 1), None])),
    )


@given(
    st.lists(st.tuples(_requests(), _plans), min_size=1, max_size=20),
    st.sampled_from([{}, {"access_log": None}, {"consent": True}, {"day_key": None}]),
)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_property(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pairs: list[tuple[dict[str, Any], Plan]],
    extra: dict[str, Any],
) -> None:
    both(tmp_path, monkeypatch, [r for r, _ in pairs], [p for _, p in pairs], **STATS, **extra)
