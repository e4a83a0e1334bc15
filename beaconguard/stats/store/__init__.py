"""Statistics stores behind one small protocol; :func:`open_store` picks one by URL."""

from __future__ import annotations

from beaconguard.stats.store.base import Batch, Cell, CellRow, Delta, Store


def open_store(url: str, *, read_only: bool = False, must_exist: bool = False) -> Store:
    """The store ``url`` names: ``memory://``, ``sqlite:///path`` or ``redis://host:port/db``.

    Report readers pass ``read_only=True``: an SQLite file is then opened read-only and
    must already be a beaconguard statistics database (nothing is created or changed).
    ``must_exist=True`` writes, but only to an existing beaconguard database (purging).
    Redis and memory stores create nothing on opening, so the flags change nothing there.
    """
    if url.startswith("memory://"):
        from beaconguard.stats.store.memory import MemoryStore

        return MemoryStore(url)
    if url.startswith("sqlite:///"):
        from beaconguard.stats.store.sqlite import SQLiteStore

        return SQLiteStore(url, read_only=read_only, must_exist=must_exist)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from beaconguard.stats.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(
        f"store: {url!r} is not a store URL; use sqlite:///path/stats.db, "
        "redis://host:port/db or memory://"
    )


__all__ = ["Batch", "Cell", "CellRow", "Delta", "Store", "open_store"]
