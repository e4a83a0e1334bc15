"""``cdn``: a plain static host (no beaconguard) whose page reports to the app at
``BG_APP_ORIGIN`` through the pixel, as a CDN-hosted page would."""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route


async def cdn_page(request: Request) -> Response:
    origin = os.environ["BG_APP_ORIGIN"]
    return HTMLResponse(
        # No data-endpoint: the script finds its endpoints beside its own URL.
        f'<!doctype html><title>cdn</title><script src="{origin}/_bg/b.js" defer></script>'
    )


cdn = Starlette(routes=[Route("/cdn.html", cdn_page)])
