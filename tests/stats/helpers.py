"""Feed the aggregator realistic requests through the real anonymize pipeline."""

from __future__ import annotations

from typing import Any

from beaconguard.anonymize.pipeline import build_pipeline
from beaconguard.settings import Settings
from beaconguard.stats.aggregator import Aggregator
from beaconguard.stats.store import Store
from beaconguard.visit import Visit

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)
#: 2026-03-10 12:00 UTC
NOON = 1773144000.0


class Feeder:
    """An aggregator with a hand-set clock and hand-driven flushes."""

    def __init__(self, store: Store, settings: Settings, now: float = NOON) -> None:
        self.now = now
        self.pipeline = build_pipeline(settings)
        self.agg = Aggregator(store, settings, clock=lambda: self.now, background=False)

    def visit(
        self,
        path: str = "/",
        *,
        client: str = "203.0.113.7",
        ua: str = CHROME,
        route: str | None = None,
        query: bytes = b"",
        referer: str = "",
        method: str = "GET",
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
        beacon: dict[str, Any] | None = None,
        consent: object = None,
        at: float | None = None,
    ) -> None:
        v = Visit(
            time=self.now if at is None else at,
            method=method,
            host="shop.example",
            path=path,
            query=query,
            client=client,
            user_agent=ua,
            referer=referer,
            route=route,
            status=status,
            content_type=content_type,
            headers=headers or {},
            beacon=beacon,
            consent=consent,
        )
        self.agg.consume(v, self.pipeline(v))

    def flush(self) -> None:
        self.agg.flush()
