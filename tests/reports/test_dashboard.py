"""The dashboard app over real stores filled through the real aggregator."""

from __future__ import annotations

import re
import warnings

import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from beaconguard.reports.dashboard import Dashboard
from beaconguard.reports.page import CSP
from beaconguard.stats.store import open_store
from tests.reports.conftest import DAY0, PLANTED, TOKEN

PERIOD = {"from": DAY0, "to": DAY0}


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture
def dashboard(fed_store, make_settings):  # type: ignore[no-untyped-def]
    return Dashboard(make_settings(report_token=TOKEN, min_visitors=5), store=fed_store)


def test_token_as_basic_password_or_bearer(dashboard) -> None:  # type: ignore[no-untyped-def]
    c = TestClient(dashboard)
    r = c.get("/", params=PERIOD)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Basic ")
    assert "Top pages" not in r.text
    assert c.get("/", params=PERIOD, auth=("me", "wrong")).status_code == 401
    assert c.get("/", params=PERIOD, auth=("me", TOKEN)).status_code == 200
    ok = c.get("/", params=PERIOD, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_page_content_from_the_store(dashboard) -> None:  # type: ignore[no-untyped-def]
    r = TestClient(dashboard).get("/", params=PERIOD, auth=("me", TOKEN))
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == CSP
    assert r.headers["cache-control"] == "no-store"
    text = words(r.text)
    assert "Pageviews 31" in text and "Visitors 21" in text
    assert "Bot requests filtered 5" in text and "crawler 4" in text and "tool 1" in text
    assert "news.example" in text and "Chrome" in text and "desktop" in text
    assert "statistics 2 (67%)" in text and "marketing 1 (33%)" in text
    assert "/a" in text and "/c" in text
    assert "/b" not in text.replace("/blog", "")  # 3 visitors: below k = 5
    assert "with fewer than 5 visitors withheld" in text
    assert "<svg" in r.text and "2026-03-10" in text


def test_mounted_in_an_app_and_unprotected_behind_own_auth(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    board = Dashboard(make_settings(), store=fed_store, protect=False)
    app = Starlette(routes=[Mount("/stats", app=board)])
    r = TestClient(app).get("/stats/", params=PERIOD)
    assert r.status_code == 200 and "Top pages" in r.text


def test_only_the_root_is_a_page(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    board = Dashboard(make_settings(), store=fed_store, protect=False)
    app = Starlette(routes=[Mount("/stats", app=board)])
    assert TestClient(app).get("/stats/anything").status_code == 404
    assert TestClient(app).get("/stats").status_code == 200  # redirected to /stats/
    assert TestClient(board).get("/x").status_code == 404
    assert TestClient(board).get("/").status_code == 200


@pytest.mark.parametrize("root_path", ["", "/app"])
def test_only_the_root_is_a_page_under_a_root_path(fed_store, make_settings, root_path) -> None:  # type: ignore[no-untyped-def]
    """The audit: with root_path="/app", /stats/x was sliced to "" and answered 200."""
    board = Dashboard(make_settings(), store=fed_store, protect=False)
    app = Starlette(routes=[Mount("/stats", app=board)])
    client = TestClient(app, root_path=root_path, follow_redirects=False)
    assert client.get("/stats/x").status_code == 404
    assert client.get("/stats/a/b/c").status_code == 404
    assert client.get("/stats/", params=PERIOD).status_code == 200


@pytest.mark.parametrize(
    ("path", "root_path", "status"),
    [
        ("/stats/x", "/app/stats", 404),  # a path without the root_path prefix: relative
        ("/app/stats/x", "/app/stats", 404),
        ("/app/statsx", "/app/stats", 404),  # not below the mount at all
        ("/app/stats", "/app/stats", 200),
        ("/app/stats/", "/app/stats", 200),
        ("/", "/app/stats", 200),  # a server that strips root_path from path
        ("/anything", "", 404),
    ],
)
def test_route_path_of_raw_scopes(fed_store, make_settings, path, root_path, status) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    board = Dashboard(make_settings(min_visitors=1), store=fed_store, protect=False)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": path, "raw_path": path.encode(),
             "root_path": root_path, "query_string": b"", "headers": [],
             "client": ("127.0.0.1", 1), "server": ("shop.example", 80)}
    sent: list[dict] = []  # type: ignore[type-arg]

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    asyncio.run(board(scope, receive, send))
    assert sent[0]["status"] == status


def test_protect_needs_a_token(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="protect=False"):
        Dashboard(make_settings(), store=fed_store)


@pytest.mark.parametrize(
    ("query", "reason"),
    [("since=forever", "number of days"), ("from=2026-02-30", "not a date"),
     ("period=7d", "unknown parameter"), ("from=2026-03-05&to=2026-03-01", "after"),
     ("since=1d&since=30d", "since: given more than once")],
)
def test_bad_period_is_400_with_a_reason(dashboard, query, reason) -> None:  # type: ignore[no-untyped-def]
    r = TestClient(dashboard).get("/?" + query, auth=("me", TOKEN))
    assert r.status_code == 400 and reason in r.text


def test_default_period_and_period_links(dashboard) -> None:  # type: ignore[no-untyped-def]
    r = TestClient(dashboard).get("/", auth=("me", TOKEN))
    assert r.status_code == 200
    assert '<a href="?since=30d" aria-current=page>' in r.text
    r = TestClient(dashboard).get("/?since=7d", auth=("me", TOKEN))
    assert '<a href="?since=7d" aria-current=page>' in r.text


def test_only_get(dashboard) -> None:  # type: ignore[no-untyped-def]
    r = TestClient(dashboard).post("/", auth=("me", TOKEN))
    assert r.status_code == 405


def test_own_store_opened_and_closed_on_lifespan(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'own.db'}"
    open_store(url).close()  # the app's writer creates the database; the board only reads
    board = Dashboard(make_settings(store=url, report_token=TOKEN))
    with TestClient(board) as c:
        r = c.get("/", auth=("me", TOKEN))
        assert r.status_code == 200 and "Nothing to show" in r.text


def test_own_store_is_read_only_and_never_someone_elses(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    """The audit: Dashboard(settings) added beaconguard's tables to any SQLite file."""
    import sqlite3

    foreign = tmp_path / "app.db"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE users (email TEXT)")
    db.execute("INSERT INTO users VALUES ('someone@example.com')")
    db.commit()
    db.close()
    before = foreign.read_bytes()
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (foreign, empty):
        with pytest.raises(ValueError, match="not a beaconguard statistics database"):
            Dashboard(make_settings(store=f"sqlite:///{path}", report_token=TOKEN))
    with pytest.raises(ValueError, match="no statistics database"):
        Dashboard(make_settings(store=f"sqlite:///{tmp_path / 'missing.db'}",
                                report_token=TOKEN))
    assert foreign.read_bytes() == before and empty.read_bytes() == b""
    assert not (tmp_path / "missing.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "empty.db"]


def test_no_planted_identifier_on_the_page(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    board = Dashboard(make_settings(min_visitors=1), store=fed_store, protect=False)
    html = TestClient(board).get("/", params=PERIOD).text
    assert "mail.example" in html  # the planted visit is shown (k = 1), as a bare host
    for name, raw in PLANTED.items():
        assert raw not in html, name
    assert "alice" not in html and "PLANTED" not in html


def test_a_quiet_period_is_withheld_on_the_page(make_settings) -> None:  # type: ignore[no-untyped-def]
    """One visitor in the period: the totals and the chart must not show what k hides."""
    from tests.stats.helpers import NOON, Feeder

    store = open_store("memory://")
    f = Feeder(store, make_settings())
    f.visit("/lonely", client="192.0.2.200", at=NOON)
    for i in range(6):
        f.visit("/", client=f"192.0.2.{i}", at=NOON + 86400)
    f.flush()
    board = Dashboard(make_settings(min_visitors=5), store=store, protect=False)
    html = TestClient(board).get("/", params=PERIOD).text
    text = words(html)
    assert "Pageviews \N{EN DASH} Visitors \N{EN DASH}" in text and "Totals withheld" in text
    assert f"{DAY0} \N{EN DASH} \N{EN DASH}" in text  # the day's row in the table
    html = TestClient(board).get("/", params={"from": DAY0, "to": "2026-03-11"}).text
    text = words(html)
    assert "Pageviews 7 Visitors 7" in text  # 7 >= k over both days: shown
    assert f"{DAY0} \N{EN DASH} \N{EN DASH}" in text and "2026-03-11 6 6" in text  # the lonely day stays hidden
