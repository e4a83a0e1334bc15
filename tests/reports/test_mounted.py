"""The report API as the middleware mounts it: real traffic in, the same numbers out."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from beaconguard import BeaconGuard
from tests.reports.conftest import PLANTED, TOKEN
from tests.stats.helpers import CHROME, FIREFOX

AUTH = {"Authorization": f"Bearer {TOKEN}"}


async def page(request: Request) -> HTMLResponse:
    return HTMLResponse("<p>hello</p>")


def site() -> Starlette:
    return Starlette(routes=[Route("/", page), Route("/pricing", page),
                             Route("/users/{name}", page)])


@pytest.fixture
def guard(make_settings, tmp_path) -> Iterator[BeaconGuard]:  # type: ignore[no-untyped-def]
    g = BeaconGuard(site(), settings=make_settings(
        report_token=TOKEN, min_visitors=1, store=f"sqlite:///{tmp_path / 's.db'}",
        consent=False))
    try:
        yield g
    finally:
        g.close()


def get(app, path: str, *, client: str = "127.0.0.1", headers=None, params=None) -> httpx.Response:  # type: ignore[no-untyped-def]
    # TestClient runs the app on its own thread's loop, so this works even while the
    # session's Playwright browser holds an event loop on the main thread.
    c = TestClient(app, base_url="http://shop.example", client=(client, 40000))
    return c.get(path, headers=headers, params=params)


def test_traffic_shows_up_in_the_api(guard) -> None:  # type: ignore[no-untyped-def]
    for i in range(3):
        get(guard, "/pricing", client=f"198.51.100.{i}", headers={"user-agent": CHROME})
    get(guard, "/", client="198.51.100.9", headers={"user-agent": FIREFOX})
    assert guard.stats is not None
    guard.stats.flush()
    r = get(guard, "/_bg/api/report", headers=AUTH, params={"since": "1d"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["from"] == body["to"] == dt.datetime.now(dt.UTC).date().isoformat()
    assert body["rows"][0] == {"key": "/pricing", "pageviews": 3, "visitors": 3, "events": 0}
    assert {"key": "/", "pageviews": 1, "visitors": 1, "events": 0} in body["rows"]
    guard.stats.flush()
    again = get(guard, "/_bg/api/report", headers=AUTH, params={"since": "1d"}).json()
    assert again["totals"] == body["totals"]  # asking for a report is not a pageview


def test_auth_through_the_middleware(guard) -> None:  # type: ignore[no-untyped-def]
    assert get(guard, "/_bg/api/report").status_code == 401
    wrong = get(guard, "/_bg/api/report", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 403
    assert get(guard, "/_bg/api/report", headers=AUTH, params={"by": "x"}).status_code == 400


def test_off_without_a_token(make_settings) -> None:  # type: ignore[no-untyped-def]
    g = BeaconGuard(site(), settings=make_settings(consent=False))
    try:
        assert "/_bg/api/report" not in g.routes
        r = get(g, "/_bg/api/report", headers=AUTH)
        assert r.status_code == 404  # the app's own answer: nothing is mounted
    finally:
        g.close()


def test_mounted_api_leaks_nothing(guard) -> None:  # type: ignore[no-untyped-def]
    for client in (PLANTED["ip"], PLANTED["ipv6"]):
        get(guard, f"/users/{PLANTED['email']}", client=client,
            params={"token": PLANTED["token"], "email": PLANTED["email"]},
            headers={"user-agent": PLANTED["ua"], "cookie": f"session={PLANTED['session']}",
                     "referer": f"https://mail.example/{PLANTED['email']}?s={PLANTED['session']}"})
    assert guard.stats is not None
    guard.stats.flush()
    text = "\n".join(
        get(guard, "/_bg/api/report", headers=AUTH, params={"since": "1d", "by": by}).text
        for by in ("page", "referrer", "browser", "os", "device", "country")
    )
    assert "/users/" in text and "mail.example" in text
    for name, raw in PLANTED.items():
        assert raw not in text, name


def test_api_without_the_statistics_part_reads_the_store_itself(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.reports.conftest import DAY0, fill

    url = f"sqlite:///{tmp_path / 'filled.db'}"
    from beaconguard.stats.store import open_store

    store = open_store(url)
    fill(store, make_settings(store=url))
    store.close()
    g = BeaconGuard(site(), settings=make_settings(store=url, stats=False, consent=False,
                                                   report_token=TOKEN))
    try:
        assert g.stats is None
        r = get(g, "/_bg/api/report", headers=AUTH, params={"from": DAY0, "to": DAY0})
        assert r.status_code == 200 and r.json()["rows"][0]["key"] == "/a"
    finally:
        g.close()


def test_api_without_the_statistics_part_never_touches_a_foreign_database(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The audit: with stats off, mounting the API added beaconguard's tables to any file."""
    import sqlite3

    foreign = tmp_path / "app.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE users (email TEXT)")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    with pytest.raises(ValueError, match="not a beaconguard statistics database"):
        BeaconGuard(site(), settings=make_settings(store=f"sqlite:///{foreign}", stats=False,
                                                   consent=False, report_token=TOKEN))
    assert foreign.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["app.db"]
