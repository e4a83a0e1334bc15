"""The beacon endpoints: what they accept, how they refuse, and that refusals count nothing."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from importlib import resources

import pytest
from starlette.testclient import TestClient

from beaconguard import BeaconGuard
from beaconguard.stats.query import ReportQuery, daily_series, event_properties, run_report
from tests.support.apps import starlette_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"
JSON = {"content-type": "application/json", "user-agent": UA}
PAGE = "http://testserver/blog/hello"


@pytest.fixture
def guard(make_settings):  # type: ignore[no-untyped-def]
    g = BeaconGuard(starlette_app(), settings=make_settings(cookieless=True, beacon_props=("plan",)))
    yield g
    g.close()


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def report(guard: BeaconGuard, by: str = "page") -> dict:  # type: ignore[type-arg]
    assert guard.stats is not None
    guard.stats.flush()
    q = ReportQuery(start=today(), end=today(), by=by, min_visitors=1)
    return run_report(guard.stats.store, q)


def post(client: TestClient, body: object, headers: dict[str, str] = JSON):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/_bg/e", content=data, headers=headers)


def test_send_beacon_counts_an_anonymized_page_view(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = post(client, {"u": "http://testserver/users/alice@example.com/orders/123456"
                               "?utm_source=mail&token=abc123", "r": "https://news.example/x?id=9"})
        assert r.status_code == 204 and r.headers["cache-control"] == "no-store"
    rep = report(guard)
    assert rep["rows"] == [{"key": "/users/{email}/orders/{int}", "pageviews": 1, "visitors": 1,
                            "events": 0}]
    assert report(guard, "referrer")["rows"][0]["key"] == "news.example"
    assert report(guard, "utm_source")["rows"][0]["key"] == "mail"
    assert report(guard, "browser")["rows"][0]["key"] == "Firefox"


def test_event_with_allowlisted_property(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        assert post(client, {"u": PAGE, "e": "signup", "p": {"plan": "pro"}}).status_code == 204
    assert report(guard, "event")["rows"] == [
        {"key": "signup", "pageviews": 0, "visitors": 1, "events": 1}
    ]
    assert guard.stats is not None
    with TestClient(guard) as client:
        phone = {"u": PAGE, "e": "signup", "p": {"plan": 5551234567}}
        assert post(client, phone).status_code == 204
        assert post(client, {"u": PAGE, "e": "signup", "p": {"plan": 3}}).status_code == 204
    guard.stats.flush()
    props = event_properties(guard.stats.store, today(), today(), "signup", min_visitors=1)
    assert props["properties"] == {"plan": {"pro": 1, "{redacted}": 1, "3": 1}}


def test_pixel(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = client.get("/_bg/b.gif", params={"u": PAGE, "r": ""}, headers={"user-agent": UA})
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        assert r.headers["cache-control"] == "no-store"
        assert r.content[:6] == b"GIF89a" and r.content[6:10] == b"\x01\x00\x01\x00"
    assert report(guard)["rows"][0]["key"] == "/blog/hello"


def test_beacon_without_consent_is_answered_but_not_counted(make_settings) -> None:  # type: ignore[no-untyped-def]
    g = BeaconGuard(starlette_app(), settings=make_settings())  # no gate, not cookieless
    with TestClient(g) as client:
        assert post(client, {"u": PAGE}).status_code == 204
    assert report(g)["totals"]["pageviews"] == 0
    g.close()


BAD_POSTS = [
    (b"{" + b" " * 5000 + b"}", JSON, 413, "larger than"),
    (b'{"u": "http://testserver/"', JSON, 400, "not valid JSON"),
    (b"\xff\xfe", JSON, 400, "not valid JSON"),
    (b"[1, 2]", JSON, 400, "JSON object"),
    (b'"just a string"', JSON, 400, "JSON object"),
    (b'{"u": NaN}', JSON, 400, "not valid JSON"),
    (b'{"u": "http://testserver/", "e": "x", "p": {"plan": Infinity}}', JSON, 400, "JSON"),
    (b"[" * 1000 + b"]" * 1000, JSON, 400, ""),
    (json.dumps({"u": PAGE}).encode(), {"content-type": "text/plain"}, 415, "application/json"),
    (json.dumps({"u": PAGE}).encode(), {"content-type": "application/x-www-form-urlencoded"},
     415, "application/json"),
    (json.dumps({"u": PAGE}).encode(), {}, 415, "application/json"),
    (json.dumps({"u": PAGE, "uid": "alice"}).encode(), JSON, 400, "unknown field"),
    (json.dumps({"u": PAGE, "cookie": "s=1"}).encode(), JSON, 400, "unknown field"),
    (json.dumps({}).encode(), JSON, 400, "required"),
    (json.dumps({"u": 42}).encode(), JSON, 400, "required"),
    (json.dumps({"u": "javascript:alert(1)"}).encode(), JSON, 400, "http(s)"),
    (json.dumps({"u": "ftp://testserver/x"}).encode(), JSON, 400, "http(s)"),
    (json.dumps({"u": "http://"}).encode(), JSON, 400, "http(s)"),
    (json.dumps({"u": "http://[::1/x"}).encode(), JSON, 400, "not a URL"),
    (json.dumps({"u": "http://testserver:99999/"}).encode(), JSON, 400, "not a URL"),
    (json.dumps({"u": "http://testserver/" + "a" * 2100}).encode(), JSON, 400, "plausible"),
    (json.dumps({"u": "http://testserver/\nx"}).encode(), JSON, 400, "plausible"),
    (json.dumps({"u": "https://evil.example/"}).encode(), JSON, 403, "not a page of this site"),
    (json.dumps({"u": PAGE, "r": 7}).encode(), JSON, 400, "referrer"),
    (json.dumps({"u": PAGE, "e": "<script>"}).encode(), JSON, 400, "event name"),
    (json.dumps({"u": PAGE, "e": "x" * 65}).encode(), JSON, 400, "event name"),
    (json.dumps({"u": PAGE, "p": {"plan": "pro"}}).encode(), JSON, 400, "needs an event"),
    (json.dumps({"u": PAGE, "e": "buy", "p": {"email": "a@b.example"}}).encode(), JSON, 400,
     "not in beacon_props"),
    (json.dumps({"u": PAGE, "e": "buy", "p": ["plan"]}).encode(), JSON, 400, "object"),
    (json.dumps({"u": PAGE, "e": "buy", "p": {"plan": {"nested": 1}}}).encode(), JSON, 400,
     "string, number or boolean"),
]


@pytest.mark.parametrize(("body", "headers", "status", "reason"), BAD_POSTS)
def test_bad_beacons_get_a_4xx_with_a_reason_and_count_nothing(  # type: ignore[no-untyped-def]
    guard, body, headers, status, reason
) -> None:
    with TestClient(guard, raise_server_exceptions=True) as client:
        r = client.post("/_bg/e", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert reason in r.text and r.text.endswith("\n") and len(r.text) < 200
    assert report(guard)["totals"] == {"pageviews": 0, "visitors": 0, "events": 0}


def test_streamed_oversized_body_is_refused(guard) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"u": "' + b"a" * 3000
        yield b"b" * 3000 + b'"}'

    with TestClient(guard) as client:
        r = client.post("/_bg/e", content=chunks(), headers=JSON)
    assert r.status_code == 413
    assert report(guard)["totals"]["pageviews"] == 0


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("", 400, "required"),
        ("u=http://testserver/&x=1", 400, "unknown field"),
        ("u=http://testserver/&u=http://testserver/b", 400, "twice"),
        ("u=https://other.example/", 403, "not a page"),
        ("u=" + "a" * 7000, 414, "too long"),
        ("u=data:text/html,hi", 400, "http(s)"),
    ],
)
def test_bad_pixels(guard, query, status, reason) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = client.get("/_bg/b.gif?" + query)
    assert r.status_code == status and reason in r.text
    assert report(guard)["totals"]["pageviews"] == 0


def test_wrong_methods(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = client.get("/_bg/e")
        assert r.status_code == 405 and r.headers["allow"] == "POST"
        assert client.post("/_bg/b.gif").status_code == 405
        assert client.delete("/_bg/b.js").status_code == 405


def test_script_is_small_and_served(guard) -> None:  # type: ignore[no-untyped-def]
    source = resources.files("beaconguard").joinpath("static/bg.js").read_bytes()
    assert len(gzip.compress(source, 9)) < 1024
    with TestClient(guard) as client:
        r = client.get("/_bg/b.js")
    assert r.status_code == 200 and r.content == source
    assert r.headers["content-type"].startswith("text/javascript")


def test_server_marks_the_pages_it_counted(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        assert client.get("/", headers={"user-agent": UA}).headers.get("server-timing") == "bg"
        assert "server-timing" not in client.get("/echo").headers  # JSON
        assert "server-timing" not in client.head("/").headers
        prefetch = client.get("/", headers={"sec-purpose": "prefetch"})
        assert "server-timing" not in prefetch.headers
    assert guard.stats is not None
    guard.stats.flush()
    series = daily_series(guard.stats.store, today(), today())
    assert series[0]["pageviews"] == 1


#: Event names that carry a person: a session token, a user id, a phone number, an address.
IDENTIFIER_EVENTS = [
    "tok9f8e7d6c5b4a39281706",
    "user.8812345",
    "clicked_5550123456789",
    "signup:tok9f8e7d6c5b4a39281706",
    "uid-5550123456789",
    "3f2a9c1e8b7d6a5f4e3d",
    "10.20.30.40",
]


@pytest.mark.parametrize("name", IDENTIFIER_EVENTS)
def test_identifier_like_event_names_are_refused(guard, name) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = post(client, {"u": PAGE, "e": name, "p": {"plan": "pro"}})
        assert r.status_code == 400 and "looks like an identifier" in r.text, r.text
        r = client.get("/_bg/b.gif", params={"u": PAGE, "e": name}, headers={"user-agent": UA})
        assert r.status_code == 400 and "looks like an identifier" in r.text, r.text
        assert name not in r.text  # the answer names the kind, not the value
    assert report(guard)["totals"] == {"pageviews": 0, "visitors": 0, "events": 0}
    assert report(guard, "event")["rows"] == []


def test_label_like_event_names_are_kept(guard) -> None:  # type: ignore[no-untyped-def]
    names = ["signup", "video_play", "Outbound_Link:_Click", "step-2", "checkout.v2"]
    with TestClient(guard) as client:
        for name in names:
            assert post(client, {"u": PAGE, "e": name}).status_code == 204
    assert sorted(r["key"] for r in report(guard, "event")["rows"]) == sorted(names)


def test_head_and_prefetched_pixels_are_answered_not_counted(guard) -> None:  # type: ignore[no-untyped-def]
    with TestClient(guard) as client:
        r = client.head("/_bg/b.gif", params={"u": PAGE}, headers={"user-agent": UA})
        assert r.status_code == 200 and r.headers["content-type"] == "image/gif"
        for purpose in ({"sec-purpose": "prefetch"}, {"sec-purpose": "prefetch;prerender"},
                        {"purpose": "prefetch"}):
            r = client.get("/_bg/b.gif", params={"u": PAGE}, headers={"user-agent": UA, **purpose})
            assert r.status_code == 200 and r.content[:6] == b"GIF89a"
            r = post(client, {"u": PAGE}, {**JSON, **purpose})
            assert r.status_code == 204
    assert report(guard)["totals"] == {"pageviews": 0, "visitors": 0, "events": 0}
    with TestClient(guard) as client:  # the same pixel, plainly requested, counts
        client.get("/_bg/b.gif", params={"u": PAGE}, headers={"user-agent": UA})
    assert report(guard)["totals"]["pageviews"] == 1
