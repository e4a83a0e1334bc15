"""A Plausible-compatible ingest endpoint: point an existing Plausible tracker at beaconguard.

``POST {settings.plausible_path}`` (e.g. ``/api/event``) with Plausible's payload: ``n``
(event name, ``pageview`` for a page view), ``u`` (page URL), ``d`` (site domain), ``r``
(referrer) and ``p`` (properties); the long names ``name``, ``url``, ``domain``,
``referrer`` and ``props`` are accepted too, as are ``m``/``meta``, the older trackers' name
for the properties; the tracker's ``v``, ``h``, ``i`` and ``w`` (version, hash mode,
interactive, screen width) are ignored. Nothing else is.

``d`` names the site the tracker reports for (its ``data-domain``; Plausible allows a
comma-separated list). Each domain must be this site: the request's ``Host`` or one of
``beacon_hosts``, compared without a leading ``www.`` as Plausible does; otherwise the
answer is 403 with the reason, and nothing is counted.

The payload is translated into a first-party beacon and validated by the same
:func:`~beaconguard.beacon.payload.make_validator`, so the same rules apply: the page must
belong to this site (or ``beacon_hosts``), properties must be in ``beacon_props``, the
URL and referrer are anonymized, an event name that looks like an identifier is refused,
and the statistics consumer counts it only with consent
to statistics (unless ``cookieless``) and never for a bot. Differences from Plausible:
spaces in event names become ``_`` (``Outbound Link: Click`` → ``Outbound_Link:_Click``);
properties sent with a page view are dropped (less data, never more).

Pages served through BeaconGuard are already counted on the server; a Plausible tracker on
them would count each view twice, so use this endpoint for pages beaconguard does not
serve (a static site on another host, a single-page app's client-side navigation).
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from beaconguard.beacon.endpoints import SCOPE_KEY, BodyTooLarge, read_body
from beaconguard.beacon.payload import (
    MAX_BODY,
    BeaconError,
    check_event_name,
    hostname,
    make_validator,
)
from beaconguard.settings import Settings

if TYPE_CHECKING:
    from beaconguard.middleware import BeaconGuard

_LONG = {"name": "n", "url": "u", "domain": "d", "referrer": "r", "props": "p",
         "m": "p", "meta": "p"}
_IGNORED = frozenset({"v", "h", "i", "w", "screen_width", "interactive", "hashMode"})
_TYPES = frozenset({"application/json", "text/plain"})
_SPACES = re.compile(r"\s+")
MAX_DOMAIN = 253


def _bare(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def translate(
    fields: dict[str, Any], request_host: str, extra_hosts: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Plausible's fields as the first-party beacon's ``{"u", "r", "e", "p"}``.

    ``request_host`` (the ``Host`` header) and ``extra_hosts`` (``beacon_hosts``) are the
    domains ``d`` may name.
    """
    short: dict[str, Any] = {}
    for raw, value in fields.items():
        if raw in _IGNORED:
            continue
        name = _LONG.get(raw, raw)
        if name not in ("n", "u", "d", "r", "p"):
            raise BeaconError(f"unknown field {str(raw)[:20]!r}; expected n, u, d, r, p")
        if name in short:
            raise BeaconError(f"field {name!r} given twice")
        short[name] = value
    event = short.get("n")
    if not isinstance(event, str) or not event.strip():
        raise BeaconError("field 'n' (the event name, or 'pageview') is required")
    domain = short.get("d")
    if not isinstance(domain, str) or not domain or len(domain) > MAX_DOMAIN:
        raise BeaconError("field 'd' (the site domain) is required and must be a string")
    site = {_bare(hostname(request_host))} | {_bare(h) for h in extra_hosts}
    if any(_bare(d) not in site for d in domain.split(",")):
        raise BeaconError("field 'd' (the site domain) is not this site", 403)
    beacon: dict[str, Any] = {"u": short.get("u"), "r": short.get("r")}
    if event != "pageview":
        beacon["e"] = check_event_name(_SPACES.sub("_", event.strip()), "n")
        props = short.get("p")
        if isinstance(props, str):  # older trackers send the properties JSON-encoded
            try:
                props = json.loads(props)
            except ValueError:
                raise BeaconError("field 'p' is not a JSON object") from None
        if props:
            beacon["p"] = props
    return beacon


async def _answer(send: Send, status: int, body: bytes, allow: bytes | None = None) -> None:
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
    ]
    if allow:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def make_plausible_endpoint(settings: Settings) -> ASGIApp:
    """The ingest endpoint as an ASGI app (accepted beacons are left in the scope)."""
    validate = make_validator(settings)
    extra_hosts = frozenset(settings.beacon_hosts)

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _answer(send, 405, b"use POST\n", b"POST")
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]
                   if k in (b"content-type", b"content-length", b"host")}
        ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if ctype not in _TYPES:
            await _answer(send, 415, b"content type must be application/json or text/plain\n")
            return
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY:
            await _answer(send, 413, f"body larger than {MAX_BODY} bytes\n".encode())
            return
        try:
            body = await read_body(receive, MAX_BODY)
        except BodyTooLarge:
            await _answer(send, 413, f"body larger than {MAX_BODY} bytes\n".encode())
            return
        if body is None:
            return
        try:
            fields = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            await _answer(send, 400, b"body is not valid JSON\n")
            return
        if not isinstance(fields, dict):
            await _answer(send, 400, b"body must be a JSON object\n")
            return
        try:
            host = headers.get("host", "")
            payload = validate(translate(fields, host, extra_hosts), host)
        except BeaconError as exc:
            await _answer(send, exc.status, str(exc).encode() + b"\n")
            return
        scope[SCOPE_KEY] = payload
        # Plausible answers 202 "ok" whether or not the event is counted; so does this.
        await _answer(send, 202, b"ok")

    return endpoint


def attach(guard: BeaconGuard) -> None:
    """Mount the endpoint at ``settings.plausible_path`` when that is set."""
    path = guard.settings.plausible_path
    if path is not None:
        guard.routes[path] = make_plausible_endpoint(guard.settings)
