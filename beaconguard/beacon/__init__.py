"""First-party beacons: a 1x1 GIF, a ``sendBeacon`` JSON endpoint and a tiny script."""

from beaconguard.beacon.endpoints import SCOPE_KEY, make_endpoints

__all__ = ["SCOPE_KEY", "make_endpoints"]
