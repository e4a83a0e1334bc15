"""``tests.support.envapp:app``: the test app with beaconguard configured from the env."""

from beaconguard import BeaconGuard
from tests.support.apps import starlette_app

app = BeaconGuard(starlette_app())
