"""The store protocol: what the aggregator writes and the report queries read.

A store keeps only aggregates: per (day, page, dimension, value) cell a pageview count, an
event count and a unique-visitor sketch; bot counts per (day, reason); consent decisions
per (day, category, granted, source); and the random visitor key of each day, which is
destroyed once the day is over (plus :data:`~beaconguard.stats.days.KEY_GRACE`).

Cells: ``page`` is the page a cell is restricted to, ``""`` for all pages together.
``("", "", "")`` is the day's total, ``("", "page", "/x")`` the page ``/x``,
``("/x", "country", "JP")`` visits of ``/x`` from Japan, ``("", "country", "JP")`` all
visits from Japan. That is what lets a report filter by page and group by anything else
while counting each visitor once per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

#: (day, page, dimension, value)
Cell = tuple[str, str, str, str]
TOTAL = ""


class CellRow(NamedTuple):
    """One stored cell as a query sees it; ``visitors`` is that day's unique estimate."""

    day: str
    page: str
    value: str
    pageviews: int
    events: int
    visitors: int


@dataclass
class Delta:
    """What one flush adds to one cell: counts and the visitor hashes seen."""

    pageviews: int = 0
    events: int = 0
    visitors: set[int] = field(default_factory=set)


@dataclass
class Batch:
    """Everything one flush writes, in one transaction where the store has them."""

    cells: dict[Cell, Delta] = field(default_factory=dict)
    bots: dict[tuple[str, str], int] = field(default_factory=dict)
    consent: dict[tuple[str, str, bool, str], int] = field(default_factory=dict)
    #: Offline ingest: log source id → (lines counted, digest of those lines). Written in
    #: the same transaction as the counts they produced, so a re-run never counts twice.
    ingested: dict[str, tuple[int, str]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.cells or self.bots or self.consent or self.ingested)


class Store(Protocol):
    """One statistics backend (memory, SQLite, Redis)."""

    url: str

    def write(self, batch: Batch) -> None:
        """Add a batch atomically: either all of it counts or none of it."""

    def day_key(self, day: str, now: float) -> bytes | None:
        """``day``'s visitor key, created (randomly, atomically) by whoever asks first.

        None once the key's time is over: a late request must never recreate it.
        """

    def drop_day_keys(self, now: float) -> int:
        """Destroy the keys whose day (plus grace) is over; how many went."""

    def purge(self, before: str) -> int:
        """Delete every aggregate of days before ``before`` (``YYYY-MM-DD``); rows gone."""

    def cell_rows(
        self, start: str, end: str, dim: str, *, page: str | None, value: str | None
    ) -> Sequence[CellRow]:
        """Cells of ``dim`` on days ``start..end``.

        ``page``: that page's cells (``""`` = all pages together), or None for every real
        page's cells. ``value``: only that value, or None for all.
        """

    def bot_rows(self, start: str, end: str) -> Sequence[tuple[str, str, int]]:
        """(day, reason, count) on days ``start..end``."""

    def consent_rows(self, start: str, end: str) -> Sequence[tuple[str, str, bool, str, int]]:
        """(day, category, granted, source, count) on days ``start..end``."""

    def ingested(self, source: str) -> tuple[int, str] | None:
        """(lines counted, digest) last recorded for an ingested log source, or None."""

    def close(self) -> None:
        """Release connections."""
