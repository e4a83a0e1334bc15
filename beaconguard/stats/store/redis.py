"""``redis://host:port/db``: scale-out across hosts, with Redis' own HyperLogLog.

Per day: a hash of counters (``bg:c:DAY``, one field per cell and metric), one HLL key
per cell (``bg:u:DAY:CELL``, fed with the visitors' keyed hashes by ``PFADD``), a hash of
bot counts and one of consent decisions. A flush is one ``MULTI``/``EXEC`` transaction.
The day's visitor key is ``bg:key:DAY``, created with ``SET NX`` (the first worker wins,
every worker reads the same) and expiring by itself at the end of the day plus grace.

Requires the ``redis`` extra: ``pip install 'beaconguard[redis]'``.
"""

from __future__ import annotations

import datetime as _dt
import math
import secrets
from collections.abc import Sequence
from typing import Any

from beaconguard.stats.days import DAY, day_of, key_expires
from beaconguard.stats.store.base import Batch, CellRow

SEP = "\x1f"
PREFIX = "bg:"


def _days(start: str, end: str) -> list[str]:
    a, b = _dt.date.fromisoformat(start), _dt.date.fromisoformat(end)
    return [(a + _dt.timedelta(days=i)).isoformat() for i in range((b - a).days + 1)]


class RedisStore:
    """Aggregates in Redis, shared by every worker on every host."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:  # pragma: no cover - depends on the environment
            raise ValueError(
                "store: redis:// needs the redis package; pip install 'beaconguard[redis]'"
            ) from None
        self.url = url
        self._r: Any = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    @staticmethod
    def _cell(page: str, dim: str, value: str) -> str:
        return f"{page}{SEP}{dim}{SEP}{value}"

    def write(self, batch: Batch) -> None:
        if not batch:
            return
        pipe = self._r.pipeline(transaction=True)
        for (day, page, dim, value), delta in batch.cells.items():
            cell = self._cell(page, dim, value)
            counters = f"{PREFIX}c:{day}"
            if delta.pageviews:
                pipe.hincrby(counters, "p" + SEP + cell, delta.pageviews)
            if delta.events:
                pipe.hincrby(counters, "e" + SEP + cell, delta.events)
            if delta.visitors:
                pipe.pfadd(
                    f"{PREFIX}u:{day}:{cell}", *(h.to_bytes(8, "big") for h in delta.visitors)
                )
        for (day, reason), n in batch.bots.items():
            pipe.hincrby(f"{PREFIX}b:{day}", reason, n)
        for (day, category, granted, source), n in batch.consent.items():
            pipe.hincrby(f"{PREFIX}k:{day}", f"{category}{SEP}{int(granted)}{SEP}{source}", n)
        for source, (lines, digest) in batch.ingested.items():
            pipe.hset(f"{PREFIX}ingested", source, f"{lines}{SEP}{digest}")
        pipe.execute()

    def day_key(self, day: str, now: float) -> bytes | None:
        expires = key_expires(day)
        if now >= expires:
            return None
        name = f"{PREFIX}key:{day}"
        # A TTL relative to our clock (as the caller's ``now`` says), so that it agrees with
        # drop_day_keys even when hosts' clocks differ a little.
        ttl_ms = max(1, math.ceil((expires - now) * 1000))
        self._r.set(name, secrets.token_bytes(32), nx=True, px=ttl_ms)
        key = self._r.get(name)
        return bytes(key) if key is not None else None

    def drop_day_keys(self, now: float) -> int:
        # Redis expires each key by its TTL; this also covers a Redis clock that runs
        # behind ours. Keys are only ever made for the current or next day, so the last
        # few days are all there is to check (no keyspace scan every second).
        gone = 0
        for back in range(1, 4):
            day = day_of(now - back * DAY)
            if now >= key_expires(day):
                gone += int(self._r.delete(f"{PREFIX}key:{day}"))
        return gone

    def purge(self, before: str) -> int:
        gone = 0
        for kind in ("c", "u", "b", "k"):
            for name in self._r.scan_iter(match=f"{PREFIX}{kind}:*", count=500):
                day = name.decode("utf-8", "replace")[len(PREFIX) + 2 :][:10]
                if day < before:
                    gone += int(self._r.delete(name))
        return gone

    def cell_rows(
        self, start: str, end: str, dim: str, *, page: str | None, value: str | None
    ) -> Sequence[CellRow]:
        days = _days(start, end)
        pipe = self._r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(f"{PREFIX}c:{day}")
        cells: dict[tuple[str, str, str], list[int]] = {}
        for day, fields in zip(days, pipe.execute(), strict=True):
            for raw_field, raw_n in fields.items():
                metric, pg, dm, val = raw_field.decode("utf-8", "replace").split(SEP, 3)
                if dm != dim or (value is not None and val != value):
                    continue
                if (pg != page) if page is not None else (pg == ""):
                    continue
                entry = cells.setdefault((day, pg, val), [0, 0])
                entry[0 if metric == "p" else 1] += int(raw_n)
        keys = list(cells)
        pipe = self._r.pipeline(transaction=False)
        for day, pg, val in keys:
            pipe.pfcount(f"{PREFIX}u:{day}:{self._cell(pg, dim, val)}")
        counts = pipe.execute() if keys else []
        return [
            CellRow(day, pg, val, cells[(day, pg, val)][0], cells[(day, pg, val)][1], int(n))
            for (day, pg, val), n in zip(keys, counts, strict=True)
        ]

    def bot_rows(self, start: str, end: str) -> Sequence[tuple[str, str, int]]:
        days = _days(start, end)
        pipe = self._r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(f"{PREFIX}b:{day}")
        return [
            (day, reason.decode(), int(n))
            for day, fields in zip(days, pipe.execute(), strict=True)
            for reason, n in fields.items()
        ]

    def consent_rows(self, start: str, end: str) -> Sequence[tuple[str, str, bool, str, int]]:
        days = _days(start, end)
        pipe = self._r.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(f"{PREFIX}k:{day}")
        out = []
        for day, fields in zip(days, pipe.execute(), strict=True):
            for raw, n in fields.items():
                category, granted, source = raw.decode().split(SEP, 2)
                out.append((day, category, granted == "1", source, int(n)))
        return out

    def ingested(self, source: str) -> tuple[int, str] | None:
        raw = self._r.hget(f"{PREFIX}ingested", source)
        if raw is None:
            return None
        lines, _, digest = raw.decode().partition(SEP)
        return int(lines), digest

    def close(self) -> None:
        self._r.close()
