"""Offline ingest: the live counting rules, and no double counting."""

from __future__ import annotations

import datetime as _dt
import gzip
import time
from pathlib import Path

import pytest

from beaconguard.offline.ingest import Ingester
from beaconguard.stats.query import bot_counts, daily_series
from beaconguard.stats.store import open_store
from beaconguard.stats.store.memory import MemoryStore
from tests.offline.planted import FIREFOX, IPHONE

#: 2026-03-10 12:00 UTC: "now" for these tests.
NOW = 1773144000.0
DAY1, DAY2 = _dt.date(2026, 3, 8), _dt.date(2026, 3, 9)
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def clf(ts: float) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(ts))


def line(ts: float, client: str, target: str, status: int = 200, ua: str = FIREFOX,
         method: str = "GET") -> str:
    return f'{client} - - [{clf(ts)}] "{method} {target} HTTP/1.1" {status} 10 "-" "{ua}"\n'


def day_log() -> list[str]:
    """Day 1: 3 visitors, 5 page views; plus what the page-view rule leaves out."""
    t = NOW - 2 * 86400
    return [
        line(t + 1, "203.0.113.1", "/"),
        line(t + 2, "203.0.113.1", "/about"),
        line(t + 3, "203.0.113.2", "/", ua=IPHONE),
        line(t + 4, "203.0.113.2", "/products/7?utm_source=news", ua=IPHONE),
        line(t + 5, "2001:db8::5", "/"),
        line(t + 6, "203.0.113.1", "/static/app.css"),  # not a page
        line(t + 7, "203.0.113.1", "/missing", status=404),  # not a success
        line(t + 8, "203.0.113.1", "/login", method="POST"),  # not a GET
        line(t + 9, "198.51.100.9", "/", ua=BOT),  # a bot: counted as one
        line(t + 10, "198.51.100.9", "/", ua="curl/8.5.0"),  # a tool: counted as one
        "garbage that is no log line\n",
    ]


def totals(store) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    return [(d["pageviews"], d["visitors"]) for d in daily_series(store, DAY1, DAY2)]


@pytest.fixture
def ingester(make_settings):  # type: ignore[no-untyped-def]
    store = MemoryStore()
    ing = Ingester(make_settings(), store, clock=lambda: NOW)
    yield ing
    ing.close()


def test_counts_like_live_traffic(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_text("".join(day_log()))
    counts = ingester.ingest(str(log))
    assert (counts.read, counts.fed, counts.malformed, counts.already) == (11, 10, 1, 0)
    store = ingester.store
    assert totals(store) == [(5, 3), (0, 0)]
    assert bot_counts(store, DAY1, DAY2) == {"crawler": 1, "tool": 1}
    # A finished day's visitor key was never created in the store.
    assert "2026-03-08" not in store.keys


def test_second_run_counts_nothing(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_text("".join(day_log()))
    ingester.ingest(str(log))
    again = ingester.ingest(str(log))
    assert (again.read, again.fed, again.already) == (0, 0, 11)
    assert totals(ingester.store) == [(5, 3), (0, 0)]
    assert bot_counts(ingester.store, DAY1, DAY2) == {"crawler": 1, "tool": 1}


def test_rotated_and_compressed_copy_is_not_counted_again(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_text("".join(day_log()))
    ingester.ingest(str(log))
    packed = tmp_path / "access.log.1.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    assert ingester.ingest(str(packed)).fed == 0
    assert totals(ingester.store) == [(5, 3), (0, 0)]


def test_grown_file_counts_only_new_lines(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_text("".join(day_log()))
    ingester.ingest(str(log))
    t = NOW - 86400
    with log.open("a") as fh:
        fh.write(line(t, "203.0.113.1", "/") + line(t + 1, "203.0.113.9", "/"))
    counts = ingester.ingest(str(log))
    assert (counts.already, counts.read, counts.fed) == (11, 2, 2)
    assert totals(ingester.store) == [(5, 3), (2, 2)]


def test_same_start_other_content_is_counted_whole(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lines = day_log()
    first = tmp_path / "a.log"
    first.write_text("".join(lines[:3]))
    ingester.ingest(str(first))
    other = tmp_path / "b.log"
    other.write_text(lines[0] + line(NOW - 86400, "203.0.113.3", "/") * 3)
    counts = ingester.ingest(str(other))
    assert (counts.already, counts.fed) == (0, 4)


def test_lines_older_than_retention_are_skipped(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store = MemoryStore()
    ing = Ingester(make_settings(retention_days=30), store, clock=lambda: NOW)
    log = tmp_path / "old.log"
    log.write_text(line(NOW - 40 * 86400, "203.0.113.1", "/") + line(NOW - 86400, "203.0.113.1", "/"))
    counts = ing.ingest(str(log))
    ing.close()
    assert (counts.too_old, counts.fed) == (1, 1)


def test_sqlite_store_between_processes(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    log = tmp_path / "access.log"
    log.write_text("".join(day_log()))
    for _ in range(2):  # two separate runs, as two invocations of the command would be
        store = open_store(url)
        ing = Ingester(make_settings(store=url), store, clock=lambda: NOW)
        ing.ingest(str(log))
        ing.close()
        store.close()
    store = open_store(url)
    try:
        assert totals(store) == [(5, 3), (0, 0)]
    finally:
        store.close()


def test_empty_file(ingester, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "empty.log"
    empty.write_text("")
    assert ingester.ingest(str(empty)).read == 0


def test_store_holds_no_planted_identifier(make_settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """What ingest writes (counts, sketches, markers) holds nothing raw from the logs."""
    from tests.offline.planted import FIXTURES, PLANTED

    url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    # The fixtures are from 2023: keep them inside the retention period.
    ing = Ingester(make_settings(store=url, retention_days=100_000), store)
    for name in ("combined.log", "json.log", "xff.log", "escapes.log", "garbage.log"):
        assert ing.ingest(str(FIXTURES / name)).read > 0
    ing.close()
    assert store.cell_rows("2023-10-10", "2023-10-10", "", page="", value="")[0].pageviews > 0
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.glob("stats.db*"))
    # (single control bytes are meaningless in a binary file; every real value is checked)
    assert [v for v in PLANTED if len(v) > 1 and v.encode() in data] == []
