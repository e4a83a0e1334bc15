"""Exact counts with 4 uvicorn worker processes sharing one store (SQLite, then Redis).

20k requests over loopback from many simulated clients (X-Forwarded-For, believed from the
trusted proxy 127.0.0.1), over 32 keep-alive connections (so at most 32 in flight; see
tests/support/loadgen.py for why not httpx). After a graceful stop every page view is
in the store: no worker lost or double-counted an update, and each worker used the same
day key (otherwise the visitors would be counted up to four times).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from beaconguard.stats.query import ReportQuery, daily_series, run_report
from beaconguard.stats.store import open_store
from tests.conftest import SECRET
from tests.support.loadgen import send_requests
from tests.support.server import uvicorn_server

REQUESTS = 20_000
CLIENTS = 5_000
IN_FLIGHT = 32
UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
     "Chrome/126.0.0.0 Safari/537.36"


def request(i: int) -> tuple[str, dict[str, str]]:
    n = i % CLIENTS
    path = "/" if i % 2 else f"/products/{i % 97}"
    return path, {"x-forwarded-for": f"10.{n >> 16}.{(n >> 8) & 255}.{n & 255}", "user-agent": UA}


def run_and_check(store_url: str, tmp_path: Path) -> None:
    env = {
        "BEACONGUARD_SECRET_KEY": SECRET,
        "BEACONGUARD_STORE": store_url,
        "BEACONGUARD_TRUSTED_PROXIES": "127.0.0.1",
        "BEACONGUARD_ACCESS_LOG": "",
    }
    started = dt.datetime.now(dt.UTC).date()
    with uvicorn_server(
        "tests.support.stats_app:app", env=env, workers=4, ready_path="/text"
    ) as base:
        statuses = send_requests(base, REQUESTS, request, connections=IN_FLIGHT)
    assert statuses.count(200) == REQUESTS
    ended = dt.datetime.now(dt.UTC).date()
    store = open_store(store_url)
    try:
        series = daily_series(store, started, ended)
        assert sum(d["pageviews"] for d in series) == REQUESTS
        report = run_report(store, ReportQuery(start=started, end=ended, by="page",
                                               min_visitors=1))
        rows = {r["key"]: r for r in report["rows"]}
        assert rows["/"]["pageviews"] == REQUESTS // 2
        assert rows["/products/{id}"]["pageviews"] == REQUESTS // 2
        visitors = sum(d["visitors"] for d in series)
        assert abs(visitors - CLIENTS) / CLIENTS <= 0.02, visitors
        browsers = run_report(store, ReportQuery(start=started, end=ended, by="browser",
                                                 min_visitors=1))
        assert browsers["rows"][0]["key"] == "Chrome"
        assert browsers["rows"][0]["pageviews"] == REQUESTS
    finally:
        store.close()


@pytest.mark.slow
def test_four_workers_sqlite(tmp_path: Path) -> None:
    run_and_check(f"sqlite:///{tmp_path / 'stats.db'}", tmp_path)


@pytest.mark.slow
@pytest.mark.redis
def test_four_workers_redis(redis_url: str, tmp_path: Path) -> None:
    run_and_check(redis_url, tmp_path)
