"""``app``: a site behind beaconguard whose page loads the beacon script, navigates like
a single-page app and sends an event (for the browser beacon test)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from beaconguard import BeaconGuard, Settings

PAGE = """<!doctype html><title>spa</title>
<script src="/_bg/b.js" defer></script>
<button id="nav" onclick="history.pushState({}, '', '/spa/next')">next</button>
<button id="ev" onclick="bg('signup', {plan: 'pro'})">signup</button>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


app = BeaconGuard(Starlette(routes=[Route("/page", page)]), settings=Settings.from_env())
