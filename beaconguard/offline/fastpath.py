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
from beaconguard.anonymize.referrer import MAX_REFERRER, make_referrer_filter
from beaconguard.anonymize.useragent import make_classifier
from beaconguard.client import make_client_resolver
from beaconguard.offline.fastip import make_fast_truncate
from beaconguard.offline.parse import parse_clf_time, split_request
from beaconguard.offline.to_visit import split_target
from beaconguard.offline.writer import _ClfTime, _quoted, _request_column, _ua_column
from beaconguard.settings import Settings

#: ``fast(line) -> anonymized line (with its newline), or None for "use the full path"``.
FastPath = Callable[[str], str | None]
#: ``slow(line, line_number, after_fast)``: one line for the line-by-line path; ``after_fast``
#: tells that lines went the fast way since the previous call (they were text lines).
SlowLine = Callable[[str | None, int, bool], None]
#: ``block(text, lines_before, out, slow) -> (lines, fast_lines, ends_after_fast)``: the
#: anonymized lines of ``text`` (whole lines) appended to ``out`` in order, those it does
#: not take handed to ``slow`` at their place.
BlockPath = Callable[[str, int, list[str], SlowLine], tuple[int, int, bool]]

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


_QUERY_OR_FRAGMENT = re.compile(r"[?#]")


def query_start(referer: str) -> int:
    """Where the query (or fragment) of a referrer starts, when the referrer filter's
    answer depends only on what comes before it; else 0.

    :func:`~beaconguard.anonymize.referrer.anonymize_referrer` keeps the scheme, host and
    path, never the query or fragment, and ``urlsplit`` ends the host and the path at the
    first ``?`` or ``#`` (a scheme cannot hold either). Not for over-long referrers (the
    filter refuses them whole) nor after whitespace or a control character, which a URL
    parser may strip from the end of what is left (only printable ASCII may precede it).
    """
    m = _QUERY_OR_FRAGMENT.search(referer)
    if m is None:
        return 0
    cut = m.start()
    if cut == 0 or not "!" <= referer[cut - 1] <= "~" or len(referer) > MAX_REFERRER:
        return 0
    return cut


def _block_pattern(fmt: str, strict: bool) -> Callable[[str], list[Any]]:
    """``findall`` of the pattern that reads a block line by line: the plain shape above
    (a line the line path would take), or any other line whole, as the last group.

    Every row has the groups client, time, request, status, size, " " (when the referrer
    and user-agent columns follow), referrer, user agent, ``' "X-Forwarded-For"'`` and the
    other line; ident and user are not kept. ``strict`` keeps every field off ``\\`` (the
    line path declines escapes) and off the newline; the loose form runs faster on blocks
    without a backslash, and its caller checks that no field ran over a newline.
    """
    field = r'[^"\\\n]' if strict else r'[^"]'
    word = r'[^\s"\\]+' if strict else r'[^\s"]+'
    stamp = r'[^\]"\\\n]' if strict else r'[^\]"]'
    head = (
        rf'({word}) {word} {word} \[({stamp}{{1,64}})\] '
        rf'"({field}*)" ([1-9][0-9][0-9]) (-|0|[1-9][0-9]{{0,17}})'
    )
    tail = rf'( )"({field}*)" "({field}*)"( "{field}*")?'
    shape = {
        "common": head + "()()()()",
        "combined": head + tail,
        # A line starting with "{" is JSON in auto mode, whatever else it looks like.
        "auto": r"(?!\{)" + head + f"(?:{tail})?",
    }[fmt]
    return re.compile(shape + r"[^\S\n]*\n|([^\n]*)\n").findall


_BLOCK = {fmt: (_block_pattern(fmt, False), _block_pattern(fmt, True)) for fmt in _LINE}

#: Raw column values longer than this are computed every time, never kept as cache keys:
#: a cache of 4096 entries is small until each key is a 60 KB string a client chose.
MAX_KEY = 2048


class _Bounded(dict[Any, Any]):
    """A per-column cache: emptied when full, so a flood of distinct values cannot grow
    it past ``size`` entries (and a hit costs one dict lookup, the point of the exercise);
    over-long keys are not stored at all."""

    __slots__ = ("size",)

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: str | tuple[str, str], value: object) -> None:
        if len(key) > MAX_KEY if isinstance(key, str) else len(key[0]) + len(key[1]) > MAX_KEY:
            return
        if len(self) >= self.size:
            self.clear()
        self[key] = value


class _Columns:
    """The processors :func:`~beaconguard.anonymize.pipeline.build_pipeline` composes,
    built from the same ``Settings``, each behind a bounded cache keyed by its raw column.

    One instance serves the line path and the block path of one run, so a value met by
    either is computed once.
    """

    def __init__(self, settings: Settings, site_host: str) -> None:
        size = settings.ua_cache_size
        self.default_host = site_host.lower()
        self.resolve = make_client_resolver(settings.trusted_proxies)
        self.ip_filter = make_ip_filter(
            settings.ip_mode,
            v4_prefix=settings.ipv4_prefix,
            v6_prefix=settings.ipv6_prefix,
            secret=settings.signing_key if settings.ip_mode == "hash" else None,
            cache_size=size,
        )
        # Truncation and dropping do not depend on the time; hash pseudonyms change at
        # each UTC day, so their cache is emptied when the day changes.
        self.hashed = settings.ip_mode == "hash"
        self.quick_truncate = (
            make_fast_truncate(settings.ipv4_prefix, settings.ipv6_prefix)
            if settings.ip_mode == "truncate"
            else None
        )
        # Without trusted proxies the client column is the address itself ("-" is not
        # one, so it takes the full route and becomes "-").
        self.quick_direct = self.quick_truncate if not settings.trusted_proxies else None
        self.segment = lru_cache(maxsize=size)(anonymize_segment)
        self.query_filter = make_query_filter(settings.query_allowlist, settings.query_mode)
        self.referrer_filter = make_referrer_filter(size)
        self.classify = make_classifier(size)
        self.clf_time = _ClfTime()
        self.clients: _Bounded = _Bounded(size)
        self.requests: _Bounded = _Bounded(size)
        self.paths: _Bounded = _Bounded(size)
        self.referrers: _Bounded = _Bounded(size)
        self.agents: _Bounded = _Bounded(size)
        self.days: _Bounded = _Bounded(64)
        self.referrer_prefixes: _Bounded = _Bounded(size)

    def time(self, when: str) -> tuple[float, str] | None:
        """The CLF time as (Unix time, the output's time text), or ``None``."""
        # A log's times change every second or so, its dates and zone rarely: the date
        # and zone are parsed once (at midnight), the clock is added. Same answers as
        # parse_clf_time, which validates the day and zone; the clock is checked here.
        clock = when[12:20]
        if len(when) == 26 and when.isascii() and clock[2] == ":" == clock[5]:
            hh, mm, ss = clock[:2], clock[3:5], clock[6:]
            if hh.isdigit() and mm.isdigit() and ss.isdigit():
                h, m, s = int(hh), int(mm), int(ss)
                if h > 23 or m > 59 or s > 59:
                    return None
                key = when[:12] + when[20:]
                midnight = self.days.get(key, False)
                if midnight is False:
                    midnight = parse_clf_time(when[:12] + "00:00:00" + when[20:])
                    self.days.put(key, midnight)
                if midnight is None:
                    return None
                if when[20:] == " +0000" and when[7] != "0":
                    # Already UTC, four-digit year: written back exactly as it was read.
                    return midnight + h * 3600 + m * 60 + s, when
                return self._time_text(midnight + h * 3600 + m * 60 + s)
        moment = parse_clf_time(when)
        if moment is None:
            return None
        return self._time_text(moment)

    def _time_text(self, moment: float) -> tuple[float, str]:
        iso = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(int(moment)))
        return moment, self.clf_time(iso)

    def client(self, client: str, xff: str | None, when: float) -> str:
        """The client column for a peer address (and X-Forwarded-For column)."""
        address = self.resolve(None if client == "-" else client, xff, None)
        kept = None
        if self.quick_truncate is not None and address is not None:
            kept = self.quick_truncate(address)
        if kept is None:
            kept = self.ip_filter(address, when)
        return kept or "-"

    def direct_client(self, client: str, when: float) -> str:
        """The client column for a line without X-Forwarded-For; cached (the caller
        looks in ``clients`` first, so a hit costs no call)."""
        text = self.quick_direct(client) if self.quick_direct is not None else None
        if text is None:
            text = self.client(client, None, when)
        self.clients.put(client, text)
        return text

    def request(self, request: str) -> tuple[str, str] | None:
        """(request column, host the referrer is judged against), or ``None`` for a
        request line that is not one; cached."""
        req = split_request(request)
        if req is None:
            return None
        method, target, protocol = req
        path, query, target_host = split_target(target)
        paths = self.paths
        kept_path = paths.get(path)
        if kept_path is None:
            kept_path = anonymize_path(path, self.segment)
            paths.put(path, kept_path)
        column = _request_column(
            method if method in _METHODS else "OTHER", kept_path, self.query_filter(query), protocol
        )
        found = column, target_host or self.default_host
        self.requests.put(request, found)
        return found

    def referrer(self, referer: str, host: str, key: str | tuple[str, str]) -> str:
        """The referrer column; cached under ``key``."""
        cut = query_start(referer)
        if cut > 0:
            # Referrers differ mostly in their query strings (searches, session ids),
            # which the filter never keeps: referrers alike up to the query share one
            # answer, so each new query costs a lookup instead of a URL parse.
            short = (referer[:cut], host)
            text = self.referrer_prefixes.get(short)
            if text is None:
                text = self._referrer_text(referer, host)
                self.referrer_prefixes.put(short, text)
        else:
            text = self._referrer_text(referer, host)
        self.referrers.put(key, text)
        return text

    def _referrer_text(self, referer: str, host: str) -> str:
        kept = self.referrer_filter(referer, host) if referer and referer != "-" else None
        return _quoted(kept or "-")

    def agent(self, ua: str) -> str:
        """The user-agent column (the classification); cached."""
        info = self.classify("" if ua == "-" else ua)
        text = _ua_column(info.browser, info.browser_version, info.os, info.device,
                          info.bot_reason)  # fmt: skip
        self.agents.put(ua, text)
        return text


def make_fast_path(settings: Settings, fmt: str, *, site_host: str = "") -> FastPath | None:
    """Build the fast path for text input in ``fmt``, or ``None`` when there is none."""
    paths = make_fast_paths(settings, fmt, site_host=site_host)
    return None if paths is None else paths[0]


def make_fast_paths(
    settings: Settings, fmt: str, *, site_host: str = ""
) -> tuple[FastPath, BlockPath] | None:
    """Build the line and block fast paths for text input in ``fmt`` (sharing their
    caches), or ``None`` when there are none."""
    pattern = _LINE.get(fmt)
    if pattern is None:
        return None
    columns = _Columns(settings, site_host)
    return _line_path(columns, pattern, fmt), _block_path(columns, fmt)


def _line_path(columns: _Columns, pattern: re.Pattern[str], fmt: str) -> FastPath:
    line_match = pattern.fullmatch
    json_first = fmt == "auto"
    default_host = columns.default_host
    hashed = columns.hashed
    client_column = columns.client
    clients, requests, referrers, agents = (
        columns.clients, columns.requests, columns.referrers, columns.agents
    )  # fmt: skip
    last_when = ""
    last_moment = 0.0
    last_time = ""

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
            found_time = columns.time(when)
            if found_time is None:
                return None
            last_when = when
            last_moment, last_time = found_time

        found = requests.get(request)
        if found is None:
            found = columns.request(request)
            if found is None:
                return None

        client_text: str | None
        if xff is not None or hashed:
            client_text = client_column(client, xff, last_moment)
        else:
            client_text = clients.get(client)
            if client_text is None:
                client_text = columns.direct_client(client, last_moment)

        if ua is None:
            return f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text}\n'

        host = found[1]
        ref_key = referer if host is default_host else (referer, host)
        ref_text = referrers.get(ref_key)
        if ref_text is None:
            ref_text = columns.referrer(referer, host, ref_key)  # type: ignore[arg-type]

        ua_text = agents.get(ua)
        if ua_text is None:
            ua_text = columns.agent(ua)

        tail = _TAIL_COMBINED if xff is None else _TAIL_XFF
        return (
            f'{client_text} - - [{last_time}] "{found[0]}" {status} {size_text} '
            f'"{ref_text}" "{ua_text}{tail}'
        )

    return fast


def _chomp(line: str) -> str:
    """A line of a block without its CR (its LF is already gone)."""
    return line[:-1] if line[-1:] == "\r" else line


def _block_path(columns: _Columns, fmt: str) -> BlockPath:
    loose, strict = _BLOCK[fmt]
    default_host = columns.default_host
    hashed = columns.hashed
    client_column = columns.client
    clients, requests, referrers, agents = (
        columns.clients, columns.requests, columns.referrers, columns.agents
    )  # fmt: skip
    # Kept between blocks: logs change second rarely and day more rarely still.
    state: list[Any] = ["", 0.0, "", None]  # time text, Unix time, its output, UTC day

    def block(
        text: str, base: int, out: list[str], slow: SlowLine
    ) -> tuple[int, int, bool]:
        rows = (loose if "\\" not in text else strict)(text)
        newlines = text.count("\n")
        if len(rows) != newlines:
            # The loose pattern let a quoted field run over a newline: take the block
            # again with the pattern whose every field stops at the end of its line.
            rows = strict(text)
        add = out.append
        last_when, last_moment, head, day = state
        fast = 0
        fresh = False  # a line went the fast way since the last slow one
        split: list[str] | None = None
        for i, (client, when, request, status, size_text, sp, referer, ua, xff, other) in (
            enumerate(rows)
        ):
            if not client:
                # Not a plain line (JSON, escapes, odd spacing, garbage): the line path.
                slow(_chomp(other), base + i + 1, fresh)
                fresh = False
                continue
            if when != last_when:
                found_time = columns.time(when)
                if found_time is None:
                    split = split or text.split("\n")
                    slow(_chomp(split[i]), base + i + 1, fresh)
                    fresh = False
                    continue
                last_when = when
                last_moment, clf = found_time
                head = f" - - [{clf}] \""
                if hashed and day != int(last_moment // 86400):
                    day = int(last_moment // 86400)
                    clients.clear()
            found = requests.get(request)
            if found is None:
                found = columns.request(request)
                if found is None:
                    split = split or text.split("\n")
                    slow(_chomp(split[i]), base + i + 1, fresh)
                    fresh = False
                    continue

            if xff:
                key: str | tuple[str, str] = (client, xff)
                client_text = clients.get(key)
                if client_text is None:
                    client_text = client_column(client, xff[2:-1], last_moment)
                    clients.put(key, client_text)
            else:
                client_text = clients.get(client)
                if client_text is None:
                    client_text = columns.direct_client(client, last_moment)
            if size_text == "-":
                size_text = "0"
            fast += 1
            fresh = True
            if not sp:
                add(f"{client_text}{head}{found[0]}\" {status} {size_text}\n")
                continue

            host = found[1]
            ref_key = referer if host is default_host else (referer, host)
            ref_text = referrers.get(ref_key)
            if ref_text is None:
                ref_text = columns.referrer(referer, host, ref_key)
            ua_text = agents.get(ua)
            if ua_text is None:
                ua_text = columns.agent(ua)
            add(
                f'{client_text}{head}{found[0]}" {status} {size_text} "{ref_text}" "{ua_text}'
                + (_TAIL_COMBINED if not xff else _TAIL_XFF)
            )
        state[:] = last_when, last_moment, head, day
        return len(rows), fast, fresh

    return block
