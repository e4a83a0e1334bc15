"""The demo site: ``uvicorn demo_site.app:app`` (or ``make demo``).

Reads the ``BEACONGUARD_*`` variables like any app would. Unlike a real deployment it
creates what it lacks under ``./var/``: a secret key, the access log and the SQLite store.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from beaconguard import BeaconGuard, Settings
from beaconguard.reports.dashboard import Dashboard
from demo_site import pages

VAR = Path(os.environ.get("BEACONGUARD_DEMO_VAR", "var"))
# The stand-in third-party pixel (``python -m demo_site`` serves it on --pixel-port).
PIXEL_ORIGIN = os.environ.get("DEMO_PIXEL_ORIGIN", "http://127.0.0.1:8001")

# What the demo's cookies and beacons are for: the consent gate enforces it.
DEMO_REGISTRY = (
    {"name": "_ga", "category": "statistics", "purpose": "Analytics visitor id", "lifetime": 730},
    {"name": "_ga_*", "category": "statistics", "purpose": "Analytics session", "lifetime": 730},
    {"name": "_fbp", "category": "marketing", "purpose": "Advertising browser id", "lifetime": 90},
)


def demo_settings() -> Settings:
    """``Settings.from_env()``, with demo defaults under ``./var/`` for what is unset."""
    VAR.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, object] = {}
    if not os.environ.get("BEACONGUARD_SECRET_KEY"):
        key_file = VAR / "secret.key"
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(32))
            key_file.chmod(0o600)
        overrides["secret_key"] = key_file.read_text().strip()
    if "BEACONGUARD_ACCESS_LOG" not in os.environ:
        overrides["access_log"] = str(VAR / "access.log")
    if "BEACONGUARD_STORE" not in os.environ:
        overrides["store"] = f"sqlite:///{VAR / 'stats.db'}"
    if "BEACONGUARD_COOKIE_REGISTRY" not in os.environ:
        overrides["cookie_registry"] = DEMO_REGISTRY
    if "BEACONGUARD_THIRD_PARTY_HOSTS" not in os.environ:
        overrides["third_party_hosts"] = {"marketing": [PIXEL_ORIGIN]}
    return Settings.from_env(**overrides)


def html(body: str | None) -> Response:
    if body is None:
        return HTMLResponse(pages.page("Not found", "<p>No such page.</p>"), status_code=404)
    response = HTMLResponse(body)
    # Like real apps, the demo sets its tracking cookies on every page without asking;
    # the consent gate removes them from the response unless the visitor agreed.
    response.set_cookie("_ga", f"GA1.1.{secrets.randbelow(10**9)}", max_age=730 * 86400)
    response.set_cookie("_fbp", f"fb.1.{secrets.randbelow(10**9)}", max_age=90 * 86400)
    return response


async def home(request: Request) -> Response:
    return html(pages.home())


async def product(request: Request) -> Response:
    return html(pages.product(request.path_params["id"]))


async def post(request: Request) -> Response:
    return html(pages.post(request.path_params["slug"]))


async def search(request: Request) -> Response:
    return html(pages.search(request.query_params.get("q", "")[:100]))


def dashboard_route(guard: BeaconGuard) -> Mount:
    """``/stats``: the dashboard over the middleware's own store.

    Behind the report token (as the HTTP Basic password) when one is set; without one the
    demo, which listens on loopback only, leaves it open.
    """
    s = guard.settings
    store = guard.stats.store if guard.stats is not None else None
    board = Dashboard(s, store=store, protect=s.report_token is not None, title="Demo statistics")
    return Mount("/stats", app=board)


routes = [
    Route("/", home),
    Route("/products/{id:int}", product),
    Route("/blog/{slug}", post),
    Route("/search", search),
]

pages.PIXEL_ORIGIN = PIXEL_ORIGIN
site = Starlette(routes=routes)
app = BeaconGuard(site, settings=demo_settings())
site.router.routes.append(dashboard_route(app))
