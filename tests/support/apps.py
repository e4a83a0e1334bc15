"""Small ASGI apps the tests mount beaconguard on."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.websockets import WebSocket


async def html(request: Request) -> Response:
    return HTMLResponse("<!doctype html><title>t</title><p>hello</p>")


async def echo_headers(request: Request) -> Response:
    return JSONResponse({"cookie": request.headers.get("cookie", "")})


async def boom(request: Request) -> Response:
    raise RuntimeError("app failure")


async def ws(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("hi")
    await websocket.close()


def starlette_app() -> Starlette:
    inner = Starlette(routes=[Route("/items/{item_id}", html)])
    return Starlette(
        routes=[
            Route("/", html),
            Route("/products/{id}", html),
            Route("/echo", echo_headers),
            Route("/boom", boom),
            Route("/text", lambda r: PlainTextResponse("plain")),
            WebSocketRoute("/ws", ws),
            Mount("/shop/{shop_id}", app=inner),
        ]
    )
