"""The first-party beacon endpoints, mounted by :class:`~beaconguard.BeaconGuard`.

``GET {prefix}/b.gif?u=URL&r=REFERRER&e=EVENT``: a 1x1 GIF for pages without script.
``POST {prefix}/e``: a ``navigator.sendBeacon`` JSON body ``{"u", "r", "e", "p"}``.
``GET {prefix}/b.js``: the beacon script (under 1 KB gzipped). Include it with
``<script src="/_bg/b.js" defer></script>``; custom events: ``bg("signup", {plan: "pro"})``
(property names must be in ``beacon_props``). On a page served from another origin (a
static or CDN site listed in ``beacon_hosts``) add ``data-endpoint="https://app.example/_bg"``:
the script then uses the pixel, which needs no CORS (events travel without properties).
The script counts the page load unless the server already did: the server marks the HTML
it counts with ``Server-Timing: bg``, which the script reads from the navigation timing.
Single-page-app navigations (``history.pushState``, ``popstate``) are always sent.

An endpoint only validates and answers; the accepted, anonymized payload is left in the
ASGI scope (:data:`SCOPE_KEY`) for the statistics consumer, which decides whether consent
allows counting it. Bad input is a 4xx with a one-line reason, never a 500.
"""

from __future__ import annotations

import json
from importlib import resources
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from beaconguard.beacon.payload import MAX_BODY, BeaconError, make_validator
from beaconguard.settings import Settings

SCOPE_KEY = "beaconguard.beacon"
GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00"
    b"\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
_NO_STORE = (b"cache-control", b"no-store")
#: A pixel request carries at most a URL, a referrer and an event name.
MAX_QUERY_STRING = 6144
_GIF_FIELDS = {"u": "u", "r": "r", "e": "e"}


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    ctype: bytes,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    cache: bytes = b"no-store",
) -> None:
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache),
        (b"x-content-type-options", b"nosniff"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _reject(send: Send, status: int, reason: str, allow: bytes | None = None) -> None:
    extra = ((b"allow", allow),) if allow else ()
    await _answer(send, status, reason.encode() + b"\n", b"text/plain; charset=utf-8", extra)


def _no_constants(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return str(value.decode("latin-1"))
    return ""


class BodyTooLarge(Exception):
    """The request body went past the endpoint's limit (answer 413)."""


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` when the client went away first.

    Reading stops as soon as ``limit`` is passed (:class:`BodyTooLarge`): a beacon never
    buffers more than a few kilobytes, whatever the client sends.
    """
    body = bytearray()
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        body += message.get("body", b"")
        more = message.get("more_body", False)
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return str(value.decode("latin-1"))
    return ""


def make_endpoints(settings: Settings) -> dict[str, ASGIApp]:
    """The beacon routes (exact path -> ASGI app) under ``settings.route_prefix``."""
    validate = make_validator(settings)
    prefix = settings.route_prefix
    script = resources.files("beaconguard").joinpath("static", "bg.js").read_bytes()

    async def pixel(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _reject(send, 405, "use GET", b"GET, HEAD")
            return
        try:
            raw = scope.get("query_string", b"").decode("latin-1")
            if len(raw) > MAX_QUERY_STRING:
                raise BeaconError("query string too long", 414)
            pairs = parse_qsl(raw, keep_blank_values=True, max_num_fields=8)
            fields: dict[str, str] = {}
            for name, value in pairs:
                if name in fields:
                    raise BeaconError(f"field {name[:20]!r} given twice")
                fields[name] = value
            payload = validate(fields, _host(scope))
        except BeaconError as exc:
            await _reject(send, exc.status, str(exc))
            return
        except ValueError:
            await _reject(send, 400, "query string is not form-encoded fields u, r, e")
            return
        scope[SCOPE_KEY] = payload
        await _answer(send, 200, GIF, b"image/gif")

    async def event(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _reject(send, 405, "use POST", b"POST")
            return
        ctype = _header(scope, b"content-type").split(";", 1)[0].strip().lower()
        if ctype != "application/json":
            await _reject(send, 415, "content type must be application/json")
            return
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await _reject(send, 413, f"body larger than {MAX_BODY} bytes")
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await _reject(send, 413, f"body larger than {MAX_BODY} bytes")
            return
        if body is None:
            return
        try:
            fields = json.loads(body.decode("utf-8"), parse_constant=_no_constants)
        except (UnicodeDecodeError, ValueError, RecursionError):
            await _reject(send, 400, "body is not valid JSON")
            return
        if not isinstance(fields, dict):
            await _reject(send, 400, "body must be a JSON object")
            return
        try:
            payload = validate(fields, _host(scope))
        except BeaconError as exc:
            await _reject(send, exc.status, str(exc))
            return
        scope[SCOPE_KEY] = payload
        await send({"type": "http.response.start", "status": 204, "headers": [_NO_STORE]})
        await send({"type": "http.response.body", "body": b""})

    async def js(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _reject(send, 405, "use GET", b"GET, HEAD")
            return
        await _answer(
            send, 200, script, b"text/javascript; charset=utf-8", cache=b"public, max-age=3600"
        )

    return {f"{prefix}/b.gif": pixel, f"{prefix}/e": event, f"{prefix}/b.js": js}
