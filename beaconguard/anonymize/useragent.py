"""User-agent processor: a full UA string becomes browser family, major version, OS family
and device class. The full string is never written.

Parsing with ``user-agents`` costs about a millisecond, so results sit behind a bounded LRU
cache: a repeated UA costs a dict lookup, and a flood of random UA strings can neither grow
memory past the cache size nor cost more than one parse each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import user_agents

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.bots import bot_reason

#: Longer strings are not parsed: no real browser sends one, and parsing is not free.
MAX_UA = 512

DEVICE_CLASSES = ("desktop", "mobile", "tablet", "bot", "other")


class UAInfo(NamedTuple):
    """What is kept of a user agent."""

    browser: str
    browser_version: str | None
    os: str
    device: str
    is_bot: bool
    bot_reason: str | None


UNKNOWN = UAInfo("Other", None, "Other", "other", False, None)
EMPTY = UAInfo("Other", None, "Other", "bot", True, "empty")
ABSURD = UAInfo("Other", None, "Other", "bot", True, "malformed")


def _family(name: str) -> str:
    # Families come from a fixed regex list, but guard against anything odd slipping out.
    return name[:40] if name and name.isprintable() else "Other"


def parse(ua: str) -> UAInfo:
    """Classify one UA string (uncached: use :func:`make_classifier` on the hot path)."""
    if not ua or not ua.strip():
        return EMPTY
    if len(ua) > MAX_UA or not ua.isprintable():
        return ABSURD
    try:
        parsed = user_agents.parse(ua)
    except Exception:
        return UNKNOWN
    reason = bot_reason(ua, parsed.is_bot)
    major = parsed.browser.version[0] if parsed.browser.version else None
    version = str(major) if isinstance(major, int) and 0 <= major < 10_000 else None
    if reason is not None:
        device = "bot"
    elif parsed.is_tablet:
        device = "tablet"
    elif parsed.is_mobile:
        device = "mobile"
    elif parsed.is_pc:
        device = "desktop"
    else:
        device = "other"
    return UAInfo(
        _family(parsed.browser.family),
        version,
        _family(parsed.os.family),
        device,
        reason is not None,
        reason,
    )


def make_classifier(cache_size: int = 4096) -> Callable[[str], UAInfo]:
    """A bounded, cached :func:`parse`; one per middleware so caches are not global."""
    return bounded_cache(parse, cache_size, MAX_UA)
