"""beaconguard: keep a privacy policy's promises in an ASGI app.

Cookies and web beacons follow the visitor's consent, the access log holds no identifier,
and visits become anonymous statistics. Mount one middleware::

    from beaconguard import BeaconGuard, Settings
    app = BeaconGuard(app, settings=Settings(secret_key="..."))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from beaconguard.accesslog import AnonymizingAccessFilter
    from beaconguard.consent import ConsentState, consent_for
    from beaconguard.middleware import BeaconGuard
    from beaconguard.settings import Settings

__all__ = ["AnonymizingAccessFilter", "BeaconGuard", "ConsentState", "Settings", "consent_for"]
__version__ = "0.1.0"

# Exports are imported on first use (PEP 562): the command-line tools (``python -m
# beaconguard anonymize``) import this package too, and should not pay for Starlette and
# the middleware they never run.
_EXPORTS = {
    "AnonymizingAccessFilter": "beaconguard.accesslog",
    "ConsentState": "beaconguard.consent",
    "consent_for": "beaconguard.consent",
    "BeaconGuard": "beaconguard.middleware",
    "Settings": "beaconguard.settings",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'beaconguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
