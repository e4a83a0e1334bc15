"""Test-only: pin a day's visitor key so a sketch test is deterministic."""

from __future__ import annotations

import sqlite3

from beaconguard.stats.days import key_expires
from beaconguard.stats.store import Store


def pin_day_key(store: Store, day: str, key: bytes) -> None:
    url = store.url
    if url.startswith("memory://"):
        store.keys[day] = (key, key_expires(day))  # type: ignore[attr-defined]
    elif url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            db.execute("INSERT OR REPLACE INTO day_keys VALUES (?, ?, ?)",
                       (day, key, key_expires(day)))
    else:
        import redis

        r = redis.Redis.from_url(url)
        r.set(f"bg:key:{day}", key)
        r.close()
