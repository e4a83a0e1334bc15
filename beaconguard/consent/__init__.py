"""The consent gate: cookies and beacons follow the visitor's choice, enforced in the server.

``ConsentState`` is what apps read (``consent_for(request).allows("statistics")``);
``ConsentGate`` is the part ``BeaconGuard`` builds when ``settings.consent`` is on.
"""

from __future__ import annotations

from typing import Any

from beaconguard.consent.categories import CATEGORIES, NECESSARY, OPTIONAL
from beaconguard.consent.state import ConsentState


def consent_for(request: Any) -> ConsentState | None:
    """The consent state the gate resolved for ``request`` (a Starlette/FastAPI request, or
    an ASGI scope); ``None`` when no gate ran (``settings.consent`` off)."""
    scope = request if isinstance(request, dict) else request.scope
    state = scope.get("state")
    if state is None:
        return None
    found = state.get("consent")
    return found if isinstance(found, ConsentState) else None


__all__ = ["CATEGORIES", "NECESSARY", "OPTIONAL", "ConsentState", "consent_for"]
