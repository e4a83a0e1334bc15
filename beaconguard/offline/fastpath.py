"""The common text line, anonymized column by column with one cache per column.

Most lines of a combined or common log have the plain shape: no backslash escape, every
``"`` a field delimiter. For those, each output column depends on one input column only
(the client address, the time, the request line, the referrer with the site's host, the
user agent), and real logs repeat every one of them far more than they repeat whole
lines. So the column values come from bounded per-column caches filled by the very
processors :func:`~beaconguard.anonymize.pipeline.build_pipeline` composes, built from the
same ``Settings``; the line is then written as
:func:`~beaconguard.offline.writer.make_text_formatter` writes a pipeline record.

Anything else (escapes, odd spacing, JSON, a line that may be malformed) answers ``None``
and goes through the full parser and pipeline, which alone decides what is malformed. The
tests hold this module's output equal to the pipeline's, line for line.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from beaconguard.anonymize.ip import make_ip_filter
from beaconguard.anonymize.path import anonymize_path, anonymize_segment
from beaconguard.anonymize.pipeline import _METHODS
from beaconguard.anonymize.query import make_query_filter
from beaconguard.anonymize.referrer import make_referrer_filter
from beaconguard.anonymize.useragent import make_classifier
from beaconguard.client import make_client_resolver
from beaconguard.offline.fastip import make_fast_truncate
from beaconguard.offline.parse import parse_clf_time, split_request
from beaconguard.offline.to_visit import split_target
from beaconguard.offline.writer import _ClfTime, _quoted, _request_column, _ua_column
from beaconguard.settings import Settings

#: ``fast(line) -> anonymized line (with its newline), or None for "use the full path"``.
FastPath = Callable[[str], str | None]

_HEAD = re.compile(r"(\S+) (\S+) (\S+) \[([^\]]{1,64})\] ")
_STATUS_CODES = frozenset(str(n) for n in range(100, 1000))
# Longer sizes are left to the full path (int() of thousands of digits raises).
_MAX_SIZE_DIGITS = 18
_TAIL_COMBINED = '"\n'
_TAIL_XFF = '" "-"\n'
#: How many ``"``-separated parts each input format allows (common, combined, +XFF).
_PARTS = {"common": (3,), "combined": (7, 9), "auto": (3, 7, 9)}


class _Bounded(dict[Any, Any]):
    """A per-column cache: emptied when full, so a flood of distinct values cannot grow
    it past ``size`` (and a hit costs one dict lookup, the point of the exercise)."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: object, value: object) -> None:
        if len(self) >= self.size:
            self.clear()
        self[key] = value


def make_fast_path(settings: Settings, fmt: str, *, site_host: str = "") -> FastPath | None:
    """Build the fast path for text input in ``fmt``, or ``None`` when there is none."""
    parts_allowed = _PARTS.get(fmt)
    if parts_allowed is None:
        return None
    size = settings.ua_cache_size
    default_host = site_host.lower()
    json_first = fmt == "auto"
    head_match = _HEAD.fullmatch

    # The processors, built as build_pipeline builds them for its steps.
    resolve = make_client_resolver(settings.trusted_proxies)
    ip_filter = make_ip_filter(
        settings.ip_mode,
        v4_prefix=settings.ipv4_prefix,
        v6_prefix=settings.ipv6_prefix,
        secret=settings.signing_key if settings.ip_mode == "hash" else None,
        cache_size=size,
    )
    # Truncation and dropping do not depend on the time: cache them by the raw columns.
    # Hash pseudonyms change every day, so they are not cached here.
    client_is_timeless = settings.ip_mode != "hash"
    quick_truncate = (
        make_fast_truncate(settings.ipv4_prefix, settings.ipv6_prefix)
        if settings.ip_mode == "truncate"
        else None
    )
    segment = lru_cache(maxsize=size)(anonymize_segment)
    query_filter = make_query_filter(settings.query_allowlist, settings.query_mode)
    referrer_filter = make_referrer_filter(size)
    classify = make_classifier(size)
    clf_time = _ClfTime()

    clients: _Bounded = _Bounded(size)
    requests: _Bounded = _Bounded(size)
    paths: _Bounded = _Bounded(size)
    referrers: _Bounded = _Bounded(size)
    agents: _Bounded = _Bounded(size)
    last_when = ""
    last_moment = 0.0
    last_time = ""

    def client_column(client: str, xff: str | None, when: float) -> str:
        address = resolve(None if client == "-" else client, xff, None)
        kept = None
        if quick_truncate is not None and address is not None:
            kept = quick_truncate(address)
        if kept is None:
            kept = ip_filter(address, when)
        return kept or "-"

    def request_column(request: str) -> tuple[str, str] | None:
        req = split_request(request)
        if req is None:
            return None
        method, target, protocol = req
        path, query, target_host = split_target(target)
        kept_path = paths.get(path)
        if kept_path is None:
            kept_path = anonymize_path(path, segment)
            paths.put(path, kept_path)
        column = _request_column(
            method if method in _METHODS else "OTHER", kept_path, query_filter(query), protocol
        )
        return column, target_host or default_host

    def ua_column(ua: str) -> str:
        info = classify(ua)
        return _ua_column(info.browser, info.browser_version, info.os, info.device, info.bot_reason)

    def fast(line: str) -> str | None:
        nonlocal last_when, last_moment, last_time
        if "\\" in line or (json_first and line[:1] == "{"):
            return None
        parts = line.split('"')
        n = len(parts)
        if n not in parts_allowed:
            return None
        head = head_match(parts[0])
        if head is None:
            return None
        if n == 7:
            if parts[4] != " " or parts[6].strip():
                return None
            numbers = parts[2].split(" ")
            if len(numbers) != 4 or numbers[3]:
                return None
        elif n == 3:
            numbers = parts[2].rstrip().split(" ")
            if len(numbers) != 3:
                return None
        else:
            if parts[4] != " " or parts[6] != " " or parts[8].strip():
                return None
            numbers = parts[2].split(" ")
            if len(numbers) != 4 or numbers[3]:
                return None
        blank, status, size_text = numbers[0], numbers[1], numbers[2]
        if blank or status not in _STATUS_CODES:
            return None
        if size_text == "-":
            size_text = "0"
        elif not (size_text.isascii() and size_text.isdigit()):
            return None
        elif size_text[0] == "0" or len(size_text) > _MAX_SIZE_DIGITS:
            if len(size_text) > _MAX_SIZE_DIGITS:
                return None
            size_text = str(int(size_text))

        client, _ident, _user, when = head.groups()
        if when != last_when:
            moment = parse_clf_time(when)
            if moment is None:
                return None
            iso = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(int(moment)))
            last_when, last_moment, last_time = when, moment, clf_time(iso)

        found = requests.get(parts[1])
        if found is None:
            found = request_column(parts[1])
            if found is None:
                return None
            requests.put(parts[1], found)

        client_text: str | None
        if n == 9:
            client_text = client_column(client, parts[7], last_moment)
        elif client_is_timeless:
            client_text = clients.get(client)
            if client_text is None:
                client_text = client_column(client, None, last_moment)
                clients.put(client, client_text)
        else:
            client_text = client_column(client, None, last_moment)

        if n == 3:
            return f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text}\n'

        referer = parts[3]
        host = found[1]
        ref_key = referer if host is default_host else (referer, host)
        ref_text = referrers.get(ref_key)
        if ref_text is None:
            kept = referrer_filter(referer, host) if referer and referer != "-" else None
            ref_text = _quoted(kept or "-")
            referrers.put(ref_key, ref_text)

        ua_text = agents.get(parts[5])
        if ua_text is None:
            ua_text = ua_column("" if parts[5] == "-" else parts[5])
            agents.put(parts[5], ua_text)

        tail = _TAIL_COMBINED if n == 7 else _TAIL_XFF
        return (
            f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text} '
            f'"{ref_text}" "{ua_text}{tail}'
        )

    return fast
