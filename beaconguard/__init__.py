"""beaconguard: keep a privacy policy's promises in an ASGI app.

Cookies and web beacons follow the visitor's consent, the access log holds no identifier,
and visits become anonymous statistics. Mount one middleware::

    from beaconguard import BeaconGuard, Settings
    app = BeaconGuard(app, settings=Settings(secret_key="..."))
"""

from beaconguard.accesslog import AnonymizingAccessFilter
from beaconguard.consent import ConsentState, consent_for
from beaconguard.middleware import BeaconGuard
from beaconguard.settings import Settings

__all__ = ["AnonymizingAccessFilter", "BeaconGuard", "ConsentState", "Settings", "consent_for"]
__version__ = "0.1.0"
