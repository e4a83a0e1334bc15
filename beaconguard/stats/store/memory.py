"""``memory://``: the store for tests and single-process trials; gone with the process."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Sequence

from beaconguard.stats.days import key_expires
from beaconguard.stats.hll import HLL
from beaconguard.stats.store.base import Batch, Cell, CellRow


class _Entry:
    __slots__ = ("events", "pageviews", "sketch")

    def __init__(self) -> None:
        self.pageviews = 0
        self.events = 0
        self.sketch = HLL()


class MemoryStore:
    """Aggregates in dicts, behind one lock (the flush thread writes, reports read)."""

    def __init__(self, url: str = "memory://") -> None:
        self.url = url
        self._lock = threading.Lock()
        self.cells: dict[Cell, _Entry] = {}
        self.bots: dict[tuple[str, str], int] = {}
        self.consent: dict[tuple[str, str, bool, str], int] = {}
        self.keys: dict[str, tuple[bytes, float]] = {}
        self.sources: dict[str, tuple[int, str]] = {}

    def write(self, batch: Batch) -> None:
        with self._lock:
            for cell, delta in batch.cells.items():
                entry = self.cells.get(cell)
                if entry is None:
                    entry = self.cells[cell] = _Entry()
                entry.pageviews += delta.pageviews
                entry.events += delta.events
                if delta.visitors:
                    entry.sketch.update(delta.visitors)
            for bot_key, n in batch.bots.items():
                self.bots[bot_key] = self.bots.get(bot_key, 0) + n
            for consent_key, n in batch.consent.items():
                self.consent[consent_key] = self.consent.get(consent_key, 0) + n
            self.sources.update(batch.ingested)

    def ingested(self, source: str) -> tuple[int, str] | None:
        with self._lock:
            return self.sources.get(source)

    def day_key(self, day: str, now: float) -> bytes | None:
        expires = key_expires(day)
        if now >= expires:
            return None
        with self._lock:
            entry = self.keys.get(day)
            if entry is None:
                entry = self.keys[day] = (secrets.token_bytes(32), expires)
            return entry[0]

    def drop_day_keys(self, now: float) -> int:
        with self._lock:
            gone = [day for day, (_, expires) in self.keys.items() if now >= expires]
            for day in gone:
                del self.keys[day]
            return len(gone)

    def purge(self, before: str) -> int:
        with self._lock:
            n = len(self.cells) + len(self.bots) + len(self.consent)
            self.cells = {k: v for k, v in self.cells.items() if k[0] >= before}
            self.bots = {k: v for k, v in self.bots.items() if k[0] >= before}
            self.consent = {k: v for k, v in self.consent.items() if k[0] >= before}
            return n - len(self.cells) - len(self.bots) - len(self.consent)

    def cell_rows(
        self, start: str, end: str, dim: str, *, page: str | None, value: str | None
    ) -> Sequence[CellRow]:
        with self._lock:
            picked = [
                (cell, entry)
                for cell, entry in self.cells.items()
                if start <= cell[0] <= end
                and cell[2] == dim
                and (cell[1] == page if page is not None else cell[1] != "")
                and (value is None or cell[3] == value)
            ]
            return [
                CellRow(day, pg, val, e.pageviews, e.events, e.sketch.count())
                for (day, pg, _, val), e in picked
            ]

    def bot_rows(self, start: str, end: str) -> Sequence[tuple[str, str, int]]:
        with self._lock:
            return [(d, r, n) for (d, r), n in self.bots.items() if start <= d <= end]

    def consent_rows(self, start: str, end: str) -> Sequence[tuple[str, str, bool, str, int]]:
        with self._lock:
            return [
                (d, c, g, s, n) for (d, c, g, s), n in self.consent.items() if start <= d <= end
            ]

    def close(self) -> None:
        pass
