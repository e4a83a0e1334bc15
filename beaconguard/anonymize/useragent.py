"""User-agent processor: a full UA string becomes browser family, major version, OS family
and device class. The full string is never written.

The classification is the one ``user-agents`` gives (uap-core's regexes, then its mobile,
tablet, PC and bot rules), computed the fast way when it can be:

* ``ua-parser-rs`` (the Rust backend of ``ua-parser``) runs the uap-core regex lists at a
  few microseconds a string where the pure-Python parser behind ``user_agents.parse``
  takes a millisecond. It does not run them quite as Python's ``re`` does: it widens
  bounded repetitions such as ``.{0,200}`` to ``.*`` and reads ``\\d`` and ``\\w`` as ASCII.
  On an ASCII string that only ever lets a pattern match *more*, never less. So it is
  asked only *which* pattern of each list matches first (each pattern is given its own
  index as its result), and Python's ``re`` then runs that one pattern: if it matches
  too, it is the first match the pure-Python parser would have found, and its groups give
  the fields. When it does not (the widened repetition made the difference), Python's
  ``re`` tries the patterns after it in order. A string that is not ASCII, or a match of a
  kind the two parsers read differently, goes to the pure-Python parser.
* The fields go through that library's mobile, tablet, PC and bot rules, restated in
  :mod:`beaconguard.anonymize.uarules` so that the fast route does not import
  ``user_agents`` (whose import compiles every pattern of the pure-Python parser).

Without ``ua-parser-rs`` every string takes the pure-Python route (same answers, slower).
Nothing heavy is imported or built before the first classifier is made or the first
string classified (the Rust parsers, about a third of a second, once per process); the
pure-Python parser is imported only when a string needs it. Results sit behind a
bounded LRU cache: a repeated UA costs a dict lookup, and a flood of random UA strings can
neither grow memory past the cache size nor cost more than one parse each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.anonymize.uarules import Parsed
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


def _import_user_agents() -> Any:
    """``user_agents.parsers``, imported when a string first needs the pure-Python parser.

    Its import compiles that parser's 1,300 patterns (a third of a second), which the
    fast route never runs. Deferring that import further (a lazy module
    in ``sys.modules``) was tried and dropped: on Python 3.11 a lazy module read by two
    threads at once fails in one of them, and the process's other users of
    ``ua_parser.user_agent_parser`` would share that risk.
    """
    import user_agents.parsers

    return user_agents.parsers


class _Engine:
    """``engine(ua) -> a parse with user_agents' attributes``: the fast route where it is
    exact, the pure-Python parser elsewhere. Built once per process, on first use; the
    pure-Python parser (``user_agents``) is imported only when a string needs it."""

    def __init__(self, fast: bool = True) -> None:
        self.extractors: tuple[Any, Any, Any] | None = None
        self.matchers: tuple[list[Any], list[Any], list[Any]] | None = None
        self._legacy: Callable[[str], Any] | None = None
        if fast:
            self._build_fast()

    def legacy(self, ua: str) -> Any:
        """``user_agents.parse(ua)``, its import (a third of a second) paid at first use."""
        parse = self._legacy
        if parse is None:
            parse = self._legacy = _import_user_agents().parse
        return parse(ua)

    def _build_fast(self) -> None:
        try:
            import ua_parser_rs
            from ua_parser_builtins.lazy import MATCHERS
        except ImportError:
            return
        ua_list, os_list, device_list = MATCHERS
        # Each pattern's "family" is its own index: the extractor says which pattern
        # matched first; the Python pattern then says what it captured.
        self.extractors = (
            ua_parser_rs.UserAgentExtractor(
                (m.regex, str(i), None, None, None, None) for i, m in enumerate(ua_list)
            ),
            ua_parser_rs.OSExtractor(
                (m.regex, str(i), None, None, None, None) for i, m in enumerate(os_list)
            ),
            ua_parser_rs.DeviceExtractor(
                (m.regex, m.regex_flag, str(i), None, None) for i, m in enumerate(device_list)
            ),
        )
        self.matchers = (ua_list, os_list, device_list)

    def __call__(self, ua: str) -> Any:
        if self.extractors is None or not ua.isascii() or "\\" in ua:
            return self.legacy(ua)
        try:
            found = self._fast(ua)
        except Exception:  # a match of a kind the two parsers read differently
            found = None
        return self.legacy(ua) if found is None else found

    def _fast(self, ua: str) -> Any:
        """The parse by the fast route, or ``None`` for "ask the pure-Python parser"."""
        assert self.extractors is not None and self.matchers is not None
        ua_x, os_x, device_x = self.extractors
        ua_list, os_list, device_list = self.matchers

        ua_fields: tuple = ("Other", None, None, None)
        m = _first(ua_x, ua_list, ua)
        if m is not None:
            if not m.family:  # the pure-Python parser would go on to the next pattern
                return None
            ua_fields = (m.family, m.major, m.minor, m.patch)

        os_fields: tuple = ("Other", None, None, None, None)
        m = _first(os_x, os_list, ua)  # raises on a match without a family
        if m is not None:
            os_fields = (m.family, m.major, m.minor, m.patch, m.patch_minor)

        device_fields: tuple = ("Other", None, None)
        m = _first(device_x, device_list, ua)
        if m is not None:
            device_fields = (m.family, m.brand, m.model)
        return Parsed(ua, ua_fields, os_fields, device_fields)


def _first(extractor: Any, matchers: list[Any], ua: str) -> Any:
    """What the first of ``matchers`` that matches ``ua`` under Python's ``re`` found, or
    ``None``. The Rust ``extractor`` names the first pattern whose widened form matches:
    none before it can match, so if Python's matches too it is the one. If not (a widened
    ``.{0,100}`` reached further), the patterns after it are tried one by one."""
    hit = extractor.extract(ua)
    if hit is None:
        return None
    first = int(hit.family)
    found = matchers[first](ua)
    if found is not None:
        return found
    for matcher in matchers[first + 1 :]:
        found = matcher(ua)
        if found is not None:
            return found
    return None


_engine: _Engine | None = None
_engine_lock = threading.Lock()


def _get_engine() -> _Engine:
    global _engine
    engine = _engine
    if engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = _Engine()
            engine = _engine
    return engine


def classify_parsed(ua: str, parsed: Any) -> UAInfo:
    """A ``user_agents`` parse of ``ua`` reduced to what is kept of it."""
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


def _parse_with(ua: str, engine: Callable[[str], Any]) -> UAInfo:
    if not ua or not ua.strip():
        return EMPTY
    if len(ua) > MAX_UA or not ua.isprintable():
        return ABSURD
    try:
        parsed = engine(ua)
    except Exception:
        return UNKNOWN
    return classify_parsed(ua, parsed)


def parse(ua: str) -> UAInfo:
    """Classify one UA string (uncached: use :func:`make_classifier` on the hot path)."""
    return _parse_with(ua, _get_engine())


def parse_legacy(ua: str) -> UAInfo:
    """:func:`parse` by the pure-Python parser alone: the reference the fast route is
    held to (tests), and what :func:`parse` does without ``ua-parser-rs``."""
    return _parse_with(ua, _get_engine().legacy)


def make_classifier(cache_size: int = 4096) -> Callable[[str], UAInfo]:
    """A bounded, cached :func:`parse`; one per middleware so caches are not global.

    The parsers are built now (a third of a second, once per process), so that a server's
    first request does not wait for them.
    """
    _get_engine()
    return bounded_cache(parse, cache_size, MAX_UA)
