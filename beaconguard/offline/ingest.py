"""Offline ingest: existing access logs become the same statistics live traffic makes.

Each line becomes a ``Visit`` (with the line's own time), goes through the same anonymize
pipeline, and is handed to the same :class:`~beaconguard.stats.aggregator.Aggregator` the
middleware feeds: the same bot filter and the same page-view rule (a 2xx HTML answer to a
GET; text logs have no content type, so a path that names a static file is not a page).

Ingesting twice does not count twice. A log source is known by a keyed hash of its first
line; the store records how many of its lines were counted and a keyed digest of them, in
the same transaction as the counts. A second run skips lines the digest vouches for and
counts only what was appended since (a growing ``access.log``); the same file compressed
after rotation has the same first line and digest, and is skipped whole.

Unique visitors of a past day: the day's shared key is gone (destroyed when the day ended,
as promised), so a day that is over gets a random key that lives in this process only and
is dropped when the run ends. Visitors are therefore counted per run for such days: one
person in two logs of the same old day ingested in two runs counts twice.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from beaconguard.anonymize.pipeline import build_pipeline
from beaconguard.offline.parse import make_parser
from beaconguard.offline.source import Source
from beaconguard.offline.to_visit import make_converter
from beaconguard.settings import Settings
from beaconguard.stats.aggregator import Aggregator
from beaconguard.stats.days import DAY
from beaconguard.stats.store.base import Batch, CellRow, Store

#: Lines counted between flushes (each flush is one store transaction with its marker).
FLUSH_EVERY = 8192 * 6
PROGRESS_EVERY = 8192


@dataclass(slots=True)
class IngestCounts:
    """Per file: lines read (not counting those skipped as ``already`` ingested), fed to the
    aggregator (which applies the bot filter and page-view rule), malformed, and older than
    the retention period (which the next purge would delete anyway)."""

    read: int = 0
    fed: int = 0
    already: int = 0
    malformed: int = 0
    too_old: int = 0


class _RunKeys:
    """The store as the aggregator sees it, except for the visitor keys of days that are
    over: those get a random key held by this object only (the store never hands out or
    recreates a key for a finished day)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.url = store.url
        self._run_keys: dict[str, bytes] = {}

    def day_key(self, day: str, now: float) -> bytes | None:
        key = self._store.day_key(day, now)
        if key is None:
            key = self._run_keys.setdefault(day, secrets.token_bytes(32))
        return key

    def write(self, batch: Batch) -> None:
        self._store.write(batch)

    def drop_day_keys(self, now: float) -> int:
        return self._store.drop_day_keys(now)

    def purge(self, before: str) -> int:
        return self._store.purge(before)

    def cell_rows(
        self, start: str, end: str, dim: str, *, page: str | None, value: str | None
    ) -> Sequence[CellRow]:
        return self._store.cell_rows(start, end, dim, page=page, value=value)

    def bot_rows(self, start: str, end: str) -> Sequence[tuple[str, str, int]]:
        return self._store.bot_rows(start, end)

    def consent_rows(self, start: str, end: str) -> Sequence[tuple[str, str, bool, str, int]]:
        return self._store.consent_rows(start, end)

    def ingested(self, source: str) -> tuple[int, str] | None:
        return self._store.ingested(source)

    def close(self) -> None:
        self._run_keys.clear()


class Ingester:
    """Feeds log files to an aggregator over ``store``; one per run."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        fmt: str = "auto",
        site_host: str = "",
        clock: Callable[[], float] = time.time,
    ) -> None:
        secret = settings.signing_key
        self._id_key = hmac.new(secret, b"ingest-source", hashlib.sha256).digest()
        self._digest_key = hmac.new(secret, b"ingest-digest", hashlib.sha256).digest()
        self.store = store
        self._keys = _RunKeys(store)
        self.aggregator = Aggregator(self._keys, settings, clock=clock, background=False)
        self.parse = make_parser(fmt)
        self.pipeline = build_pipeline(settings)
        self.to_visit = make_converter(settings, site_host=site_host)
        self._oldest = (int(clock() // DAY) - settings.retention_days + 1) * DAY

    def source_id(self, first_line: str) -> str:
        return hashlib.blake2b(
            first_line.encode("utf-8", "replace"), key=self._id_key, digest_size=16
        ).hexdigest()

    def ingest(
        self, path: str, progress: Callable[[int], None] | None = None
    ) -> IngestCounts:
        """Count the lines of ``path`` not counted before; raises ``ValueError`` when the
        store did not take them."""
        with Source(path) as probe:
            first = next(probe.lines(), None)
        counts = IngestCounts()
        if first is None:
            return counts
        source = self.source_id(first)
        prior = self.store.ingested(source)
        if prior is not None and not self._run(path, source, prior, counts, progress):
            # The file starts like one ingested before but is not its continuation: count
            # all of it (the record for that start is replaced).
            counts = IngestCounts()
            self._run(path, source, None, counts, progress)
        elif prior is None:
            self._run(path, source, None, counts, progress)
        return counts

    def _run(
        self,
        path: str,
        source: str,
        prior: tuple[int, str] | None,
        counts: IngestCounts,
        progress: Callable[[int], None] | None,
    ) -> bool:
        skip, expected = prior if prior is not None else (0, "")
        digest = hashlib.blake2b(key=self._digest_key, digest_size=16)
        parse, to_visit, pipeline = self.parse, self.to_visit, self.pipeline
        consume, oldest = self.aggregator.consume, self._oldest
        number = 0
        with Source(path) as src:
            lines: Iterator[str | None] = src.lines()
            for line in lines:
                number += 1
                digest.update(b"\x00" if line is None else line.encode("utf-8", "replace"))
                digest.update(b"\n")
                if number <= skip:
                    if number == skip and digest.hexdigest() != expected:
                        return False
                    counts.already += 1
                    continue
                counts.read += 1
                parsed = parse(line) if line else None
                if parsed is None:
                    counts.malformed += 1
                elif parsed.time < oldest:
                    counts.too_old += 1
                else:
                    visit = to_visit(parsed)
                    consume(visit, pipeline(visit))
                    counts.fed += 1
                if not number % PROGRESS_EVERY:
                    if not number % FLUSH_EVERY:
                        self._flush(source, number, digest.hexdigest())
                    if progress is not None:
                        progress(src.position())
        if number < skip:
            return False
        self._flush(source, number, digest.hexdigest())
        if self.store.ingested(source) != (number, digest.hexdigest()):
            raise ValueError(f"{path}: the statistics store did not accept the counts")
        return True

    def _flush(self, source: str, lines: int, digest: str) -> None:
        self.aggregator.mark_ingested(source, lines, digest)
        self.aggregator.flush()

    def close(self) -> None:
        """Write anything pending and forget this run's visitor keys."""
        self.aggregator.close()
        self._keys.close()
