"""Deterministic generated traffic: combined-format log lines and raw visits.

Shapes follow a small shop: a few dozen pages with identifiers in some paths, campaign and
personal query parameters, IPv4 and IPv6 clients, other-site and same-site referrers. The
raw visits use a handful of browsers and crawlers; the log lines come from visitors with
a realistic spread of user agents (see :func:`combined_lines`).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

from benchmarks.asgi import BOT_UA, CHROME_UA, FIREFOX_UA, SAFARI_UA

UAS = (
    CHROME_UA,
    SAFARI_UA,
    FIREFOX_UA,
    BOT_UA,
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1",
    "curl/8.5.0",
)
REFERRERS = (
    "-",
    "https://news.example.org/item?id=31337",
    "https://www.search.example/search?q=walnut+desk",
    "https://shop.example.com/products/3",
    "https://shop.example.com/users/alice@example.com/cart",
)


def _path(rng: random.Random) -> tuple[str, str]:
    """(path, query) of one request."""
    kind = rng.randrange(10)
    if kind < 3:
        return f"/products/{rng.randrange(1, 60)}", ""
    if kind < 5:
        return "/blog/privacy-by-default", rng.choice(("", "utm_source=newsletter&utm_medium=mail"))
    if kind < 6:
        return "/search", f"q=desk+{rng.randrange(100)}&sessionid={rng.getrandbits(64):016x}"
    if kind < 7:
        return f"/users/user{rng.randrange(1000)}@example.com/orders/{rng.randrange(10**6)}", ""
    if kind < 8:
        return "/static/app.css", ""
    return "/", rng.choice(("", "ref=home"))


def _client(rng: random.Random) -> str:
    if rng.random() < 0.2:
        return (
            f"2001:db8:{rng.randrange(65536):x}:{rng.randrange(65536):x}::{rng.randrange(65536):x}"
        )
    return (
        f"{rng.randrange(1, 224)}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
    )


_WINDOWS = "Windows NT 10.0; Win64; x64"
_MAC = "Macintosh; Intel Mac OS X 10_15_7"
_ANDROID_MODELS = (
    "SM-G991B", "SM-A515F", "SM-S911B", "SM-A546B", "Pixel 7", "Pixel 8 Pro", "Pixel 6a",
    "Redmi Note 9 Pro", "M2101K20AG", "CPH2305", "moto g(30)", "ONEPLUS A6013", "VOG-L29",
    "SM-T510", "Nokia G20", "2201117TY", "RMX3363", "SM-A125F",
)  # fmt: skip
_IPHONES = ("iPhone13,2", "iPhone14,5", "iPhone14,7", "iPhone15,2", "iPhone15,4", "iPhone16,1")
_BOTS = (
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Twitterbot/1.0",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.2; "
    "+https://openai.com/gptbot",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; "
    "+claudebot@anthropic.com)",
    "Mozilla/5.0 (compatible; PetalBot;+https://webmaster.petalsearch.com/site/petalbot)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "Mozilla/5.0 (compatible; DotBot/1.2; +https://opensiteexplorer.org/dotbot; help@moz.com)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.6367.91 Safari/537.36",
    "Go-http-client/1.1",
    "Go-http-client/2.0",
    "Wget/1.21.4",
    "UptimeRobot/2.0 (+http://www.uptimerobot.com/)",
)


def user_agents(rng: random.Random) -> list[str]:
    """A site's user agents, most common first: a few current browsers carry most of the
    traffic, then a long tail of versions, platforms, phones, in-app browsers, crawlers
    and tools (a real log of 100k lines holds hundreds of distinct strings)."""
    head = [CHROME_UA, SAFARI_UA, FIREFOX_UA, BOT_UA, *UAS[4:]]
    tail: list[str] = []
    for v in range(109, 127):
        for platform in (_WINDOWS, _MAC, "X11; Linux x86_64", "X11; CrOS x86_64 14541.0.0"):
            tail.append(
                f"Mozilla/5.0 ({platform}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v}.0.0.0 Safari/537.36"
            )
        for build in range(3):
            tail.append(
                f"Mozilla/5.0 ({_WINDOWS}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.{2000 + 37 * v % 500}.{build * 17 + 3}"
            )
        tail.append(
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
            f"Chrome/{v}.0.0.0 Mobile Safari/537.36"
        )
        for _ in range(6):
            tail.append(
                f"Mozilla/5.0 (Linux; Android {rng.randrange(9, 15)}; "
                f"{rng.choice(_ANDROID_MODELS)}) AppleWebKit/537.36 (KHTML, like Gecko) "
                f"Chrome/{v}.0.{rng.randrange(5000, 6500)}.{rng.randrange(40, 200)} "
                "Mobile Safari/537.36"
            )
        tail.append(
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{v % 6} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) CriOS/{v}.0.{rng.randrange(5000, 6500)}.{rng.randrange(40, 200)}"
            " Mobile/15E148 Safari/604.1"
        )
    for v in range(115, 128):
        for platform in (_WINDOWS, "Macintosh; Intel Mac OS X 10.15", "X11; Linux x86_64",
                         "X11; Ubuntu; Linux x86_64", "Android 14; Mobile"):  # fmt: skip
            tail.append(f"Mozilla/5.0 ({platform}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0")
    for major, minors in ((15, 8), (16, 7), (17, 6)):
        for minor in range(minors):
            for patch in ("", "_1"):
                ios = f"{major}_{minor}{patch}"
                version = f"{major}.{minor}" if minor else f"{major}.0"
                for device in ("iPhone; CPU iPhone OS", "iPad; CPU OS"):
                    tail.append(
                        f"Mozilla/5.0 ({device} {ios} like Mac OS X) AppleWebKit/605.1.15 "
                        f"(KHTML, like Gecko) Version/{version} Mobile/15E148 Safari/604.1"
                    )
            tail.append(
                f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
                f"(KHTML, like Gecko) Version/{major}.{minor} Safari/605.1.15"
            )
    for v in range(20, 26):
        for model in _ANDROID_MODELS[:8]:
            tail.append(
                f"Mozilla/5.0 (Linux; Android 13; {model}) AppleWebKit/537.36 (KHTML, like "
                f"Gecko) SamsungBrowser/{v}.0 Chrome/{v * 5}.0.0.0 Mobile Safari/537.36"
            )
    for _ in range(120):  # in-app browsers name the app build and the phone: near unique
        tail.append(
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{rng.randrange(6)} like Mac OS X) "
            "AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 Instagram "
            f"{rng.randrange(300, 330)}.0.0.{rng.randrange(10, 40)}.{rng.randrange(100, 130)} "
            f"({rng.choice(_IPHONES)}; iOS 17_{rng.randrange(6)}; en_US; en; scale=3.00; "
            f"1170x2532; {rng.randrange(500_000_000, 600_000_000)})"
        )
    for v in range(100, 126, 3):
        tail.append(
            "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
            f"(KHTML, like Gecko) Chrome/{v}.0.{rng.randrange(5000, 6500)}.{rng.randrange(50, 99)}"
            " Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
        )
    for minor in range(0, 9):
        tail.append(f"curl/8.{minor}.{rng.randrange(2)}")
        tail.append(f"python-requests/2.{24 + minor}.0")
    tail += _BOTS
    rng.shuffle(tail)
    return head + tail


_ASSETS = ("/static/app.css", "/static/app.js", "/static/logo.svg", "/favicon.ico",
           "/static/fonts/inter.woff2")  # fmt: skip
_EXTERNAL = (
    *REFERRERS[:3],
    "https://www.google.com/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://t.co/Ab12Cd34",
    "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F",
)
_SITE = "https://shop.example.com"
_ROBOT_WORDS = ("bot", "crawl", "spider", "curl", "python", "wget", "http-client", "headless",
                "facebookexternalhit")  # fmt: skip


def _visitor(rng: random.Random, agents: list[str], weights: list[float]) -> Iterator[tuple]:
    """One visitor's requests as (client, target, referrer, user agent): page views, each
    followed by the assets a browser fetches; crawlers and tools fetch pages only."""
    client = _client(rng)
    ua = rng.choices(agents, weights)[0]
    lowered = ua.lower()
    robot = any(word in lowered for word in _ROBOT_WORDS)
    pages = 1 + min(int(rng.expovariate(1 / (6 if robot else 2.5))), 60)
    referrer = "-" if robot or rng.random() < 0.4 else rng.choice(_EXTERNAL)
    for _ in range(pages):
        path, query = _path(rng)
        target = f"{path}?{query}" if query else path
        yield client, target, referrer, ua
        if not robot:
            for asset in rng.sample(_ASSETS, rng.randrange(0, len(_ASSETS) + 1)):
                yield client, asset, _SITE + target, ua
        referrer = "-" if robot else _SITE + target


def combined_lines(n: int, seed: int = 7) -> Iterator[str]:
    """``n`` lines of an nginx/Apache combined log (with trailing newlines).

    Traffic comes from visitors, a few dozen at a time, whose requests interleave: each
    has one address and one user agent, views a few pages (the query strings and
    identifiers of :func:`_path`) and fetches their assets with the page as referrer, so
    addresses, user agents and referrers repeat as they do in a real site's log.
    """
    rng = random.Random(seed)
    agents = user_agents(random.Random(seed + 1))
    # Zipf-like popularity: the first user agents carry most of the traffic.
    weights = [1.0 / (rank + 1) ** 1.1 for rank in range(len(agents))]
    active: list[Iterator[tuple]] = []
    start = 1_700_000_000
    for i in range(n):
        while len(active) < 40:
            active.append(_visitor(rng, agents, weights))
        k = rng.randrange(len(active))
        request = next(active[k], None)
        while request is None:
            active[k] = _visitor(rng, agents, weights)
            request = next(active[k], None)
        client, target, referrer, ua = request
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i // 20))
        status = rng.choice((200, 200, 200, 200, 304, 404, 302))
        size = rng.randrange(200, 20000) if status == 200 else 0
        yield (
            f'{client} - - [{stamp}] "GET {target} HTTP/1.1" {status} {size} "{referrer}" "{ua}"\n'
        )


def visits(n: int, seed: int = 11) -> Iterator[dict[str, object]]:
    """Keyword arguments for ``n`` raw page-view ``Visit`` objects (GET, 200, HTML)."""
    rng = random.Random(seed)
    now = time.time()
    for _ in range(n):
        path, query = _path(rng)
        referer = rng.choice(REFERRERS)
        yield {
            "time": now,
            "method": "GET",
            "host": "shop.example.com",
            "path": path,
            "query": query.encode(),
            "client": _client(rng),
            "user_agent": rng.choice(UAS),
            "referer": "" if referer == "-" else referer,
            "status": 200,
            "bytes_sent": rng.randrange(200, 20000),
            "content_type": "text/html; charset=utf-8",
        }
