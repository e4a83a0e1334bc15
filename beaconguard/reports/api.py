"""``GET {route_prefix}/api/report``: the CLI's report as JSON over HTTP, behind a token.

Same parameters as ``beaconguard report`` (``by``, ``filter``, ``top``, ``min_visitors``,
``since`` / ``from`` / ``to``) and the same JSON object. The middleware mounts it only
when ``settings.report_token`` is set. Answers: 200 with the report; 400 with a short
reason for a bad parameter; 401 without a token; 403 with a wrong one; 405 for anything
but GET/HEAD. The configured k-threshold is a floor a request can raise, never lower.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from beaconguard.reports.auth import TokenCheck, Verdict, authorization_header
from beaconguard.reports.params import query_from_params
from beaconguard.reports.render import render_json
from beaconguard.settings import Settings
from beaconguard.stats.query import run_report
from beaconguard.stats.store.base import Store

_MAX_QUERY = 4096
log = logging.getLogger("beaconguard.reports")


def _headers(
    content_type: bytes, extra: tuple[tuple[bytes, bytes], ...] = ()
) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", content_type),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        *extra,
    ]


async def _answer(
    send: Send,
    status: int,
    body: bytes,
    *,
    head: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    headers = _headers(b"application/json", extra)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})


def _error(reason: str) -> bytes:
    return orjson.dumps({"error": reason})


class ReportAPI:
    """The report endpoint as a plain ASGI app (the middleware maps its path to it)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        if settings.report_token is None:
            raise ValueError(
                "report_token: the report API needs a token (BEACONGUARD_REPORT_TOKEN)"
            )
        self.store = store
        self.settings = settings
        self._check = TokenCheck(settings.report_token)
        self._secret = settings.signing_key if settings.noise_epsilon is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope.get("method", "GET")
        head = method == "HEAD"
        if method not in ("GET", "HEAD"):
            await _answer(send, 405, _error("use GET"), extra=((b"allow", b"GET, HEAD"),))
            return
        verdict = self._check(authorization_header(scope.get("headers", [])))
        if verdict is Verdict.MISSING:
            await _answer(
                send,
                401,
                _error("send the report token as 'Authorization: Bearer <token>'"),
                head=head,
                extra=((b"www-authenticate", b'Bearer realm="beaconguard"'),),
            )
            return
        if verdict is Verdict.WRONG:
            await _answer(send, 403, _error("wrong report token"), head=head)
            return
        raw = scope.get("query_string", b"")
        if len(raw) > _MAX_QUERY:
            await _answer(send, 400, _error("query string too long"), head=head)
            return
        try:
            params = parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
            query = query_from_params(params, self.settings)
        except (ValueError, UnicodeDecodeError) as exc:
            await _answer(send, 400, _error(str(exc)[:300]), head=head)
            return
        try:
            report = await run_in_threadpool(run_report, self.store, query, secret=self._secret)
        except Exception:
            # The request was fine; the store was not (locked, unreachable). Say so.
            log.exception("report query failed")
            await _answer(send, 503, _error("statistics store unavailable"), head=head)
            return
        await _answer(send, 200, render_json(report, indent=False).encode(), head=head)
