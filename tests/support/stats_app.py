"""``uvicorn tests.support.stats_app:app``: the test app with beaconguard from the env."""

from __future__ import annotations

from beaconguard import BeaconGuard, Settings
from tests.support.apps import starlette_app

app = BeaconGuard(starlette_app(), settings=Settings.from_env())
