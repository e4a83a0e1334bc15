"""Synthetic traffic for the demo: ``python -m demo_site.traffic --days 30``.

Fills a statistics store with a month of made-up visits so the dashboard has something to
show. Every visit goes through the real anonymize pipeline and aggregator, exactly like a
request to the demo would: raw addresses and user agents are made up here and never
stored. Addresses come from the documentation ranges (RFC 5737 / RFC 3849).
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import time
from collections.abc import Sequence

from beaconguard.anonymize.pipeline import build_pipeline
from beaconguard.consent.state import ConsentState
from beaconguard.settings import Settings
from beaconguard.stats.aggregator import Aggregator
from beaconguard.stats.days import DAY
from beaconguard.stats.store import open_store
from beaconguard.visit import Visit

PAGES = (
    ("/", None, 30),
    ("/products/1", "/products/{id}", 14),
    ("/products/2", "/products/{id}", 9),
    ("/products/3", "/products/{id}", 6),
    ("/blog/privacy-by-default", "/blog/{slug}", 10),
    ("/blog/anonymous-statistics", "/blog/{slug}", 7),
    ("/search", "/search", 5),
)
REFERRERS = (
    ("", 40),
    ("https://www.google.com/", 25),
    ("https://duckduckgo.com/", 10),
    ("https://news.ycombinator.com/item?id=1", 8),
    ("https://github.com/beaconguard", 6),
    ("https://mastodon.social/@someone", 4),
)
AGENTS = (
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36", 34),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", 14),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0", 12),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", 22),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Mobile Safari/537.36", 14),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Mobile/15E148 Safari/604.1", 4),
)
BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "curl/8.5.0",
    "python-requests/2.32.0",
)
#: Networks for the demo's country database (``--geoip``), all documentation ranges.
NETWORKS = {
    "192.0.2.0/25": "DE", "192.0.2.128/25": "FR", "198.51.100.0/25": "US",
    "198.51.100.128/25": "JP", "203.0.113.0/25": "GB", "203.0.113.128/26": "NL",
    "203.0.113.192/26": "BR",
}
_NETS = ("192.0.2", "198.51.100", "203.0.113")
UTM = b"utm_source=newsletter&utm_medium=email&utm_campaign=spring"


def _pick(rng: random.Random, options: Sequence[tuple[object, int]]) -> object:
    return rng.choices([o for o, _ in options], weights=[w for _, w in options])[0]


def fill(settings: Settings, *, days: int = 30, seed: int = 7, now: float | None = None) -> int:
    """Add ``days`` days of synthetic visits (ending today) to ``settings.store``."""
    rng = random.Random(seed)
    today = int((time.time() if now is None else now) // DAY)
    store = open_store(settings.store)
    clock = [float(today * DAY)]
    agg = Aggregator(store, settings, clock=lambda: clock[0], background=False)
    pipeline = build_pipeline(settings)
    consenting = ConsentState.granting(("statistics",), "explicit", settings.policy_revision)
    requests = 0
    try:
        for back in range(days - 1, -1, -1):
            day = today - back
            weekday = (day + 3) % 7  # 1970-01-01 was a Thursday
            visitors = int(rng.gauss(60, 10) * (0.6 if weekday >= 5 else 1.0) * (1 + back / 90))
            for _visitor in range(max(5, visitors)):
                at = day * DAY + rng.uniform(6, 23) * 3600
                clock[0] = at
                client = f"{rng.choice(_NETS)}.{rng.randrange(1, 255)}"
                agent = str(_pick(rng, AGENTS))
                referer = str(_pick(rng, REFERRERS))
                query = UTM if rng.random() < 0.08 else b""
                for _ in range(1 + int(rng.expovariate(0.8))):
                    path, route, _w = rng.choices(PAGES, weights=[p[2] for p in PAGES])[0]
                    visit = Visit(
                        time=at, method="GET", host="shop.example", path=path, query=query,
                        client=client, user_agent=agent, referer=referer, route=route,
                        status=200, content_type="text/html; charset=utf-8",
                    )
                    agg.consume(visit, pipeline(visit))
                    requests += 1
                    referer, query = "https://shop.example" + path, b""
                    at += rng.uniform(5, 120)
                if rng.random() < 0.15:  # a beacon event from a visitor who consented
                    event = Visit(
                        time=at, method="POST", host="shop.example", path="/_bg/e",
                        client=client, user_agent=agent, status=204, consent=consenting,
                        beacon={"page": "/products/{id}", "referrer": None, "query": None,
                                "event": "add_to_cart", "props": {}},
                    )
                    agg.consume(event, pipeline(event))
                if rng.random() < 0.5:
                    stats = rng.random() < 0.62
                    source = "gpc" if not stats and rng.random() < 0.2 else "explicit"
                    agg.add_consent({"statistics": stats, "preferences": rng.random() < 0.5,
                                     "marketing": stats and rng.random() < 0.4}, source)
            for _ in range(rng.randrange(10, 40)):
                bot = Visit(time=day * DAY + rng.uniform(0, 86000), method="GET",
                            host="shop.example", path="/", client="192.0.2.250",
                            user_agent=rng.choice(BOTS), status=200,
                            content_type="text/html; charset=utf-8")
                agg.consume(bot, pipeline(bot))
            agg.flush()
        # The made-up days' visitor keys go, as real ones do once their day is over.
        store.drop_day_keys(time.time() if now is None else now)
    finally:
        agg.close()
        store.close()
    return requests


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_site.traffic", description=__doc__)
    parser.add_argument("--store", help="store URL (default: $BEACONGUARD_STORE or the demo's)")
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.store:
        overrides["store"] = args.store
    elif not os.environ.get("BEACONGUARD_STORE"):
        overrides["store"] = "sqlite:///var/stats.db"
    if not os.environ.get("BEACONGUARD_SECRET_KEY"):
        # Day keys live in the store; this key only seeds the pipeline's own hashing.
        overrides["secret_key"] = secrets.token_urlsafe(32)
    settings = Settings.from_env(**overrides)
    n = fill(settings, days=args.days, seed=args.seed)
    print(f"added {n} synthetic page views over {args.days} days to {settings.store}")


if __name__ == "__main__":
    main()
