"""Plugging the report API into :class:`~beaconguard.BeaconGuard` (only with a token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from beaconguard.reports.api import ReportAPI
from beaconguard.stats.store import open_store

if TYPE_CHECKING:
    from beaconguard.middleware import BeaconGuard

#: Where the API answers, under ``settings.route_prefix``.
API_PATH = "/api/report"


def attach(guard: BeaconGuard) -> ReportAPI | None:
    """Mount ``GET {route_prefix}/api/report`` when ``settings.report_token`` is set."""
    settings = guard.settings
    if settings.report_token is None:
        return None  # off: the path stays the app's, which most likely answers 404
    if guard.stats is not None:
        store = guard.stats.store  # the very store the aggregator writes (memory:// too)
    else:
        # Only reading: an SQLite file is opened read-only and must already be ours.
        store = open_store(settings.store, read_only=True)
        guard._closers.append(store.close)
    api = ReportAPI(store, settings)
    guard.routes[settings.route_prefix + API_PATH] = api
    return api
