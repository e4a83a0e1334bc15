"""Query processor: only allowlisted parameter names are kept.

Default allowlist: ``utm_source``, ``utm_medium``, ``utm_campaign``, ``utm_term``,
``utm_content``, ``ref``. Other parameters are dropped (``query_mode="drop"``) or kept by
name with the value replaced (``query_mode="redact"``, only for names that do not
themselves look like data). Even an allowlisted value is replaced when it looks like an
identifier (``utm_term=alice@example.com``): the allowlist says what a field *is*, not
that every value in it is safe.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, unquote_plus

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.anonymize.identifiers import looks_like_identifier

QueryFilter = Callable[[bytes], str | None]

REDACTED = "{redacted}"
MAX_QUERY = 4096
MAX_VALUE = 100
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.\-\[\]]{0,31}")


def _decode(raw: str) -> str | None:
    text = unquote_plus(raw, errors="replace")
    if "\ufffd" in text or not text.isprintable():
        return None
    return text


def scrub_value(value: str) -> str:
    """An allowlisted value, or the redaction marker when it looks like an identifier."""
    if len(value) > MAX_VALUE or looks_like_identifier(value) is not None:
        return REDACTED
    return value


def make_query_filter(
    allowlist: Iterable[str], mode: str = "drop", cache_size: int = 1024
) -> QueryFilter:
    """Build ``filter(raw_query_bytes) -> canonical anonymized query string or None``.

    Results sit behind a bounded LRU cache: campaign links repeat, and a miss costs one
    parse plus an insert, so a flood of unique queries cannot grow memory.
    """
    allowed = frozenset(allowlist)
    redact_others = mode == "redact"

    def query_filter(raw: bytes) -> str | None:
        if not raw:
            return None
        if len(raw) > MAX_QUERY:
            return None
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        kept = []
        for pair in text.split("&"):
            if not pair:
                continue
            raw_name, _, raw_value = pair.partition("=")
            name = _decode(raw_name)
            if name is None:
                continue
            if name in allowed:
                value = _decode(raw_value)
                value = REDACTED if value is None else scrub_value(value)
                kept.append(quote(name, safe="") + "=" + quote(value, safe="{}"))
            elif redact_others and _NAME.fullmatch(name) and looks_like_identifier(name) is None:
                kept.append(name + "=" + REDACTED)
        return "&".join(kept) or None

    return bounded_cache(query_filter, cache_size, MAX_QUERY)
