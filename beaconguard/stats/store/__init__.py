"""Statistics stores behind one small protocol; :func:`open_store` picks one by URL."""

from __future__ import annotations

from beaconguard.stats.store.base import Batch, Cell, CellRow, Delta, Store


def open_store(url: str) -> Store:
    """The store ``url`` names: ``memory://``, ``sqlite:///path`` or ``redis://host:port/db``."""
    if url.startswith("memory://"):
        from beaconguard.stats.store.memory import MemoryStore

        return MemoryStore(url)
    if url.startswith("sqlite:///"):
        from beaconguard.stats.store.sqlite import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from beaconguard.stats.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(
        f"store: {url!r} is not a store URL; use sqlite:///path/stats.db, "
        "redis://host:port/db or memory://"
    )


__all__ = ["Batch", "Cell", "CellRow", "Delta", "Store", "open_store"]
