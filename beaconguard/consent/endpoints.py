"""The gate's own endpoints: ``/_bg/consent``, ``/.well-known/gpc.json`` and the assets.

``GET /_bg/consent`` answers the current state and the banner's text as JSON.
``POST /_bg/consent`` records a decision: JSON (``{"statistics": true, "marketing":
false}``, or ``{"all": true}``) or a form (checked categories, or ``choice=accept_all`` /
``reject_all``). Categories left out are denied. ``DELETE /_bg/consent`` withdraws
everything and forgets the choice (the banner asks again).

Changes need a same-origin request (``Origin`` naming this scheme, host and port, or
``Sec-Fetch-Site: same-origin``): a page elsewhere cannot decide for the visitor. Bad
input gets a 4xx with a one-line reason, never a 500.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from beaconguard.consent.categories import NECESSARY, OPTIONAL
from beaconguard.consent.gate import ConsentGate
from beaconguard.consent.state import ConsentState

MAX_BODY = 4096
_TRUE = ("1", "true", "on", "yes")
_FALSE = ("0", "false", "off", "no")

#: Static files served under ``{route_prefix}/static/``: name → content type.
ASSETS = {
    "consent.js": b"text/javascript; charset=utf-8",
    "banner.js": b"text/javascript; charset=utf-8",
    "banner.css": b"text/css; charset=utf-8",
}


class BadRequest(Exception):
    """A request the endpoint refuses: ``status`` and a short reason for the client."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def build_routes(gate: ConsentGate, prefix: str) -> dict[str, ASGIApp]:
    """Exact path → ASGI app, for ``BeaconGuard.routes``."""
    routes: dict[str, ASGIApp] = {
        f"{prefix}/consent": ConsentEndpoint(gate),
        "/.well-known/gpc.json": _json_app({"gpc": True}, max_age=86400),
    }
    for name, ctype in ASSETS.items():
        body = resources.files("beaconguard").joinpath("static", name).read_bytes()
        routes[f"{prefix}/static/{name}"] = StaticAsset(body, ctype)
    return routes


async def _send(
    send: Send, status: int, body: bytes, ctype: bytes, extra: list[tuple[bytes, bytes]] = ()  # type: ignore[assignment]
) -> None:
    headers = [
        (b"content-type", ctype),
        (b"content-length", str(len(body)).encode()),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(
    send: Send, status: int, data: Any, extra: list[tuple[bytes, bytes]] = ()  # type: ignore[assignment]
) -> None:
    await _send(send, status, orjson.dumps(data), b"application/json", extra)


def _json_app(data: Any, max_age: int) -> ASGIApp:
    body = orjson.dumps(data)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send_json(send, 405, {"error": "use GET"}, [(b"allow", b"GET, HEAD")])
            return
        await _send(send, 200, body, b"application/json",
                    [(b"cache-control", f"public, max-age={max_age}".encode())])

    return app


class StaticAsset:
    """One file held in memory, with an ETag and a gzip variant."""

    def __init__(self, body: bytes, ctype: bytes) -> None:
        self.body = body
        self.gzipped = gzip.compress(body, 9, mtime=0)
        self.ctype = ctype
        self.etag = b'"' + hashlib.sha256(body).hexdigest()[:16].encode() + b'"'

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in ("GET", "HEAD"):
            await _send_json(send, 405, {"error": "use GET"}, [(b"allow", b"GET, HEAD")])
            return
        headers = dict(scope["headers"])
        common = [(b"etag", self.etag), (b"cache-control", b"public, max-age=3600"),
                  (b"vary", b"accept-encoding")]
        if headers.get(b"if-none-match") == self.etag:
            await send({"type": "http.response.start", "status": 304, "headers": common})
            await send({"type": "http.response.body", "body": b""})
            return
        if b"gzip" in headers.get(b"accept-encoding", b""):
            await _send(send, 200, self.gzipped, self.ctype,
                        [*common, (b"content-encoding", b"gzip")])
        else:
            await _send(send, 200, self.body, self.ctype, common)


class ConsentEndpoint:
    """``/_bg/consent``: read, record or withdraw the visitor's decision."""

    def __init__(self, gate: ConsentGate) -> None:
        self.gate = gate
        self.description = gate.describe()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state: ConsentState = scope["state"]["consent"]
        method = scope["method"]
        try:
            if method in ("GET", "HEAD"):
                await _send_json(send, 200, self._view(state), [(b"cache-control", b"no-store")])
            elif method == "POST":
                await self._post(scope, receive, send, state)
            elif method == "DELETE":
                await self._delete(scope, send, state)
            else:
                raise BadRequest(405, "use GET, POST or DELETE")
        except BadRequest as exc:
            extra = [(b"allow", b"GET, HEAD, POST, DELETE")] if exc.status == 405 else []
            await _send_json(send, exc.status, {"error": exc.reason}, extra)

    def _view(self, state: ConsentState, **more: Any) -> dict[str, Any]:
        return {**state.as_dict(), **self.description, **more}

    async def _post(self, scope: Scope, receive: Receive, send: Send, state: ConsentState) -> None:
        headers = _headers(scope)
        _same_origin(headers, scope)
        body = await _read_body(receive)
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        is_form = ctype == "application/x-www-form-urlencoded"
        if ctype == "application/json":
            granted = parse_json_choice(body)
        elif is_form:
            granted = parse_form_choice(body)
        else:
            raise BadRequest(415, "send application/json or a form")

        gate = self.gate
        decisions = {name: name in granted for name in OPTIONAL}
        value, new = gate.cookie.dumps(decisions, state.consent_id if state.explicit else None)
        secure = scope.get("scheme") == "https"
        out = [(b"set-cookie", self._cookie_header(value, gate.cookie.max_age, secure)),
               (b"cache-control", b"no-store")]
        withdrawn = state.allowed - new.allowed
        if withdrawn:
            names = gate.purge_names(withdrawn, _cookie_names(headers.get("cookie", "")))
            out.extend(gate.expire_headers(names, headers.get("host", ""), secure,
                                           _referer_paths(headers)))
        gate.record_decision(new)
        if is_form:
            # The no-JavaScript banner: back to the page the form was on.
            out.append((b"location", _same_origin_referer(headers).encode("latin-1")))
            await _send(send, 303, b"", b"text/plain", out)
            return
        # A page whose CSP was built before a host's category was granted must be reloaded
        # for the browser to let that host in.
        reload = bool((new.allowed - state.allowed) & gate.reload_on_grant)
        await _send_json(send, 200, self._view(new, reload=reload), out)

    async def _delete(self, scope: Scope, send: Send, state: ConsentState) -> None:
        headers = _headers(scope)
        _same_origin(headers, scope)
        gate = self.gate
        secure = scope.get("scheme") == "https"
        names = gate.purge_names(OPTIONAL, _cookie_names(headers.get("cookie", "")))
        out = [(b"set-cookie", self._cookie_header("", 0, secure)),
               (b"cache-control", b"no-store")]
        out.extend(gate.expire_headers(names, headers.get("host", ""), secure,
                                       _referer_paths(headers)))
        if gate.clear_site_data:
            out.append((b"clear-site-data", b'"cookies"'))
        if state.explicit:
            withdrawn = ConsentState.granting((), "explicit", state.revision,
                                              decided_at=None, consent_id=state.consent_id)
            gate.record_decision(withdrawn, action="withdraw")
        forgotten = gate.default_state
        await _send_json(send, 200, self._view(forgotten, reload=False), out)

    def _cookie_header(self, value: str, max_age: int, secure: bool) -> bytes:
        parts = [f"{self.gate.cookie_name}={value}", f"Max-Age={max_age}", "Path=/",
                 "HttpOnly", "SameSite=Lax"]
        if max_age == 0:
            parts.insert(2, "Expires=Thu, 01 Jan 1970 00:00:00 GMT")
        if secure:
            parts.append("Secure")
        return "; ".join(parts).encode("latin-1")


def parse_json_choice(body: bytes) -> set[str]:
    """Granted categories from a JSON body; ``BadRequest`` says what is wrong."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BadRequest(400, "body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest(400, "body must be a JSON object of category: true/false")
    granted: set[str] = set()
    if "all" in data:
        value = data.pop("all")
        if not isinstance(value, bool):
            raise BadRequest(400, "'all' must be true or false")
        if value:
            granted.update(OPTIONAL)
    for name, value in data.items():
        if name == NECESSARY:
            if value is not True:
                raise BadRequest(400, "'necessary' cannot be refused")
            continue
        if name not in OPTIONAL:
            raise BadRequest(400, f"unknown category {name[:40]!r}")
        if not isinstance(value, bool):
            raise BadRequest(400, f"{name!r} must be true or false")
        if value:
            granted.add(name)
        else:
            granted.discard(name)
    return granted


def parse_form_choice(body: bytes) -> set[str]:
    """Granted categories from a form: ``choice=accept_all|reject_all`` or checkboxes."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body),
                          max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest(400, "form body could not be parsed") from None
    granted: set[str] = set()
    for name, value in pairs:
        low = value.strip().lower()
        if name == "choice":
            if low == "accept_all":
                granted.update(OPTIONAL)
            elif low not in ("reject_all", "custom"):
                raise BadRequest(400, "choice must be accept_all, reject_all or custom")
        elif name == NECESSARY:
            continue
        elif name in OPTIONAL:
            if low in _TRUE:
                granted.add(name)
            elif low not in _FALSE:
                raise BadRequest(400, f"{name!r} must be on or off")
        else:
            raise BadRequest(400, f"unknown field {name[:40]!r}")
    return granted


def _headers(scope: Scope) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in scope["headers"]:
        key = k.decode("latin-1").lower()
        val = v.decode("latin-1")
        out[key] = f"{out[key]}; {val}" if key == "cookie" and key in out else val
    return out


def _same_origin(headers: dict[str, str], scope: Scope) -> None:
    """Refuse a change unless it comes from a page of this very origin: the ``Origin``
    header's scheme, host and port must be the request's (the scheme the app sees, the
    ``Host`` header), else ``Sec-Fetch-Site: same-origin`` must vouch for it."""
    origin = headers.get("origin")
    if origin is not None:
        mine = _origin(str(scope.get("scheme", "http")), headers.get("host", ""))
        theirs = None
        if origin != "null":
            scheme, sep, netloc = origin.partition("://")
            theirs = _origin(scheme, netloc) if sep and "/" not in netloc else None
        if mine is None or theirs != mine:
            raise BadRequest(403, "cross-origin request refused")
        return
    if headers.get("sec-fetch-site") == "same-origin":
        return
    raise BadRequest(403, "missing Origin header: only same-origin pages may decide")


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(scheme: str, netloc: str) -> tuple[str, str, int | None] | None:
    """``(scheme, host, port)`` with the default port filled in; None if malformed."""
    scheme = scheme.lower()
    if not netloc or "@" in netloc or scheme not in _DEFAULT_PORTS:
        return None
    try:
        parts = urlsplit(f"{scheme}://{netloc}")
        port = parts.port
    except ValueError:
        return None
    if not parts.hostname:
        return None
    return scheme, parts.hostname.rstrip("."), port or _DEFAULT_PORTS[scheme]


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise BadRequest(400, "client went away")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise BadRequest(413, f"body larger than {MAX_BODY} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _cookie_names(header: str) -> list[str]:
    return [p.split("=", 1)[0].strip() for p in header.split(";") if p.strip()]


def _referer_paths(headers: dict[str, str]) -> list[str]:
    """The page's directory: cookies set there without a Path attribute default to it."""
    referer = headers.get("referer")
    if not referer:
        return []
    parts = urlsplit(referer)
    if parts.netloc.lower() != headers.get("host", "").lower():
        return []
    path = parts.path or "/"
    directory = path.rsplit("/", 1)[0] or "/"
    if not all(c.isalnum() or c in "/-._~%" for c in directory):
        return []
    return [directory]


def _same_origin_referer(headers: dict[str, str]) -> str:
    referer = headers.get("referer")
    if referer:
        parts = urlsplit(referer)
        same_host = parts.netloc.lower() == headers.get("host", "").lower()
        # "//elsewhere" would be read by the browser as another host.
        if same_host and parts.path.startswith("/") and not parts.path.startswith("//"):
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if all(32 < ord(c) < 127 for c in target):
                return target
    return "/"
