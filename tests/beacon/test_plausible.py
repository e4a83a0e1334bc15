"""The Plausible-compatible ingest endpoint, through the whole middleware and a real store."""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from beaconguard import BeaconGuard
from beaconguard.beacon.payload import BeaconError
from beaconguard.beacon.plausible import translate
from beaconguard.stats.query import ReportQuery, bot_counts, event_properties, run_report
from tests.reports.conftest import PLANTED
from tests.stats.helpers import CHROME

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

ORIGIN = "http://testserver"
PATH = "/api/event"


async def home(request: Any) -> PlainTextResponse:
    return PlainTextResponse("home")


@pytest.fixture
def make(make_settings, tmp_path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    guards: list[BeaconGuard] = []

    def build(**overrides: Any) -> tuple[TestClient, BeaconGuard]:
        values: dict[str, Any] = {"plausible_path": PATH, "beacon_props": ("plan",),
                                  "store": f"sqlite:///{tmp_path / f'{len(guards)}.db'}"}
        values.update(overrides)
        guard = BeaconGuard(Starlette(routes=[Route("/", home)]),
                            settings=make_settings(**values))
        guards.append(guard)
        return TestClient(guard, base_url=ORIGIN, headers={"user-agent": CHROME}), guard

    yield build
    for g in guards:
        g.close()


def post(client: TestClient, body: Any, ctype: str = "text/plain", **headers: str) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(PATH, content=raw, headers={"content-type": ctype, **headers})


def consent(client: TestClient, **choice: bool) -> None:
    r = client.post("/_bg/consent", json=choice, headers={"origin": ORIGIN})
    assert r.status_code == 200, r.text


def report(guard: BeaconGuard, by: str = "page") -> dict[str, Any]:
    assert guard.stats is not None
    guard.stats.flush()
    today = dt.datetime.now(dt.UTC).date()
    return run_report(guard.stats.store, ReportQuery(today, today, by=by, min_visitors=1))


VIEW = {"n": "pageview", "u": f"{ORIGIN}/pricing?utm_source=mastodon", "d": "testserver",
        "r": "https://news.example/item?id=7"}


def test_pageview_with_consent_is_counted(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make()
    consent(client, statistics=True)
    r = post(client, VIEW)
    assert (r.status_code, r.text) == (202, "ok")
    rows = report(guard)["rows"]
    assert {"key": "/pricing", "pageviews": 1, "visitors": 1, "events": 0} in rows
    assert report(guard, "referrer")["rows"][0]["key"] == "news.example"
    assert report(guard, "utm_source")["rows"][0]["key"] == "mastodon"


def test_custom_event_with_props_and_long_names(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make()
    consent(client, statistics=True)
    body = {"name": "Signup Click", "url": f"{ORIGIN}/pricing", "domain": "testserver",
            "props": {"plan": "pro"}, "v": 2, "i": True}
    assert post(client, body, "application/json").status_code == 202
    rows = report(guard, "event")["rows"]
    assert rows == [{"key": "Signup_Click", "pageviews": 0, "visitors": 1, "events": 1}]


def test_without_consent_nothing_is_counted(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make()
    assert post(client, VIEW).status_code == 202  # like Plausible: accepted, not counted
    consent(client, statistics=False, marketing=True)
    assert post(client, VIEW).status_code == 202
    assert report(guard)["totals"]["pageviews"] == 0


def test_cookieless_counts_without_consent(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    assert post(client, VIEW).status_code == 202
    assert report(guard)["totals"]["pageviews"] == 1


def test_bots_are_filtered_not_counted(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    r = post(client, VIEW, **{"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1)"})
    assert r.status_code == 202
    assert report(guard)["totals"]["pageviews"] == 0
    today = dt.datetime.now(dt.UTC).date()
    assert guard.stats is not None
    assert sum(bot_counts(guard.stats.store, today, today).values()) == 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"u": f"{ORIGIN}/", "d": "testserver"}, 400, "'n'"),
        ({"n": "pageview", "u": f"{ORIGIN}/"}, 400, "'d'"),
        ({"n": "pageview", "d": "testserver"}, 400, "'u'"),
        ({**VIEW, "x": 1}, 400, "unknown field"),
        ({**VIEW, "u": "https://elsewhere.example/"}, 403, "not a page of this site"),
        ({**VIEW, "n": "<script>"}, 400, "'n' must be"),
        ({**VIEW, "n": "buy", "p": {"email": "a@b.example"}}, 400, "beacon_props"),
        ({**VIEW, "n": "buy", "p": "{not json"}, 400, "'p'"),
        ({"n": "pageview", "name": "pageview", "u": f"{ORIGIN}/", "d": "x"}, 400, "twice"),
        ([1, 2], 400, "JSON object"),
        (b"\xff\xfe", 400, "valid JSON"),
        (b"{" * 5000, 413, "larger than"),
    ],
)
def test_bad_payloads_get_a_4xx_with_a_reason(make, body, status, words) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    r = post(client, body)
    assert r.status_code == status and words in r.text, r.text
    assert report(guard)["totals"]["pageviews"] == 0


def test_method_and_content_type(make) -> None:  # type: ignore[no-untyped-def]
    client, _ = make()
    assert client.get(PATH).status_code == 405
    assert post(client, VIEW, "application/x-www-form-urlencoded").status_code == 415


def test_off_unless_configured(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(plausible_path=None, cookieless=True)
    assert post(client, VIEW).status_code == 404  # the app's answer
    assert PATH not in guard.routes


def test_setting_is_validated(make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="plausible_path"):
        make_settings(plausible_path="api/event")
    assert make_settings(plausible_path="").plausible_path is None


def test_translate_ignores_tracker_extras_and_drops_pageview_props() -> None:
    out = translate({"n": "pageview", "u": "http://x/", "d": "x", "h": 1, "w": 1280,
                     "p": {"plan": "pro"}}, "x")
    assert out == {"u": "http://x/", "r": None}
    with pytest.raises(BeaconError):
        translate({"n": "pageview", "u": "http://x/", "d": ""}, "x")


def test_older_trackers_meta_field_is_the_properties(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    assert post(client, {**VIEW, "m": "1"}).status_code == 202  # dropped with a page view
    body = {"n": "buy", "u": f"{ORIGIN}/pricing", "d": "testserver", "m": '{"plan": "pro"}'}
    assert post(client, body).status_code == 202
    assert post(client, {**body, "m": None, "meta": {"plan": "team"}}).status_code == 400
    r = post(client, {**body, "m": '{"email": "a@b.example"}'})
    assert r.status_code == 400 and "beacon_props" in r.text
    assert report(guard)["totals"] == {"pageviews": 1, "visitors": 1, "events": 1}
    assert guard.stats is not None
    props = event_properties(guard.stats.store, *[dt.datetime.now(dt.UTC).date()] * 2, "buy",
                             min_visitors=1)
    assert props["properties"] == {"plan": {"pro": 1}}


@pytest.mark.parametrize(
    ("domain", "status"),
    [
        ("testserver", 202),
        ("TestServer.", 202),
        ("www.testserver", 202),  # Plausible's own rule: a leading www. is the same site
        ("static.example", 202),  # in beacon_hosts
        ("testserver,static.example", 202),
        ("other.example", 403),
        ("testserver,other.example", 403),
        ("testserver.evil.example", 403),
        ("", 400),
    ],
)
def test_domain_must_be_this_site(make, domain, status) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True, beacon_hosts=("static.example",))
    r = post(client, {**VIEW, "d": domain})
    assert r.status_code == status, r.text
    if status == 403:
        assert "'d'" in r.text and "not this site" in r.text
    assert report(guard)["totals"]["pageviews"] == (1 if status == 202 else 0)


@pytest.mark.parametrize("name", ["clicked 5550123456789", "user.8812345",
                                  "tok9f8e7d6c5b4a39281706", "Signup sess_tok9f8e7d6c5b4a39281706"])
def test_identifier_like_event_names_are_refused(make, name) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    r = post(client, {**VIEW, "n": name})
    assert r.status_code == 400 and "'n' looks like an identifier" in r.text, r.text
    assert report(guard, "event")["rows"] == []
    assert report(guard)["totals"] == {"pageviews": 0, "visitors": 0, "events": 0}


def test_planted_identifiers_never_reach_the_report(make) -> None:  # type: ignore[no-untyped-def]
    client, guard = make(cookieless=True)
    body = {"n": "pageview", "d": "testserver",
            "u": f"{ORIGIN}/users/{PLANTED['email']}?token={PLANTED['token']}"
                 f"&sid={PLANTED['session']}",
            "r": f"https://mail.example/{PLANTED['email']}?s={PLANTED['session']}"}
    assert post(client, body, **{"user-agent": PLANTED["ua"],
                                 "cookie": f"session={PLANTED['session']}"}).status_code == 202
    text = json.dumps([report(guard, by) for by in ("page", "referrer", "browser", "os")])
    assert "/users/" in text and "mail.example" in text
    for name, raw in PLANTED.items():
        assert raw not in text, name
