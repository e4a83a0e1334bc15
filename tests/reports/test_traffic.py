"""The demo's synthetic traffic goes through the real pipeline and aggregator."""

from __future__ import annotations

import datetime as dt
import sqlite3

from beaconguard.stats.query import ReportQuery, bot_counts, consent_counts, run_report
from beaconguard.stats.store import open_store
from demo_site.traffic import AGENTS, fill


def test_fill_makes_a_readable_month(tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "stats.db"
    settings = make_settings(store=f"sqlite:///{db}")
    now = 1773144000.0  # 2026-03-10 12:00 UTC
    assert fill(settings, days=3, now=now) > 100
    store = open_store(settings.store)
    try:
        start, end = dt.date(2026, 3, 8), dt.date(2026, 3, 10)
        pages = run_report(store, ReportQuery(start, end, by="page"))
        keys = [r["key"] for r in pages["rows"]]
        assert "/" in keys and "/products/{id}" in keys
        assert run_report(store, ReportQuery(start, end, by="event"))["rows"][0]["key"] == (
            "add_to_cart")
        assert set(bot_counts(store, start, end)) >= {"crawler"}
        assert "statistics" in consent_counts(store, start, end)
        assert store.day_key("2026-03-09", now) is None  # past days' keys are gone
    finally:
        store.close()
    dump = "\n".join(sqlite3.connect(db).iterdump())
    for agent, _ in AGENTS:
        assert agent not in dump
    assert "192.0.2." not in dump and "198.51.100." not in dump and "203.0.113." not in dump
