"""Bot filtering on a held-out list written for this test (not the shipped pattern list).

The crawler strings below were written by hand from what these crawlers announce in their
public documentation, varied in version and wrapping so that they are not copies of the
list's own examples; the browser strings are ordinary current browsers.
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from beaconguard.anonymize.useragent import parse
from beaconguard.bots import bot_reason, crawler_patterns

CRAWLERS = [
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html) Chrome/131.0.1",
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/129.0.6668.58 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
    "+http://www.google.com/bot.html)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
    "+http://www.bing.com/bingbot.htm) Chrome/118.0.0.0 Safari/537.36",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.4 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "Mozilla/5.0 (Linux; Android 7.0;) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
    "Safari/537.36 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "CCBot/2.0 (https://commoncrawl.org/faq/)",
    "Mozilla/5.0 (Linux; Android 5.0) AppleWebKit/537.36 (KHTML, like Gecko) Mobile "
    "Safari/537.36 (compatible; Bytespider; spider-feedback@bytedance.com)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot)",
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "WhatsApp/2.23.20.0",
    "TelegramBot (like TwitterBot)",
    "Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
    "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
]
TOOLS = [
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.7.2",
    "python-httpx/0.27.0",
]
HEADLESS = [
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.29 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) "
    "PhantomJS/2.1.1 Safari/538.1",
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, "
    "like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.6478.71 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36",
]


@pytest.mark.parametrize("ua", CRAWLERS)
def test_crawlers_are_bots(ua: str) -> None:
    info = parse(ua)
    assert info.is_bot and info.bot_reason == "crawler" and info.device == "bot", ua


@pytest.mark.parametrize("ua", TOOLS)
def test_tools_are_bots(ua: str) -> None:
    assert parse(ua).bot_reason == "tool"


@pytest.mark.parametrize("ua", HEADLESS)
def test_headless_browsers_are_bots(ua: str) -> None:
    assert parse(ua).bot_reason == "headless"


@pytest.mark.parametrize("ua", BROWSERS)
def test_browsers_are_not_bots(ua: str) -> None:
    info = parse(ua)
    assert not info.is_bot and info.bot_reason is None, ua


def test_empty_user_agent() -> None:
    assert bot_reason("   ", False) == "empty"


def test_shipped_list_names_source_and_licence_and_is_not_the_test_data() -> None:
    data = json.loads(
        resources.files("beaconguard").joinpath("data/crawler-user-agents.json").read_text()
    )
    assert data["license"] == "MIT" and "Monperrus" in data["license_text"]
    assert "crawler-user-agents" in data["source"]
    assert len(data["patterns"]) > 500
    assert "instances" not in data  # the list's own example UAs are not shipped
    # the list alone catches most of the held-out crawlers, not only the parser
    caught = sum(1 for ua in CRAWLERS if crawler_patterns().search(ua))
    assert caught >= len(CRAWLERS) - 3


def test_crawler_list_answers_as_the_one_big_pattern() -> None:
    from beaconguard.bots import is_crawler
    from beaconguard.literals import required_substrings

    sources = json.loads(
        resources.files("beaconguard").joinpath("data/crawler-user-agents.json").read_text()
    )["patterns"]
    near_misses = []
    for source in sources[::3]:
        for text in required_substrings(source) or ():
            near_misses += [f"Mozilla/5.0 (compatible; {text}/2.1)", text[:-1], text.lower()]
    for ua in CRAWLERS + BROWSERS + near_misses:
        assert is_crawler(ua) == (crawler_patterns().search(ua) is not None), ua


def _many_user_agents() -> list[str]:
    import random
    from pathlib import Path

    from benchmarks.logs import user_agents

    fixture = Path(__file__).parent / "anonymize" / "fixtures" / "crawler-instances.txt"
    agents = [ua for ua in fixture.read_text("utf-8").splitlines() if not ua.startswith("#")]
    agents += user_agents(random.Random(1))
    # Case games and non-ASCII letters that fold to ASCII under re.I (Kelvin sign, long s).
    agents += [ua.upper() for ua in agents[::7]] + [ua.swapcase() for ua in agents[::11]]
    agents += ["Mozilla/5.0 Headle\u017fsChrome/1", "\u212aUbot", "Python-Requests/2.31", "HTTPX/0.27"]
    return agents


def test_indexed_crawler_list_and_lower_case_patterns_give_the_reference_answers() -> None:
    import re

    from beaconguard.bots import _GENERIC, _HEADLESS, _TOOL, is_crawler

    def reference(ua: str, says_bot: bool) -> str | None:
        # bot_reason as it reads: re.I patterns on the string as it came.
        if not ua.strip():
            return "empty"
        if _HEADLESS.search(ua):
            return "headless"
        if _TOOL.search(ua):
            return "tool"
        if says_bot or crawler_patterns().search(ua):
            return "crawler"
        return "tool" if _GENERIC.search(ua) else None

    assert _HEADLESS.flags & re.I and _GENERIC.flags & re.I
    for ua in _many_user_agents():
        assert is_crawler(ua) == (crawler_patterns().search(ua) is not None), ua
        assert bot_reason(ua, False) == reference(ua, False), ua


def test_shipped_requirements_are_those_of_the_shipped_list() -> None:
    """Else every process reads 1,500 patterns again at start-up (run
    ``python -m beaconguard.bots`` after changing the list)."""
    from beaconguard.bots import REQUIREMENTS_FILE, _pattern_sources
    from beaconguard.literals import digest, required_substrings

    data = json.loads(
        resources.files("beaconguard").joinpath("data", REQUIREMENTS_FILE).read_text()
    )
    sources = _pattern_sources()
    assert data["digest"] == digest(sources)
    assert [None if n is None else tuple(n) for n in data["needs"]] == [
        required_substrings(s) for s in sources
    ]
