"""The aggregator: what counts as a page view, beacons and consent, day keys, accuracy."""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from pathlib import Path

import pytest

from beaconguard.stats.days import DAY, KEY_GRACE
from beaconguard.stats.query import (
    ReportQuery,
    bot_counts,
    daily_series,
    event_properties,
    run_report,
)
from beaconguard.stats.store import open_store
from beaconguard.stats.store.memory import MemoryStore
from tests.stats.helpers import CHROME, NOON, Feeder
from tests.stats.keys import pin_day_key

DAY0 = dt.date(2026, 3, 10)


class Consent:
    def __init__(self, *granted: str) -> None:
        self.granted = set(granted)

    def allows(self, category: str) -> bool:
        return category in self.granted


def pages(store, day=DAY0, k=1):  # type: ignore[no-untyped-def]
    report = run_report(store, ReportQuery(start=day, end=day, by="page", min_visitors=k))
    return {r["key"]: r["pageviews"] for r in report["rows"]}


def test_pageview_rule(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    f = Feeder(store, make_settings())
    f.visit("/products/8812", route="/products/{id}")
    f.visit("/products/17", route="/products/{id}")
    f.visit("/xhtml", content_type="application/xhtml+xml")
    # none of these is a page view
    f.visit("/head", method="HEAD")
    f.visit("/post", method="POST")
    f.visit("/missing", status=404)
    f.visit("/redirect", status=302)
    f.visit("/api", content_type="application/json")
    f.visit("/pre", headers={"sec-purpose": "prefetch;prerender"})
    f.visit("/pre2", headers={"purpose": "prefetch"})
    f.visit("/bot", ua="Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    f.visit("/tool", ua="curl/8.0")
    f.flush()
    assert pages(store) == {"/products/{id}": 2, "/xhtml": 1}
    assert bot_counts(store, DAY0, DAY0) == {"crawler": 1, "tool": 1}


def test_beacons_need_statistics_consent_or_cookieless(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    beacon = {"page": "/spa/route", "referrer": None, "query": None, "event": None, "props": {}}
    f = Feeder(store, make_settings())
    common = {"path": "/_bg/e", "method": "POST", "status": 204, "content_type": ""}
    f.visit(**common, beacon=beacon)  # gate off, not cookieless: not counted
    f.visit(**common, beacon=beacon, consent=Consent("marketing"))
    f.visit(**common, beacon=beacon, consent=Consent("statistics"))
    f.visit(**{**common, "status": 400}, beacon=beacon, consent=Consent("statistics"))
    f.flush()
    assert pages(store) == {"/spa/route": 1}
    g = Feeder(store, make_settings(cookieless=True))
    g.visit(**common, beacon=beacon)
    g.flush()
    assert pages(store) == {"/spa/route": 2}


def test_beacon_events_and_properties(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    f = Feeder(store, make_settings(cookieless=True))
    for i in range(6):
        f.visit("/_bg/e", method="POST", status=204, client=f"10.1.1.{i}", beacon={
            "page": "/pricing", "referrer": "https://ads.example", "query": "utm_source=x",
            "event": "signup", "props": {"plan": "pro" if i else "free"}})
    f.flush()
    r = run_report(store, ReportQuery(start=DAY0, end=DAY0, by="event", min_visitors=1))
    assert r["rows"] == [{"key": "signup", "pageviews": 0, "visitors": 6, "events": 6}]
    assert r["totals"] == {"pageviews": 0, "visitors": 6, "events": 6}
    r = run_report(store, ReportQuery(start=DAY0, end=DAY0, by="page", min_visitors=1))
    assert r["rows"] == [{"key": "/pricing", "pageviews": 0, "visitors": 6, "events": 6}]
    props = event_properties(store, DAY0, DAY0, "signup", min_visitors=2)
    assert props == {"event": "signup", "properties": {"plan": {"pro": 5}}, "suppressed": 1}


def test_consent_statistics_are_counted(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.stats.query import consent_counts

    f = Feeder(store, make_settings())
    f.agg.add_consent({"statistics": True}, "banner")
    f.flush()
    assert consent_counts(store, DAY0, DAY0)["statistics"]["granted"] == 1


def test_day_rollover_destroys_the_key(store, store_url, make_settings) -> None:  # type: ignore[no-untyped-def]
    f = Feeder(store, make_settings())
    f.visit("/", client="198.51.100.1")
    old_key = store.day_key("2026-03-10", f.now)
    assert old_key is not None and f.agg._keys
    f.flush()
    next_day = (int(NOON // DAY) + 1) * DAY
    f.now = next_day + 600  # the next day, within the grace hour: kept for late requests
    f.agg.maintain()
    assert store.day_key("2026-03-10", f.now) == old_key
    f.now = next_day + KEY_GRACE + 1
    f.agg.maintain()
    assert store.day_key("2026-03-10", f.now) is None
    assert all(k != old_key for k in f.agg._keys.values())
    f.visit("/", client="198.51.100.1")  # the same person, a new day, a new key
    f.flush()
    series = daily_series(store, DAY0, DAY0 + dt.timedelta(days=1))
    assert [d["visitors"] for d in series] == [1, 1]
    assert store.day_key("2026-03-11", f.now) not in (None, old_key)
    if store_url.startswith("sqlite:///"):
        store.close()
        path = Path(store_url.removeprefix("sqlite:///"))
        raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        assert old_key not in raw  # secure_delete + checkpoint: not in free pages or WAL
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM day_keys WHERE day='2026-03-10'").fetchone()[0] == 0
    if store_url.startswith("redis://"):
        import redis

        r = redis.Redis.from_url(store_url)
        assert r.get("bg:key:2026-03-10") is None
        r.close()


@pytest.mark.slow
def test_unique_accuracy_at_100k_visitors(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    pin_day_key(store, "2026-03-10", bytes(range(32)))
    f = Feeder(store, make_settings())
    rnd = random.Random(4)
    n = 100_000
    clients = [f"10.{i >> 16}.{(i >> 8) & 255}.{i & 255}" for i in range(n)]
    agg = f.agg
    from beaconguard.visit import Visit

    # Only the client differs between visits, and the record never holds it: one record.
    record = f.pipeline(Visit(time=NOON, host="shop.example", path="/p", client=clients[0],
                              user_agent=CHROME, status=200, content_type="text/html"))
    for i, client in enumerate(clients + rnd.sample(clients, 20_000)):
        v = Visit(time=NOON, host="shop.example", path="/p", client=client,
                  user_agent=CHROME, status=200, content_type="text/html")
        agg.consume(v, record)
        if i % 20_000 == 0:
            agg.flush()
    f.flush()
    total = daily_series(store, DAY0, DAY0)[0]
    assert total["pageviews"] == 120_000
    assert abs(total["visitors"] - n) / n <= 0.02, total


def test_settings_for_beacons_are_validated(make_settings) -> None:  # type: ignore[no-untyped-def]
    assert make_settings(beacon_hosts="CDN.example.com, static.example").beacon_hosts == (
        "cdn.example.com", "static.example")
    with pytest.raises(ValueError, match="beacon_hosts"):
        make_settings(beacon_hosts=("https://cdn.example",))
    with pytest.raises(ValueError, match="beacon_props"):
        make_settings(beacon_props=("bad name",))


class FlakyStore(MemoryStore):
    """A real memory store whose writes (and day keys, with ``keys_too``) fail until
    ``up`` is set."""

    def __init__(self, keys_too: bool = True) -> None:
        super().__init__()
        self.up = False
        self.keys_too = keys_too

    def write(self, batch):  # type: ignore[no-untyped-def]
        if not self.up:
            raise ConnectionError("store down")
        super().write(batch)

    def day_key(self, day, now):  # type: ignore[no-untyped-def]
        if self.keys_too and not self.up:
            raise ConnectionError("store down")
        return super().day_key(day, now)


def test_a_store_outage_does_not_stop_the_app_and_nothing_is_lost(make_settings) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.stats.aggregator import Aggregator

    store = FlakyStore()
    f = Feeder(store, make_settings())  # starts although the store is down
    assert isinstance(f.agg, Aggregator)
    f.visit("/a")
    f.flush()  # fails, kept for the next try
    store.up = True
    f.agg.maintain()  # the flusher's next tick fetches the day key
    f.visit("/a")
    f.flush()
    # both views kept; only the visit made while no key could be read has no visitor
    report = run_report(store, ReportQuery(start=DAY0, end=DAY0, by="page", min_visitors=1))
    assert report["rows"] == [{"key": "/a", "pageviews": 2, "visitors": 1, "events": 0}]


def test_an_outage_backlog_is_bounded_and_says_what_it_dropped(
    make_settings, monkeypatch, caplog  # type: ignore[no-untyped-def]
) -> None:
    from beaconguard.stats import aggregator as aggregator_module

    monkeypatch.setattr(aggregator_module, "MAX_BACKLOG_CELLS", 40)
    monkeypatch.setattr(aggregator_module, "MAX_BACKLOG_VISITORS", 25)
    store = FlakyStore(keys_too=False)
    f = Feeder(store, make_settings())
    for round_ in range(3):
        for i in range(30):
            f.visit(f"/p{round_}-{i}", client=f"10.0.{round_}.{i}")
        f.flush()  # fails: held back, up to the limits
    backlog = f.agg._batch.cells
    assert len(backlog) <= 40
    assert sum(len(d.visitors) for d in backlog.values()) <= 25
    dropped = f.agg.dropped
    assert dropped["cells"] > 0 and dropped["visitors"] > 0
    assert "backlog is full" in caplog.text
    # What was kept is written once the store is back: some of the views, not all.
    store.up = True
    f.flush()
    assert 0 < len(store.cells) <= 40
    pages = {k: v.pageviews for k, v in store.cells.items() if "/p" in "".join(map(str, k))}
    assert 0 < sum(pages.values()) < 90


def test_forked_worker_gets_its_own_flusher_and_connection(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    """gunicorn --preload: the app (and its aggregator) is built before workers fork."""
    import os
    import time

    from beaconguard.stats.aggregator import Aggregator
    from beaconguard.visit import Visit

    url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    agg = Aggregator(store, make_settings(store=url, flush_interval=0.05))
    f = Feeder(open_store("memory://"), make_settings())
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 1
        try:
            v = Visit(time=time.time(), host="shop.example", path="/child", client="10.0.0.1",
                      user_agent=CHROME, status=200, content_type="text/html")
            agg.consume(v, f.pipeline(v))
            time.sleep(0.5)  # the child's own flusher writes it, no close needed
            code = 0 if agg._thread is not None and agg._thread.is_alive() else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    agg.close()
    assert pages(store, dt.datetime.now(dt.UTC).date()) == {"/child": 1}
    store.close()


def test_requests_never_touch_the_store(make_settings) -> None:  # type: ignore[no-untyped-def]
    """Per request only memory is touched; the store is used by the flusher alone."""
    from beaconguard.stats.store.memory import MemoryStore

    class Counting(MemoryStore):
        calls = 0

        def __getattribute__(self, name):  # type: ignore[no-untyped-def]
            if name in ("write", "day_key", "drop_day_keys", "purge", "cell_rows"):
                type(self).calls += 1
            return super().__getattribute__(name)

    store = Counting()
    f = Feeder(store, make_settings())
    before = Counting.calls
    for i in range(500):
        f.visit(f"/p{i % 5}", client=f"10.2.0.{i % 200}")
    assert Counting.calls == before
    f.flush()
    assert Counting.calls == before + 1
    assert sum(pages(store).values()) == 500


def test_requests_never_touch_the_store_without_a_cached_day_key(make_settings) -> None:  # type: ignore[no-untyped-def]
    """No key in memory (the store was down at start; midnight before the flusher ran):
    the request still touches memory only; the flusher fetches the key and hashes."""
    from beaconguard.stats.store.memory import MemoryStore

    class Watched(MemoryStore):
        up = False
        calls: list[str] = []

        def __getattribute__(self, name):  # type: ignore[no-untyped-def]
            if name in ("write", "day_key", "drop_day_keys", "purge", "cell_rows"):
                type(self).calls.append(name)
            return super().__getattribute__(name)

        def day_key(self, day, now):  # type: ignore[no-untyped-def]
            if not self.up:
                raise ConnectionError("store down")
            return super().day_key(day, now)

    store = Watched()
    f = Feeder(store, make_settings())  # the start-up key fetch fails
    assert not f.agg._keys
    Watched.calls.clear()
    for i in range(50):
        f.visit("/a", client=f"10.3.0.{i % 10}")
    assert Watched.calls == []  # not even one try per request, or per day
    store.up = True
    f.flush()  # the flusher fetches the key and hashes the waiting visits
    assert Watched.calls == ["day_key", "write"]
    assert not f.agg._unkeyed
    assert run_report(store, ReportQuery(start=DAY0, end=DAY0, by="page", min_visitors=1))[
        "rows"] == [{"key": "/a", "pageviews": 50, "visitors": 10, "events": 0}]

    # Just after midnight, before the flusher's tick: no key for the new day in memory.
    store.up = False
    next_day = (int(NOON // DAY) + 1) * DAY
    f.now = next_day + 5
    Watched.calls.clear()
    for i in range(20):
        f.visit("/b", client=f"10.4.0.{i % 4}", at=f.now)
    assert Watched.calls == []
    f.flush()  # the key cannot be read: counted as page views without visitors
    assert not f.agg._unkeyed  # the raw triples did not outlive their batch
    store.up = True
    f.flush()
    day1 = DAY0 + dt.timedelta(days=1)
    assert [(d["pageviews"], d["visitors"]) for d in daily_series(store, day1, day1)] == [(20, 0)]


def test_the_flusher_fetches_tomorrows_key_before_midnight(make_settings) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.stats.days import day_number

    store = open_store("memory://")
    f = Feeder(store, make_settings())
    today = day_number(NOON)
    f.agg.maintain()
    assert set(f.agg._keys) == {today}
    f.now = (today + 1) * DAY - 300  # five minutes to midnight
    f.agg.maintain()
    assert set(f.agg._keys) == {today, today + 1}
    assert f.agg._keys[today + 1] == store.day_key("2026-03-11", f.now)


def test_retention_purge_runs_hourly_from_maintain(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "stats.db"
    store = open_store(f"sqlite:///{db}")
    f = Feeder(store, make_settings(retention_days=30))
    for days_ago in (45, 30, 29, 1, 0):
        f.visit(f"/d{days_ago}", at=NOON - days_ago * DAY)
    f.flush()

    def stored_days() -> list[str]:
        with sqlite3.connect(db) as conn:
            return [d for (d,) in conn.execute("SELECT DISTINCT day FROM cells ORDER BY day")]

    assert stored_days() == ["2026-01-24", "2026-02-08", "2026-02-09", "2026-03-09",
                             "2026-03-10"]
    f.agg.maintain()  # the first tick purges: keep the 30 days ending today
    assert stored_days() == ["2026-02-09", "2026-03-09", "2026-03-10"]
    assert daily_series(store, dt.date(2026, 2, 9), dt.date(2026, 2, 9))[0]["pageviews"] == 1

    f.visit("/late", at=NOON - 40 * DAY)  # e.g. an ingested old log line
    f.flush()
    f.now = NOON + 1800
    f.agg.maintain()  # within the hour: no second purge yet
    assert "2026-01-29" in stored_days()
    f.now = NOON + 3600
    f.agg.maintain()
    assert stored_days() == ["2026-02-09", "2026-03-09", "2026-03-10"]
    # a day later the window has moved on by one day
    f.now = NOON + DAY
    f.agg.maintain()
    assert stored_days() == ["2026-03-09", "2026-03-10"]
    store.close()


def test_head_and_prefetched_beacons_are_not_counted(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    beacon = {"page": "/spa", "referrer": None, "query": None, "event": None, "props": {}}
    f = Feeder(store, make_settings(cookieless=True))
    pixel = {"path": "/_bg/b.gif", "status": 200, "content_type": "image/gif"}
    f.visit(**pixel, method="HEAD", beacon=beacon)
    f.visit(**pixel, beacon=beacon, headers={"sec-purpose": "prefetch"})
    f.visit(**pixel, beacon=beacon, headers={"purpose": "prefetch"})
    f.visit(**pixel, beacon=beacon, headers={"sec-purpose": "prefetch;prerender"})
    f.flush()
    assert pages(store) == {}
    f.visit(**pixel, beacon=beacon)
    f.flush()
    assert pages(store) == {"/spa": 1}
