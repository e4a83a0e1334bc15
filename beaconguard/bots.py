"""Bot classification: is this user agent a crawler, and why do we think so.

The reason matters: statistics never count bots as visits, but count them per reason so
the operator can see what was filtered out. Reasons: ``empty`` (no user agent),
``headless`` (automation and headless-browser hints), ``crawler`` (the shipped crawler
pattern list, or the UA parser's own bot list), ``tool`` (HTTP libraries and command-line
clients). The UA processor adds ``malformed`` for strings no browser sends.

The crawler list is data, not code: ``beaconguard/data/crawler-user-agents.json``, the
patterns of the MIT-licensed `crawler-user-agents` project (source, version and licence
are in the file). It is compiled once, on first use. What each pattern requires of a
string (see :class:`_CrawlerList`) is stored beside it, in
``crawler-requirements.json``; after changing the list, run ``python -m beaconguard.bots``
to write it again (a stale file is ignored, only costing start-up time).
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from pathlib import Path

from beaconguard.literals import Requirement, store_requirements, stored_requirements

# Written in lower case, the headless and generic patterns also serve lower-cased ASCII
# user agents without re.I: the same answer (ASCII has no other case pairs) at a tenth
# of the cost, since re.I keeps the engine from skipping ahead to a literal's first
# character.
_HEADLESS_SOURCE = (
    r"headlesschrome|phantomjs|headless|puppeteer|playwright|selenium|webdriver|"
    r"chrome-lighthouse|electron/"
)
_GENERIC_SOURCE = (
    r"bot\b|crawl|spider|slurp|scrap|fetch|monitor|python-requests|python-urllib|curl/|wget/"
    r"|httpclient|go-http-client|okhttp|libwww|java/|axios/|node-fetch|aiohttp|httpx"
)
_HEADLESS = re.compile(_HEADLESS_SOURCE, re.I)
_GENERIC = re.compile(_GENERIC_SOURCE, re.I)
_HEADLESS_LOWER = re.compile(_HEADLESS_SOURCE)
_GENERIC_LOWER = re.compile(_GENERIC_SOURCE)
_TOOL = re.compile(
    r"^(curl|wget|python-requests|python-urllib|python-httpx|go-http-client|okhttp|axios"
    r"|node-fetch|aiohttp|java|libwww-perl|apache-httpclient|php|ruby|httpie|postmanruntime"
    r"|insomnia)\b",
    re.I,
)
DATA_FILE = "crawler-user-agents.json"
REQUIREMENTS_FILE = "crawler-requirements.json"


def _pattern_sources() -> list[str]:
    raw = resources.files("beaconguard").joinpath("data", DATA_FILE).read_text("utf-8")
    return list(json.loads(raw)["patterns"])


def _stored_requirements(sources: list[str]) -> list[Requirement | None]:
    try:
        text = resources.files("beaconguard").joinpath("data", REQUIREMENTS_FILE).read_text(
            "utf-8"
        )
    except OSError:
        text = None
    return stored_requirements(sources, text)


@functools.cache
def crawler_patterns() -> re.Pattern[str]:
    """The shipped crawler list as one compiled pattern."""
    return re.compile("|".join(f"(?:{p})" for p in _pattern_sources()))


class _CrawlerList:
    """The shipped patterns one by one, each tried only when the user agent holds a string
    every match of it contains (see :mod:`beaconguard.literals`): the same answer as
    ``crawler_patterns().search(ua)``, at a fraction of the cost of running a
    1,500-way alternation at every position of the string. A pattern is compiled the
    first time it has to run; most never do.

    Even testing 1,500 required strings one ``in`` at a time costs a quarter of a
    millisecond per user agent, so the patterns are indexed by the first three characters
    of each required string: a user agent's own three-character pieces (one set
    intersection) name the few patterns worth a closer look."""

    GRAM = 3

    def __init__(self, sources: list[str], needs: list[Requirement | None]) -> None:
        self.sources = sources
        self.compiled: list[re.Pattern[str] | None] = [None] * len(sources)
        self.needs: dict[int, tuple[str, ...]] = {}
        self.by_gram: dict[str, list[int]] = {}
        #: Patterns with a required string too short to index, or none at all.
        self.short: list[int] = []
        self.always: list[int] = []
        for i, need in enumerate(needs):
            if need is None:
                self.always.append(i)
                continue
            self.needs[i] = need
            if any(len(n) < self.GRAM for n in need):
                self.short.append(i)
                continue
            for gram in dict.fromkeys(n[: self.GRAM] for n in need):
                self.by_gram.setdefault(gram, []).append(i)

    def _search(self, i: int, ua: str) -> bool:
        pattern = self.compiled[i]
        if pattern is None:
            pattern = self.compiled[i] = re.compile(self.sources[i])
        return pattern.search(ua) is not None

    def __call__(self, ua: str) -> bool:
        g = self.GRAM
        grams = {ua[k : k + g] for k in range(len(ua) - g + 1)}
        by_gram, needs = self.by_gram, self.needs
        candidates = {i for gram in grams.intersection(by_gram) for i in by_gram[gram]}
        candidates.update(self.short)
        for i in candidates:
            if any(n in ua for n in needs[i]) and self._search(i, ua):
                return True
        return any(self._search(i, ua) for i in self.always)


@functools.cache
def _crawler_list() -> _CrawlerList:
    sources = _pattern_sources()
    return _CrawlerList(sources, _stored_requirements(sources))


def is_crawler(ua: str) -> bool:
    """Whether a pattern of the shipped crawler list matches ``ua``."""
    return _crawler_list()(ua)


def bot_reason(ua: str, parser_says_bot: bool) -> str | None:
    """Why ``ua`` is a bot (``"empty"``, ``"headless"``, ``"crawler"``, ...), or None."""
    if not ua.strip():
        return "empty"
    lower = ua.lower() if ua.isascii() else None
    if _HEADLESS.search(ua) if lower is None else _HEADLESS_LOWER.search(lower):
        return "headless"
    if _TOOL.search(ua):
        return "tool"
    if parser_says_bot or is_crawler(ua):
        return "crawler"
    if _GENERIC.search(ua) if lower is None else _GENERIC_LOWER.search(lower):
        return "tool"
    return None


if __name__ == "__main__":
    target = Path(__file__).with_name("data") / REQUIREMENTS_FILE
    store_requirements(_pattern_sources(), target)
    print(target)
