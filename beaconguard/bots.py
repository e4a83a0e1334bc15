"""Bot classification: is this user agent a crawler, and why do we think so.

The reason matters: statistics never count bots as visits, but count them per reason so
the operator can see what was filtered out. Reasons: ``empty`` (no user agent),
``headless`` (automation and headless-browser hints), ``crawler`` (the shipped crawler
pattern list, or the UA parser's own bot list), ``tool`` (HTTP libraries and command-line
clients). The UA processor adds ``malformed`` for strings no browser sends.

The crawler list is data, not code: ``beaconguard/data/crawler-user-agents.json``, the
patterns of the MIT-licensed `crawler-user-agents` project (source, version and licence
are in the file). It is compiled once, on first use.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources

_HEADLESS = re.compile(
    r"HeadlessChrome|PhantomJS|Headless|puppeteer|playwright|selenium|webdriver|"
    r"Chrome-Lighthouse|electron/",
    re.I,
)
_GENERIC = re.compile(
    r"bot\b|crawl|spider|slurp|scrap|fetch|monitor|python-requests|python-urllib|curl/|wget/"
    r"|httpclient|go-http-client|okhttp|libwww|java/|axios/|node-fetch|aiohttp|httpx",
    re.I,
)
_TOOL = re.compile(
    r"^(curl|wget|python-requests|python-urllib|python-httpx|go-http-client|okhttp|axios"
    r"|node-fetch|aiohttp|java|libwww-perl|apache-httpclient|php|ruby|httpie|postmanruntime"
    r"|insomnia)\b",
    re.I,
)
DATA_FILE = "crawler-user-agents.json"


@functools.cache
def crawler_patterns() -> re.Pattern[str]:
    """The shipped crawler list as one compiled pattern."""
    raw = resources.files("beaconguard").joinpath("data", DATA_FILE).read_text("utf-8")
    patterns = json.loads(raw)["patterns"]
    return re.compile("|".join(f"(?:{p})" for p in patterns))


def bot_reason(ua: str, parser_says_bot: bool) -> str | None:
    """Why ``ua`` is a bot (``"empty"``, ``"headless"``, ``"crawler"``, ...), or None."""
    if not ua.strip():
        return "empty"
    if _HEADLESS.search(ua):
        return "headless"
    if _TOOL.search(ua):
        return "tool"
    if parser_says_bot or crawler_patterns().search(ua):
        return "crawler"
    if _GENERIC.search(ua):
        return "tool"
    return None
