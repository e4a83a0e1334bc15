"""Fixtures for the consent tests: a small app that sets cookies, wrapped by the gate."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from beaconguard import BeaconGuard, consent_for

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

ORIGIN = "http://testserver"

REGISTRY = (
    {"name": "session", "category": "necessary"},
    {"name": "lang", "category": "preferences"},
    {"name": "_ga", "category": "statistics", "domain": ".shop.example"},
    {"name": "_ga_*", "category": "statistics"},
    {"name": "_hj*_ses?", "category": "statistics"},
    {"name": "_fbp", "category": "marketing", "path": "/"},
    {"name": "ad_*", "category": "marketing", "path": "/ads"},
    {"name": "fr", "category": "marketing", "party": "third", "domain": ".facebook.com"},
)


async def cookies_page(request: Request) -> Response:
    """Sets one cookie of each kind, and echoes what the app saw."""
    state = consent_for(request)
    body = {
        "cookies": dict(request.cookies),
        "state": None if state is None else state.source,
        "allowed": None if state is None else sorted(state.allowed),
    }
    response = JSONResponse(body)
    response.set_cookie("session", "s3cr3t-session", httponly=True)
    response.set_cookie("lang", "en")
    response.set_cookie("_ga", "GA1.1.99", httponly=True)
    response.set_cookie("_ga_ABC123", "GS1.1.5")
    response.set_cookie("_hjAbc_ses1", "1")
    response.set_cookie("_fbp", "fb.1.2")
    response.set_cookie("ad_id", "77")
    response.set_cookie("mystery", "1")
    return response


async def html_page(request: Request) -> Response:
    response = HTMLResponse("<p>hello</p>")
    csp = request.query_params.get("csp")
    if csp:
        response.headers["content-security-policy"] = csp
    cache = request.query_params.get("cache")
    if cache:
        response.headers["cache-control"] = cache
    return response


async def plain(request: Request) -> Response:
    return Response("plain", media_type="text/plain")


def make_site() -> Starlette:
    return Starlette(
        routes=[Route("/cookies", cookies_page), Route("/html", html_page), Route("/plain", plain)]
    )


#: The three ways a request crosses the gate: with the statistics part observing it (the
#: default settings), gate only in Python, and gate only through the compiled path.
GATE_PATHS = {
    "observed": {},
    "python": {"stats": False, "speedups": False},
    "compiled": {"stats": False, "speedups": True},
}


@pytest.fixture(params=list(GATE_PATHS))
def make_client(
    make_settings: Callable[..., Any], request: pytest.FixtureRequest
) -> Callable[..., Any]:
    """``make_client(**settings)`` → (TestClient, BeaconGuard) over the cookie-setting app,
    once for each of :data:`GATE_PATHS` (a test's own settings win)."""
    if request.param == "compiled":
        pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

    def make(**overrides: Any) -> tuple[Any, BeaconGuard]:
        values: dict[str, Any] = {"cookie_registry": REGISTRY, **GATE_PATHS[request.param]}
        values.update(overrides)
        guard = BeaconGuard(make_site(), settings=make_settings(**values))
        return TestClient(guard, base_url=ORIGIN), guard

    return make


def set_cookie_names(response: Any) -> list[str]:
    """Names of the cookies a response sets (not the ones it expires)."""
    out = []
    for header in response.headers.get_list("set-cookie"):
        if "max-age=0" not in header.lower():
            out.append(header.split("=", 1)[0])
    return out


def expired(response: Any) -> list[str]:
    """The raw ``Set-Cookie`` headers that expire a cookie."""
    return [h for h in response.headers.get_list("set-cookie") if "max-age=0" in h.lower()]


def decide(client: Any, **choice: bool) -> Any:
    response = client.post("/_bg/consent", json=choice, headers={"origin": ORIGIN})
    assert response.status_code == 200, response.text
    return response


async def _collect(app: Any, scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    done = False

    async def receive() -> dict[str, Any]:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def asgi_request(
    app: Any,
    path: str,
    headers: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
    *,
    method: str = "GET",
    client: str = "127.0.0.1",
    body: bytes = b"",
    scheme: str = "http",
) -> tuple[dict[str, Any], list[tuple[bytes, bytes]]]:
    """Drive an ASGI app with exact headers; returns (response start message, its headers)."""
    import anyio

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": scheme, "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "",
        "headers": [*([] if any(k == b"host" for k, _ in headers) else [(b"host", b"testserver")]),
                    *headers],
        "client": (client, 50000), "server": ("testserver", 80),
    }
    sent = anyio.run(_collect, app, scope, body)
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start, list(start.get("headers", []))
