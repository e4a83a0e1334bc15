"""Crash safety: SIGKILL loses at most the last flush interval; SIGTERM loses nothing."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from beaconguard.stats.query import daily_series
from beaconguard.stats.store import open_store
from tests.conftest import SECRET
from tests.support.loadgen import send_requests
from tests.support.server import ROOT, free_port, wait_for

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"


def make_request(i: int) -> tuple[str, dict[str, str]]:
    return "/", {"x-forwarded-for": f"10.9.{i >> 8 & 255}.{i & 255}", "user-agent": UA}


@contextlib.contextmanager
def server(store_url: str, flush_interval: float) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BEACONGUARD_SECRET_KEY": SECRET,
           "BEACONGUARD_STORE": store_url, "BEACONGUARD_TRUSTED_PROXIES": "127.0.0.1",
           "BEACONGUARD_ACCESS_LOG": "", "BEACONGUARD_FLUSH_INTERVAL": str(flush_interval)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tests.support.stats_app:app", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        env=env, cwd=ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(base + "/text", proc=proc)
        yield proc, base
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def pageviews(store_url: str) -> int:
    today = dt.datetime.now(dt.UTC).date()
    store = open_store(store_url)
    try:
        days = daily_series(store, today - dt.timedelta(days=1), today)
        return sum(d["pageviews"] for d in days)
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    interval = 0.2
    with server(url, interval) as (proc, base):
        assert send_requests(base, 300, make_request, connections=8).count(200) == 300
        time.sleep(interval * 5)  # several flushes have run since the last request
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert pageviews(url) == 300
    with server(url, interval) as (proc, base):
        assert send_requests(base, 200, make_request, connections=8).count(200) == 200
        proc.send_signal(signal.SIGKILL)  # at once: the last interval may be lost
        proc.wait()
    assert 300 <= pageviews(url) <= 500


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_graceful_shutdown_loses_nothing(tmp_path: Path, backend: str, request) -> None:  # type: ignore[no-untyped-def]
    url = (f"sqlite:///{tmp_path / 'stats.db'}" if backend == "sqlite"
           else request.getfixturevalue("redis_url"))
    # An interval far longer than the test: only the shutdown flush can write the counts.
    with server(url, 3600) as (proc, base):
        assert send_requests(base, 300, make_request, connections=8).count(200) == 300
        assert pageviews(url) == 0
        proc.send_signal(signal.SIGTERM)
        # uvicorn re-raises the signal after its graceful shutdown: exit status -SIGTERM.
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM)
    assert pageviews(url) == 300

