"""``sqlite:///path/stats.db``: the embedded default.

WAL mode lets reports read while workers write; each flush is one ``BEGIN IMMEDIATE``
transaction, so several processes on one machine add to the same counters and merge the
same sketches without losing an update (SQLite serializes the writers; ``busy_timeout``
makes them wait instead of failing). ``secure_delete`` overwrites what is deleted, so a
destroyed visitor key does not linger in free pages of the file.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

from beaconguard.stats.days import key_expires
from beaconguard.stats.hll import HLL, count_serialized
from beaconguard.stats.store.base import Batch, CellRow

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    dim TEXT NOT NULL, page TEXT NOT NULL, day TEXT NOT NULL, value TEXT NOT NULL,
    pageviews INTEGER NOT NULL DEFAULT 0, events INTEGER NOT NULL DEFAULT 0, sketch BLOB,
    PRIMARY KEY (dim, page, day, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS cells_by_value ON cells (dim, value, day);
CREATE INDEX IF NOT EXISTS cells_by_day ON cells (day);
CREATE TABLE IF NOT EXISTS bots (
    day TEXT NOT NULL, reason TEXT NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY (day, reason)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consent (
    day TEXT NOT NULL, category TEXT NOT NULL, granted INTEGER NOT NULL, source TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, category, granted, source)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ingested (
    source TEXT PRIMARY KEY, lines INTEGER NOT NULL, digest TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS day_keys (
    day TEXT PRIMARY KEY, key BLOB NOT NULL, expires REAL NOT NULL
) WITHOUT ROWID;
"""

_UPSERT_CELL = """
INSERT INTO cells (dim, page, day, value, pageviews, events, sketch) VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (dim, page, day, value) DO UPDATE SET
    pageviews = pageviews + excluded.pageviews,
    events = events + excluded.events,
    sketch = COALESCE(excluded.sketch, sketch)
"""


#: Tables every beaconguard statistics database has; a file without them is someone else's.
REQUIRED_TABLES = frozenset({"cells", "bots", "consent", "day_keys"})


class NotAStatsDatabase(ValueError):
    """The file exists but is not a beaconguard statistics database (or no database)."""


class SQLiteStore:
    """Aggregates in one SQLite file, shared by every process on the machine.

    By default (the middleware's writer) the file and its tables are created as needed.
    ``read_only=True`` (reports, the dashboard) opens an existing database with SQLite's
    ``mode=ro``: nothing is created, converted or re-permissioned, and a file without
    beaconguard's tables is refused with :class:`NotAStatsDatabase`. ``must_exist=True``
    (``beaconguard purge``) writes, but only to an existing beaconguard database.
    """

    def __init__(self, url: str, *, read_only: bool = False, must_exist: bool = False) -> None:
        self.url = url
        path = url.removeprefix("sqlite:///")
        if not path:
            raise ValueError(f"store: {url!r} names no file; use sqlite:///path/stats.db")
        self.path = Path(path)
        self.read_only = read_only
        if read_only or must_exist:
            self._check_existing()
        if read_only:
            self._connect()
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._connect()
        if not must_exist:
            with self._lock:
                self._db.executescript(_SCHEMA)
        if os.name == "posix":
            # Aggregates only, but still nobody else's business.
            for suffix in ("", "-wal", "-shm"):
                p = Path(str(self.path) + suffix)
                if p.exists():
                    p.chmod(0o600)

    def _ro_uri(self) -> str:
        # as_uri() percent-encodes the path, so "?" or "#" in a file name stay file name.
        return self.path.resolve().as_uri() + "?mode=ro"

    def _check_existing(self) -> None:
        """Refuse a missing file, a file that is no database, or someone else's database."""
        if not self.path.is_file():
            raise NotAStatsDatabase(f"no statistics database at {self.path}")
        not_ours = NotAStatsDatabase(
            f"{self.path} is not a beaconguard statistics database"
        )
        try:
            db = sqlite3.connect(self._ro_uri(), uri=True, timeout=30)
            try:
                names = {
                    row[0]
                    for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
            finally:
                db.close()
        except sqlite3.DatabaseError:
            raise not_ours from None
        if not names >= REQUIRED_TABLES:
            raise not_ours

    def _connect(self) -> None:
        self._lock = threading.Lock()
        if self.read_only:
            # Read-only: no journal mode switch (that would write), no schema, no chmod.
            self._db = sqlite3.connect(
                self._ro_uri(), uri=True, timeout=30, isolation_level=None,
                check_same_thread=False,
            )
            self._db.execute("PRAGMA busy_timeout = 30000")
            return
        # Autocommit mode: transactions are explicit, so a flush is exactly one of them.
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA busy_timeout = 30000")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = NORMAL")
        self._db.execute("PRAGMA secure_delete = ON")

    def reopen(self) -> None:
        """A fresh connection in a forked child; the inherited one is abandoned unused."""
        self._connect()

    def write(self, batch: Batch) -> None:
        if not batch:
            return
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = []
                for (day, page, dim, value), delta in batch.cells.items():
                    blob = None
                    if delta.visitors:
                        old = db.execute(
                            "SELECT sketch FROM cells WHERE dim=? AND page=? AND day=? AND value=?",
                            (dim, page, day, value),
                        ).fetchone()
                        sketch = HLL.from_bytes(old[0] if old else None)
                        sketch.update(delta.visitors)
                        blob = sketch.to_bytes()
                    rows.append((dim, page, day, value, delta.pageviews, delta.events, blob))
                db.executemany(_UPSERT_CELL, rows)
                db.executemany(
                    "INSERT INTO bots VALUES (?, ?, ?) ON CONFLICT (day, reason) "
                    "DO UPDATE SET count = count + excluded.count",
                    [(d, r, n) for (d, r), n in batch.bots.items()],
                )
                db.executemany(
                    "INSERT INTO consent VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (day, category, granted, source) "
                    "DO UPDATE SET count = count + excluded.count",
                    [(d, c, int(g), s, n) for (d, c, g, s), n in batch.consent.items()],
                )
                db.executemany(
                    "INSERT OR REPLACE INTO ingested VALUES (?, ?, ?)",
                    [(s, n, d) for s, (n, d) in batch.ingested.items()],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def day_key(self, day: str, now: float) -> bytes | None:
        expires = key_expires(day)
        if now >= expires:
            return None
        with self._lock:
            # INSERT OR IGNORE then SELECT: whichever process inserts first wins, all agree.
            self._db.execute(
                "INSERT OR IGNORE INTO day_keys VALUES (?, ?, ?)",
                (day, secrets.token_bytes(32), expires),
            )
            row = self._db.execute("SELECT key FROM day_keys WHERE day = ?", (day,)).fetchone()
        return bytes(row[0]) if row else None

    def drop_day_keys(self, now: float) -> int:
        with self._lock:
            n = self._db.execute("DELETE FROM day_keys WHERE expires <= ?", (now,)).rowcount
            if n:
                # The WAL still holds the pages as they were; fold it back and truncate it.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return n

    def purge(self, before: str) -> int:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                n = 0
                for table in ("cells", "bots", "consent"):
                    n += db.execute(f"DELETE FROM {table} WHERE day < ?", (before,)).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        return n

    def cell_rows(
        self, start: str, end: str, dim: str, *, page: str | None, value: str | None
    ) -> Sequence[CellRow]:
        sql = "SELECT day, page, value, pageviews, events, sketch FROM cells WHERE dim = ?"
        params: list[object] = [dim]
        if page is None:
            sql += " AND page != ''"
        else:
            sql += " AND page = ?"
            params.append(page)
        if value is not None:
            sql += " AND value = ?"
            params.append(value)
        sql += " AND day BETWEEN ? AND ?"
        params += [start, end]
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [CellRow(d, p, v, pv, ev, count_serialized(sk)) for d, p, v, pv, ev, sk in rows]

    def bot_rows(self, start: str, end: str) -> Sequence[tuple[str, str, int]]:
        with self._lock:
            return self._db.execute(
                "SELECT day, reason, count FROM bots WHERE day BETWEEN ? AND ?", (start, end)
            ).fetchall()

    def consent_rows(self, start: str, end: str) -> Sequence[tuple[str, str, bool, str, int]]:
        with self._lock:
            rows = self._db.execute(
                "SELECT day, category, granted, source, count FROM consent "
                "WHERE day BETWEEN ? AND ?",
                (start, end),
            ).fetchall()
        return [(d, c, bool(g), s, n) for d, c, g, s, n in rows]

    def ingested(self, source: str) -> tuple[int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT lines, digest FROM ingested WHERE source = ?", (source,)
            ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def close(self) -> None:
        with self._lock:
            self._db.close()
