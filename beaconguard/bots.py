"""Bot classification: is this user agent a crawler, and why do we think so.

The reason matters: statistics never count bots as visits, but count them per reason so
the operator can see what was filtered out.
"""

from __future__ import annotations

import re

_HEADLESS = re.compile(r"HeadlessChrome|PhantomJS|Headless|puppeteer|playwright|selenium", re.I)
_GENERIC = re.compile(
    r"bot\b|crawl|spider|slurp|scrap|fetch|monitor|python-requests|python-urllib|curl/|wget/"
    r"|httpclient|go-http-client|okhttp|libwww|java/|axios/|node-fetch|aiohttp|httpx",
    re.I,
)


def bot_reason(ua: str, parser_says_bot: bool) -> str | None:
    """Why ``ua`` is a bot (``"empty"``, ``"headless"``, ``"crawler"``, ...), or None."""
    if not ua.strip():
        return "empty"
    if _HEADLESS.search(ua):
        return "headless"
    if parser_says_bot:
        return "crawler"
    if _GENERIC.search(ua):
        return "tool"
    return None
