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

# The plain shape, as the full parser's quote-splitting reads it (parse.split_plain): a
# head without quotes, then quoted fields separated by single spaces, a three-digit status
# and a size. One match checks all of it; sizes with leading zeros or more than 18 digits
# are left to the full path, which normalizes them.
_HEAD_RE = (
    r'([^\s"]+) ([^\s"]+) ([^\s"]+) \[([^\]"]{1,64})\] '
    r'"([^"]*)" ([1-9][0-9][0-9]) (-|0|[1-9][0-9]{0,17})'
)
_TAIL_RE = r' "([^"]*)" "([^"]*)"(?: "([^"]*)")?'
_LINE = {
    "common": re.compile(_HEAD_RE + r"\s*"),
    "combined": re.compile(_HEAD_RE + _TAIL_RE + r"\s*"),
    "auto": re.compile(_HEAD_RE + f"(?:{_TAIL_RE})?" + r"\s*"),
}
_TAIL_COMBINED = '"\n'
_TAIL_XFF = '" "-"\n'


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
    pattern = _LINE.get(fmt)
    if pattern is None:
        return None
    line_match = pattern.fullmatch
    size = settings.ua_cache_size
    default_host = site_host.lower()
    json_first = fmt == "auto"

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
    # Without trusted proxies the client column is the address itself ("-" is not one,
    # so it takes the full route and becomes "-").
    quick_direct = quick_truncate if not settings.trusted_proxies else None
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
        m = line_match(line)
        if m is None:
            return None
        groups = m.groups()
        if len(groups) == 7:
            client, _ident, _user, when, request, status, size_text = groups
            referer = ua = xff = None
        else:
            client, _ident, _user, when, request, status, size_text, referer, ua, xff = groups
        if size_text == "-":
            size_text = "0"

        if when != last_when:
            moment = parse_clf_time(when)
            if moment is None:
                return None
            iso = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(int(moment)))
            last_when, last_moment, last_time = when, moment, clf_time(iso)

        found = requests.get(request)
        if found is None:
            found = request_column(request)
            if found is None:
                return None
            requests.put(request, found)

        client_text: str | None
        if xff is not None:
            client_text = client_column(client, xff, last_moment)
        elif client_is_timeless:
            client_text = clients.get(client)
            if client_text is None:
                if quick_direct is not None:
                    client_text = quick_direct(client)
                if client_text is None:
                    client_text = client_column(client, None, last_moment)
                if len(clients) >= size:
                    clients.clear()
                clients[client] = client_text
        else:
            client_text = client_column(client, None, last_moment)

        if ua is None:
            return f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text}\n'

        host = found[1]
        ref_key = referer if host is default_host else (referer, host)
        ref_text = referrers.get(ref_key)
        if ref_text is None:
            kept = referrer_filter(referer, host) if referer and referer != "-" else None
            ref_text = _quoted(kept or "-")
            referrers.put(ref_key, ref_text)

        ua_text = agents.get(ua)
        if ua_text is None:
            ua_text = ua_column("" if ua == "-" else ua)
            agents.put(ua, ua_text)

        tail = _TAIL_COMBINED if xff is None else _TAIL_XFF
        return (
            f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text} '
            f'"{ref_text}" "{ua_text}{tail}'
        )

    return fast
