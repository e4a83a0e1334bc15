"""UTC day keys for counters, and when a day's visitor key must be gone."""

from __future__ import annotations

import datetime as _dt

DAY = 86_400
#: How long after its day a visitor key may live (late requests, clock skew between hosts).
KEY_GRACE = 3_600
_EPOCH = _dt.date(1970, 1, 1)


def day_number(ts: float) -> int:
    """Days since 1970-01-01 (UTC) of a Unix time."""
    return int(ts // DAY)


def day_name(number: int) -> str:
    """``YYYY-MM-DD`` of a day number."""
    return (_EPOCH + _dt.timedelta(days=number)).isoformat()


def day_of(ts: float) -> str:
    """``YYYY-MM-DD`` (UTC) of a Unix time."""
    return day_name(day_number(ts))


def parse_day(day: str) -> int:
    """The day number of ``YYYY-MM-DD``."""
    return (_dt.date.fromisoformat(day) - _EPOCH).days


def key_expires(day: str) -> float:
    """Unix time after which ``day``'s visitor key is destroyed: its end plus the grace."""
    return float((parse_day(day) + 1) * DAY + KEY_GRACE)


def iso(d: _dt.date) -> str:
    return d.isoformat()
