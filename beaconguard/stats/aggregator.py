"""The aggregator: each finished request becomes a few in-memory counter updates.

Per request nothing touches disk or network: the consumer bumps counters in a dict of
pending cells and adds the visitor's keyed hash to each cell's set. A background thread
swaps the pending batch out every ``flush_interval`` seconds and writes it to the store in
one transaction; :meth:`Aggregator.close` (lifespan shutdown, and ``atexit``) writes the
rest. A process killed outright loses at most one interval.

Unique visitors: the hash of (day key, full client address, user agent, host) is keyed by
the day's random key, which lives in the store so every worker and host agrees on it, and
which is destroyed once the day (plus one hour of grace) is over. After that nobody, the
operator included, can tell whose visits a sketch holds.

Day keys are fetched by the flusher only: at start, on each tick for today, and for
tomorrow from ten minutes before midnight. A visit whose day key is not in memory (the
store was down at start, or it was unreachable in those ten minutes) is still counted as
a page view at once; its (client, user agent, host) is held in memory with the pending
batch and hashed by the flusher, which fetches the key off the request path. If the key
cannot be had at that flush, those triples are dropped and the visit counts without a
visitor: a raw identifier never outlives the batch it arrived in, and never leaves memory.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from beaconguard.settings import Settings
from beaconguard.stats.days import DAY, KEY_GRACE, day_name, day_number, parse_day
from beaconguard.stats.store.base import Batch, Cell, Delta, Store
from beaconguard.visit import Visit

log = logging.getLogger("beaconguard.stats")

_UTM = ("utm_source", "utm_medium", "utm_campaign")
#: Stored dimension values are capped; the anonymize pipeline already bounds most of them.
MAX_VALUE = 200
#: Pending cells past which the flusher is woken early, so a burst cannot grow memory.
MAX_PENDING = 50_000
#: What a store outage may hold back for the next try: cells, and visitor hashes across
#: them (about 100 MB together at the limits). Past them the oldest counts stay and the
#: newest are dropped, counted in ``Aggregator.dropped`` and logged: an outage of hours
#: must not take the app's memory with it.
MAX_BACKLOG_CELLS = 200_000
MAX_BACKLOG_VISITORS = 1_000_000
_HTML = ("text/html", "application/xhtml+xml")


def _cap(value: object) -> str:
    if value is None:
        return ""
    text = str(value).replace("\x1f", " ")  # the Redis store's field separator
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE]


def referrer_host(referrer: str | None) -> str:
    """``news.example`` from the pipeline's ``https://news.example``; "" for own-site or none."""
    if not referrer or "://" not in referrer:
        return ""
    return referrer.split("://", 1)[1]


def utm_values(query: str | None) -> dict[str, str]:
    """The UTM parameters kept in an anonymized query string."""
    out: dict[str, str] = {}
    if not query:
        return out
    for pair in query.split("&"):
        name, _, value = pair.partition("=")
        if name in _UTM:
            out[name] = unquote(value)
    return out


def is_prefetch(headers: Mapping[str, str]) -> bool:
    """A speculative load (``Sec-Purpose: prefetch``/``prerender``, ``Purpose: prefetch``)."""
    for name in ("sec-purpose", "purpose"):
        value = headers.get(name)
        if value is not None and ("prefetch" in value or "prerender" in value):
            return True
    return False


def counts_as_pageview(
    method: str, status: int, content_type: str, headers: Mapping[str, str]
) -> bool:
    """Server-side page view rule: a 2xx HTML answer to GET that is not a prefetch."""
    return (
        method == "GET"
        and 200 <= status < 300
        and content_type.lstrip().lower().startswith(_HTML)
        and not is_prefetch(headers)
    )


def visitor_hash(key: bytes, client: object, user_agent: object, host: object) -> int:
    """The 64-bit keyed hash of one visitor on the day of ``key``."""
    return int.from_bytes(
        hashlib.blake2b(
            f"{client}\x00{user_agent}\x00{host}".encode("utf-8", "replace"),
            key=key,
            digest_size=8,
        ).digest(),
        "big",
    )


def expand(pending: Mapping[tuple[Any, ...], list[Any]], cells: dict[Cell, Delta]) -> None:
    """Turn the hot path's per-signature counts into per-cell deltas.

    Each visit counts in the day's total, its page, and each dimension both across all
    pages and within its page (what lets a report filter by page and group by anything).
    """
    for signature, (pageviews, events, hashes) in pending.items():
        day, page, event, referrer, query, country, browser, os_, device, props = signature
        page = _cap(page)
        dims = [
            ("referrer", referrer_host(referrer)),
            ("country", country),
            ("browser", browser),
            ("os", os_),
            ("device", device),
        ]
        utm = utm_values(query)
        dims += [(name, utm.get(name, "")) for name in _UTM]
        targets: list[Cell] = [(day, "", "", ""), (day, "", "page", page)]
        if event is not None:
            event = _cap(event)
            targets.append((day, "", "event", event))
            targets.append((day, page, "event", event))
            for name, value in props:
                targets.append((day, "", "prop", _cap(f"{event}\x1e{name}\x1e{value}")))
        for dim, value in dims:
            value = _cap(value)
            targets.append((day, "", dim, value))
            targets.append((day, page, dim, value))
        for cell in targets:
            delta = cells.get(cell)
            if delta is None:
                delta = cells[cell] = Delta()
            delta.pageviews += pageviews
            delta.events += events
            if hashes:
                delta.visitors |= hashes


def _after_fork(ref: weakref.ref[Aggregator]) -> None:
    aggregator = ref()
    if aggregator is not None:
        aggregator._forked()


class Aggregator:
    """In-memory counters, flushed to a :class:`~beaconguard.stats.store.base.Store`.

    Use :meth:`consume` as a middleware consumer. ``clock`` and ``background`` exist for
    tests (a fake clock, flushing by hand).
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        background: bool = True,
    ) -> None:
        self.store = store
        self.settings = settings
        self._clock = clock
        self._cookieless = settings.cookieless
        self._interval = settings.flush_interval
        self._retention = settings.retention_days
        self._lock = threading.Lock()
        self._batch = Batch()  # bots and consent; cells are built from _pending at flush
        self._pending: dict[tuple[Any, ...], list[Any]] = {}
        # Visits of a day whose key was not in memory: signature -> raw (client, UA, host),
        # hashed or dropped by the next flush.
        self._unkeyed: dict[tuple[Any, ...], set[tuple[object, object, object]]] = {}
        self._keys: dict[int, bytes] = {}
        self._day_names: dict[int, str] = {}
        self._closed = False
        self._wake = threading.Event()
        self._last_purge = 0.0
        #: What a full outage backlog had to drop: counter cells (one visit updates
        #: several: the day, its page, each dimension) and visitor hashes.
        self.dropped = {"cells": 0, "visitors": 0}
        try:
            self._refresh_keys(clock())
        except Exception:
            # A store outage must not keep the app from starting; the flusher retries.
            log.exception("beaconguard: statistics store unavailable at start; will retry")
        self._thread: threading.Thread | None = None
        self._background = background
        if background:
            self._start_thread()
            atexit.register(self.close)
            # A server that imports the app and then forks workers (gunicorn --preload)
            # leaves the child without the flusher and with the parent's connection.
            me = weakref.ref(self)
            os.register_at_fork(after_in_child=lambda: _after_fork(me))

    def _start_thread(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name="beaconguard-stats-flush", daemon=True
        )
        self._thread.start()

    def _forked(self) -> None:
        """In a forked child: own lock, nothing pending (the parent writes its own)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._batch = Batch()
        self._pending = {}
        self._unkeyed = {}
        reopen = getattr(self.store, "reopen", None)
        if reopen is not None:
            reopen()
        if self._background and not self._closed:
            self._start_thread()

    # -- hot path ----------------------------------------------------------------------

    def consume(self, visit: Visit, record: Mapping[str, Any]) -> None:
        """Count one finished request (a middleware consumer)."""
        beacon = visit.beacon
        if beacon is None:
            counted = visit.pageview
            if counted is None:
                counted = counts_as_pageview(
                    visit.method, visit.status, visit.content_type, visit.headers
                )
            if not counted:
                return
            page, referrer, query, event = record["path"], record["referrer"], record["query"], None
        else:
            # Same rule as server-side views: HEAD and speculative loads are answered, not
            # counted (a prerendered page's pixel carries Sec-Purpose too).
            if (
                not 200 <= visit.status < 300
                or visit.method == "HEAD"
                or is_prefetch(visit.headers)
            ):
                return
            if not self._cookieless:
                consent = visit.consent
                if consent is None or not consent.allows("statistics"):  # type: ignore[attr-defined]
                    return
            page = beacon["page"]
            referrer = beacon.get("referrer")
            query = beacon.get("query")
            event = beacon.get("event")
        number = day_number(visit.time)
        day = self._day_names.get(number) or self._day_name(number)
        if record["is_bot"]:
            reason = record["bot_reason"] or "crawler"
            with self._lock:
                bots = self._batch.bots
                bots[(day, reason)] = bots.get((day, reason), 0) + 1
            return
        # Never fetched here: a request touches memory only (see the module docstring).
        key = self._keys.get(number)
        hashed = None
        if key is not None:
            hashed = visitor_hash(key, visit.client, visit.user_agent, visit.host)
        # One dict entry per distinct combination of dimension values; the flusher expands
        # it into the cells (page x dimension) off the request path.
        props = tuple(beacon["props"].items()) if event is not None and beacon else ()
        signature = (
            day,
            page,
            event,
            referrer,
            query,
            record["country"],
            record["browser"],
            record["os"],
            record["device"],
            props,
        )
        with self._lock:
            pending = self._pending
            entry = pending.get(signature)
            if entry is None:
                entry = pending[signature] = [0, 0, set()]
            entry[1 if event is not None else 0] += 1
            if hashed is not None:
                entry[2].add(hashed)
            else:
                unkeyed = self._unkeyed.get(signature)
                if unkeyed is None:
                    unkeyed = self._unkeyed[signature] = set()
                unkeyed.add((visit.client, visit.user_agent, visit.host))
            crowded = len(pending) > MAX_PENDING
        if crowded:
            self._wake.set()

    def add_consent(self, decisions: Mapping[str, bool], source: str) -> None:
        """Count one consent decision: per day, category, granted or denied, and source."""
        day = day_name(day_number(self._clock()))
        source = _cap(source)
        with self._lock:
            pending = self._batch.consent
            for category, granted in decisions.items():
                k = (day, _cap(category), bool(granted), source)
                pending[k] = pending.get(k, 0) + 1

    def mark_ingested(self, source: str, lines: int, digest: str) -> None:
        """Record, with the counts pending now, that ``lines`` of a log source are counted.

        Offline ingest calls this before :meth:`flush`, so the marker and the counts reach
        the store in one transaction.
        """
        with self._lock:
            self._batch.ingested[source] = (lines, digest)

    # -- day keys ----------------------------------------------------------------------

    def _day_name(self, number: int) -> str:
        name = day_name(number)
        if len(self._day_names) > 8:
            self._day_names.clear()
        self._day_names[number] = name
        return name

    def _flush_key(self, number: int, now: float) -> bytes | None:
        """The day's key for the flusher: from memory, else from the store (None if gone)."""
        key = self._keys.get(number)
        if key is None:
            key = self.store.day_key(day_name(number), now)
            if key is not None:
                self._keys[number] = key
        return key

    def _hash_unkeyed(
        self,
        pending: dict[tuple[Any, ...], list[Any]],
        unkeyed: dict[tuple[Any, ...], set[tuple[object, object, object]]],
    ) -> None:
        """Hash the visits that arrived without their day's key, or drop them (uncounted)."""
        now = self._clock()
        keys: dict[str, bytes | None] = {}
        for signature, people in unkeyed.items():
            day = signature[0]
            if day not in keys:
                try:
                    keys[day] = self._flush_key(parse_day(day), now)
                except Exception:
                    log.warning("beaconguard: could not read the visitor key of %s; "
                                "%d visit(s) counted without a visitor", day, len(people))
                    keys[day] = None
            key = keys[day]
            if key is not None:
                pending[signature][2].update(visitor_hash(key, *p) for p in people)
            people.clear()

    def _refresh_keys(self, now: float) -> None:
        today = day_number(now)
        # Forget keys whose time is over, so not even this process can link the day again.
        for number in list(self._keys):
            if now >= (number + 1) * DAY + KEY_GRACE:
                del self._keys[number]
        wanted = [today]
        if now >= (today + 1) * DAY - 600:
            wanted.append(today + 1)
        for number in wanted:
            self._flush_key(number, now)
        self.store.drop_day_keys(now)

    # -- flushing ----------------------------------------------------------------------

    def flush(self) -> None:
        """Write what is pending to the store now; on failure keep it for the next try."""
        with self._lock:
            batch, self._batch = self._batch, Batch()
            pending, self._pending = self._pending, {}
            unkeyed, self._unkeyed = self._unkeyed, {}
        if unkeyed:
            self._hash_unkeyed(pending, unkeyed)
        expand(pending, batch.cells)
        if not batch:
            return
        try:
            self.store.write(batch)
        except Exception:
            log.exception("beaconguard: statistics flush failed; will retry")
            self._merge_back(batch)

    def _merge_back(self, batch: Batch) -> None:
        dropped = {"cells": 0, "visitors": 0}
        with self._lock:
            cur = self._batch
            room = MAX_BACKLOG_VISITORS - sum(len(d.visitors) for d in cur.cells.values())
            for cell, delta in batch.cells.items():
                mine = cur.cells.get(cell)
                if mine is None:
                    if len(cur.cells) >= MAX_BACKLOG_CELLS:
                        dropped["cells"] += 1
                        dropped["visitors"] += len(delta.visitors)
                        continue
                    mine = cur.cells[cell] = Delta()
                mine.pageviews += delta.pageviews
                mine.events += delta.events
                if len(delta.visitors) <= room:
                    before = len(mine.visitors)
                    mine.visitors |= delta.visitors
                    room -= len(mine.visitors) - before
                else:
                    dropped["visitors"] += len(delta.visitors)
            for bk, n in batch.bots.items():
                cur.bots[bk] = cur.bots.get(bk, 0) + n
            for ck, n in batch.consent.items():
                cur.consent[ck] = cur.consent.get(ck, 0) + n
            for source, mark in batch.ingested.items():
                if source not in cur.ingested or cur.ingested[source][0] < mark[0]:
                    cur.ingested[source] = mark
            for kind, n in dropped.items():
                self.dropped[kind] += n
        if any(dropped.values()):
            log.warning(
                "beaconguard: statistics store still unavailable and the backlog is full; "
                "dropped %d counter cell(s) and %d visitor hash(es)",
                dropped["cells"], dropped["visitors"],
            )

    def maintain(self) -> None:
        """Day-key rotation and destruction, and (hourly) the retention purge."""
        now = self._clock()
        self._refresh_keys(now)
        if now - self._last_purge >= 3600:
            self._last_purge = now
            keep_from = day_name(day_number(now) - self._retention + 1)
            self.store.purge(keep_from)

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                break
            self.flush()
            try:
                self.maintain()
            except Exception:
                log.exception("beaconguard: statistics maintenance failed; will retry")

    def close(self) -> None:
        """Stop the flusher and write everything pending (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.flush()
        atexit.unregister(self.close)
