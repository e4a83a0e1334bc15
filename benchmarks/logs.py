"""Deterministic generated traffic: combined-format log lines and raw visits.

Shapes follow a small shop: a few dozen pages with identifiers in some paths, campaign and
personal query parameters, a handful of browsers and crawlers (user agents repeat in real
logs), IPv4 and IPv6 clients, other-site and same-site referrers.
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


def combined_lines(n: int, seed: int = 7) -> Iterator[str]:
    """``n`` lines of an nginx/Apache combined log (with trailing newlines)."""
    rng = random.Random(seed)
    start = 1_700_000_000
    for i in range(n):
        path, query = _path(rng)
        target = f"{path}?{query}" if query else path
        stamp = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(start + i // 20))
        status = rng.choice((200, 200, 200, 200, 304, 404, 302))
        size = rng.randrange(200, 20000) if status == 200 else 0
        yield (
            f'{_client(rng)} - - [{stamp}] "GET {target} HTTP/1.1" {status} {size} '
            f'"{rng.choice(REFERRERS)}" "{rng.choice(UAS)}"\n'
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
