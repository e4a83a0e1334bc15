"""The store protocol: one suite, every backend."""

from __future__ import annotations

import pytest

from beaconguard.stats.days import KEY_GRACE, key_expires
from beaconguard.stats.store import Batch, Delta, open_store

DAY = "2026-03-10"


def batch(day: str = DAY, pv: int = 1, visitors: set[int] | None = None) -> Batch:
    b = Batch()
    b.cells[(day, "", "", "")] = Delta(pageviews=pv, visitors=visitors or {1 << 60})
    b.cells[(day, "", "page", "/x")] = Delta(pageviews=pv, events=2)
    b.bots[(day, "crawler")] = 3
    b.consent[(day, "statistics", True, "banner")] = 4
    return b


def test_write_adds_and_reads_back(store) -> None:  # type: ignore[no-untyped-def]
    store.write(batch())
    store.write(batch(pv=2, visitors={1 << 60, 5 << 58}))
    [total] = store.cell_rows(DAY, DAY, "", page="", value="")
    assert (total.pageviews, total.visitors) == (3, 2)
    [page] = store.cell_rows(DAY, DAY, "page", page="", value=None)
    assert (page.value, page.pageviews, page.events, page.visitors) == ("/x", 3, 4, 0)
    assert store.bot_rows(DAY, DAY) == [(DAY, "crawler", 6)]
    assert list(store.consent_rows(DAY, DAY)) == [(DAY, "statistics", True, "banner", 8)]
    assert store.cell_rows("2026-03-11", "2026-03-12", "", page="", value="") == []


def test_empty_batch_is_a_no_op(store) -> None:  # type: ignore[no-untyped-def]
    store.write(Batch())
    assert store.cell_rows(DAY, DAY, "", page="", value="") == []


def test_day_key_is_shared_random_and_destroyed(store, store_url) -> None:  # type: ignore[no-untyped-def]
    now = key_expires(DAY) - KEY_GRACE - 3600
    key = store.day_key(DAY, now)
    assert key is not None and len(key) >= 16
    assert store.day_key(DAY, now + 10) == key
    assert store.day_key("2026-03-11", now) != key
    if not store_url.startswith("memory"):
        other = open_store(store_url)  # another worker or host
        try:
            assert other.day_key(DAY, now) == key
        finally:
            other.close()
    # still there within the grace hour, gone after it, and never recreated
    assert store.drop_day_keys(key_expires(DAY) - 1) == 0
    assert store.drop_day_keys(key_expires(DAY)) >= 1
    assert store.day_key(DAY, key_expires(DAY)) is None


def test_purge_removes_old_days_only(store) -> None:  # type: ignore[no-untyped-def]
    store.write(batch("2025-01-01"))
    store.write(batch(DAY))
    assert store.purge("2026-01-01") > 0
    assert store.cell_rows("2000-01-01", "2099-01-01", "", page="", value="")[0].day == DAY
    assert [r[0] for r in store.bot_rows("2000-01-01", "2099-01-01")] == [DAY]
    assert [r[0] for r in store.consent_rows("2000-01-01", "2099-01-01")] == [DAY]


def test_ingest_marker_is_written_with_the_counts(store) -> None:  # type: ignore[no-untyped-def]
    assert store.ingested("src-a") is None
    b = batch()
    b.ingested["src-a"] = (120, "d1")
    store.write(b)
    assert store.ingested("src-a") == (120, "d1")
    [total] = store.cell_rows(DAY, DAY, "", page="", value="")
    assert total.pageviews == 1
    # A later batch moves the marker on; other sources are untouched.
    later = Batch()
    later.ingested["src-a"] = (300, "d2")
    later.ingested["src-b"] = (5, "e")
    store.write(later)
    assert store.ingested("src-a") == (300, "d2")
    assert store.ingested("src-b") == (5, "e")


def test_open_store_rejects_unknown_urls() -> None:
    with pytest.raises(ValueError, match="not a store URL"):
        open_store("mysql://x")
