"""A WebSocket handshake is gated like any request: cookies in, Set-Cookie on accept."""

from __future__ import annotations

import warnings
from typing import Any

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket

from beaconguard import BeaconGuard, consent_for
from tests.consent.conftest import ORIGIN, REGISTRY, decide

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


async def echo(websocket: WebSocket) -> None:
    state = consent_for(websocket)  # type: ignore[arg-type]
    await websocket.accept(headers=[
        (b"set-cookie", b"_fbp=fb.1.2; Path=/"),
        (b"set-cookie", b"session=abc; Path=/"),
    ])
    await websocket.send_json({
        "cookies": dict(websocket.cookies),
        "state": None if state is None else state.source,
    })
    await websocket.close()


def _client(make_settings: Any, **overrides: Any) -> TestClient:
    app = Starlette(routes=[WebSocketRoute("/ws", echo)])
    settings = make_settings(cookie_registry=REGISTRY, **overrides)
    return TestClient(BeaconGuard(app, settings=settings), base_url=ORIGIN)


def test_the_app_gets_only_allowed_cookies_over_a_websocket(make_settings: Any) -> None:
    client = _client(make_settings)
    client.cookies.set("_fbp", "fb.1.9")
    client.cookies.set("session", "s1")
    with client.websocket_connect("/ws") as ws:
        seen = ws.receive_json()
    assert seen == {"cookies": {"session": "s1"}, "state": "default"}


def test_a_denied_set_cookie_on_accept_is_removed_and_allowed_after_consent(
    make_settings: Any,
) -> None:
    client = _client(make_settings, stats=False)
    with client.websocket_connect("/ws") as ws:
        accepted = [v for k, v in ws.extra_headers if k.lower() == b"set-cookie"]
        ws.receive_json()
    assert accepted == [b"session=abc; Path=/"]

    decide(client, all=True)
    client.cookies.set("_fbp", "fb.1.9")
    with client.websocket_connect("/ws") as ws:
        accepted = [v for k, v in ws.extra_headers if k.lower() == b"set-cookie"]
        seen = ws.receive_json()
    assert b"_fbp=fb.1.2; Path=/" in accepted
    assert seen["cookies"]["_fbp"] == "fb.1.9" and seen["state"] == "explicit"


async def refuse(websocket: WebSocket) -> None:
    from starlette.responses import PlainTextResponse

    response = PlainTextResponse("no", status_code=403)
    response.set_cookie("_fbp", "fb.1.2")
    response.set_cookie("session", "abc")
    await websocket.send_denial_response(response)


def test_a_denial_response_is_gated_like_any_response(make_settings: Any) -> None:
    import anyio

    app = Starlette(routes=[WebSocketRoute("/ws", refuse)])
    guard = BeaconGuard(app, settings=make_settings(cookie_registry=REGISTRY))
    # The denial extension must be offered by the server; TestClient does not offer it.
    scope = {"type": "websocket", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "scheme": "ws", "path": "/ws", "raw_path": b"/ws", "query_string": b"",
             "root_path": "", "headers": [(b"host", b"testserver")], "subprotocols": [],
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80),
             "extensions": {"websocket.http.response": {}}}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    anyio.run(guard, scope, receive, send)
    start = next(m for m in sent if m["type"] == "websocket.http.response.start")
    names = [v.split(b"=", 1)[0] for k, v in start["headers"] if k == b"set-cookie"]
    assert start["status"] == 403 and names == [b"session"]
