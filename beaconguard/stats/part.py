"""Plugging statistics into :class:`~beaconguard.BeaconGuard`: consumer, routes, closers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beaconguard.beacon import make_endpoints
from beaconguard.stats.aggregator import Aggregator
from beaconguard.stats.store import open_store

if TYPE_CHECKING:
    from beaconguard.middleware import BeaconGuard

#: Request headers the page-view rule reads (speculative loads are not views).
HEADERS = {b"sec-purpose": "sec-purpose", b"purpose": "purpose"}
#: Added to HTML answers the server counted, so the beacon script does not count them again.
SERVER_TIMING = (b"server-timing", b"bg")


def attach(guard: BeaconGuard) -> Aggregator:
    """Open the store, start the aggregator and mount the beacon endpoints on ``guard``."""
    settings = guard.settings
    store = open_store(settings.store)
    try:
        aggregator = Aggregator(store, settings)
    except BaseException:
        store.close()
        raise
    guard._wanted_headers.update(HEADERS)
    guard.consumers.append(aggregator.consume)
    guard.routes.update(make_endpoints(settings))
    guard._closers.append(aggregator.close)
    guard._closers.append(store.close)
    return aggregator
