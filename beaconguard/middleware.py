"""``BeaconGuard``: the one ASGI middleware a user mounts.

It composes the parts ``Settings`` turn on (access log, consent gate, statistics, own
endpoints) and, like Starlette's own middleware, changes the response only by wrapping
``send``. Non-HTTP scopes pass straight through, except that lifespan shutdown flushes
what the parts hold.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beaconguard.accesslog.replay import compiled_log, content_type_of
from beaconguard.accesslog.sinks import open_sink
from beaconguard.accesslog.writer import LogWriter
from beaconguard.anonymize.pipeline import Pipeline, Record, build_pipeline
from beaconguard.beacon import SCOPE_KEY as BEACON_SCOPE_KEY
from beaconguard.beacon import plausible
from beaconguard.client import make_client_resolver
from beaconguard.consent.endpoints import build_routes as consent_routes
from beaconguard.consent.fast import compiled_gate
from beaconguard.consent.gate import ConsentGate
from beaconguard.consent.state import ConsentState
from beaconguard.reports import part as reports_part
from beaconguard.settings import Settings
from beaconguard.stats import part as stats_part
from beaconguard.stats.aggregator import Aggregator, counts_as_pageview
from beaconguard.visit import Visit

#: Called with each finished request: the raw visit (in memory) and its anonymized record.
Consumer = Callable[[Visit, Record], None]

# Request headers the consumers read; parts add theirs at construction. The Cookie header
# is never among them: the raw session tokens have no business in the Visit.
_CORE_HEADERS = {
    b"host": "host",
    b"user-agent": "user-agent",
    b"referer": "referer",
    b"x-forwarded-for": "x-forwarded-for",
    b"forwarded": "forwarded",
    b"content-type": "content-type",
}


_WEBSOCKET_STARTS = ("websocket.accept", "websocket.http.response.start")


class BeaconGuard:
    """Consent-gated cookies and beacons, an anonymized access log and anonymous statistics.

    ``BeaconGuard(app, settings=Settings(...))``, or ``Middleware(BeaconGuard, settings=...)``
    in a Starlette/FastAPI middleware list. Without ``settings``, :meth:`Settings.from_env`
    is used. Everything is decided here, at construction; a bad setting raises
    ``ValueError`` now rather than failing a request later.
    """

    def __init__(self, app: ASGIApp, settings: Settings | None = None) -> None:
        self.app = app
        self.settings = settings if settings is not None else Settings.from_env()
        s = self.settings
        s.require_secret()
        self.pipeline: Pipeline = build_pipeline(s)
        self._resolve_client = make_client_resolver(s.trusted_proxies)
        self._wanted_headers = dict(_CORE_HEADERS)
        for name in s.log_headers:
            self._wanted_headers[name.encode("latin-1")] = name
        self.consumers: list[Consumer] = []
        self.routes: dict[str, ASGIApp] = {}
        self._closers: list[Callable[[], None]] = []

        self.access_log: LogWriter | None = None
        self.consent: ConsentGate | None = None
        self.stats: Aggregator | None = None
        try:
            self._attach_parts(s)
        except BaseException:
            # A part that failed to start must not leave the ones before it running (the
            # log writer's thread, an open store).
            self.close()
            raise

        self._has_consumers = bool(self.consumers)
        self._counts = self.stats is not None
        # The gate's answers are replayed in C where they can be: the whole request when
        # only the gate observes it, else the gate's part.
        self._fast: Callable[[Scope, Receive, Send], Awaitable[None] | None] | None = None
        self._fast_enter: (
            Callable[[Scope, Send], tuple[Scope, ConsentState, Send] | None] | None
        ) = None
        compiled = None
        if self.consent is not None and s.speedups:
            compiled = compiled_gate(self.consent, self, self.routes)
        if compiled is not None:
            if self._has_consumers:
                self._fast_enter = compiled.enter
            else:
                self._fast = compiled.run
        # The request headers the consumers read, as (raw name, key in ``Visit.headers``).
        self._wanted_items = tuple(self._wanted_headers.items())
        # The access log's lines and the statistics' counts are replayed in C too, while
        # they are the only consumers. Extra headers to log are the Python path's (rarely
        # set, and each is scrubbed).
        self._fast_log: Callable[[Scope, Send], Any] | None = None
        # The consumers the compiled path stands for: a list changed later (a consumer added
        # or replaced) sends requests the Python way.
        self._fast_consumers = list(self.consumers)
        if s.speedups and self.consumers and not s.log_headers:
            core = compiled_log(
                s,
                self._resolve_client,
                None if self.access_log is None else self.access_log.submit,
                self._log_handed_back,
                self.stats,
                self.routes,
            )
            self._fast_log = None if core is None else core.observe

    def _attach_parts(self, s: Settings) -> None:
        """Start the parts ``s`` turns on; each registers what closes it."""
        if s.access_log is not None:
            sink = open_sink(
                s.access_log,
                max_bytes=s.access_log_max_bytes,
                rotate=s.access_log_rotate,
                backups=s.access_log_backups,
            )
            try:
                self.access_log = LogWriter(
                    sink, buffer_size=s.log_buffer_size, flush_interval=s.log_flush_interval
                )
            except BaseException:
                sink.close()
                raise
            self.consumers.append(self._log_consumer(self.access_log))
            self._closers.append(self.access_log.close)

        # Consent gate: resolves a state per request, strips the request's Cookie header
        # and filters the app's response start (see beaconguard/consent/gate.py).
        if s.consent:
            self.consent = ConsentGate(s, resolve_client=self._resolve_client)
            self._wanted_headers[b"sec-gpc"] = "sec-gpc"
            self.routes.update(consent_routes(self.consent, s.route_prefix))

        # --- statistics: aggregator consumer, beacon routes, flush on shutdown ---
        self.stats = stats_part.attach(self) if s.stats else None
        if self.stats is not None:
            plausible.attach(self)  # POST {plausible_path}, when set: same rules as beacons
        if self.consent is not None and self.stats is not None:
            # Visitors' decisions become the per-category consent rates in reports.
            self.consent.on_decision = self.stats.add_consent

        # --- reports: GET {route_prefix}/api/report, only when a report token is set ---
        reports_part.attach(self)

    @staticmethod
    def _log_consumer(writer: LogWriter) -> Consumer:
        submit = writer.submit

        def consume(visit: Visit, record: Record) -> None:
            submit(record)

        return consume

    def close(self) -> None:
        """Flush and release everything the parts hold (called on lifespan shutdown)."""
        for close in self._closers:
            close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        fast = self._fast
        if fast is not None:
            step = fast(scope, receive, send)
            if step is not None:
                await step
                return
        scope_type = scope["type"]
        if scope_type != "http":
            if scope_type == "lifespan":
                await self.app(scope, receive, self._lifespan_send(send))
            elif scope_type == "websocket" and self.consent is not None:
                await self._gated_websocket(self.consent, scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return

        gate = self.consent
        if gate is None and not self._has_consumers:
            target = self.routes.get(_route_path(scope), self.app) if self.routes else self.app
            await target(scope, receive, send)
            return
        headers = scope["headers"]
        if not isinstance(headers, list):
            # ASGI promises only an iterable; the gate and the app both read it again.
            headers = scope["headers"] = list(headers)
        observe = self._fast_log
        # A consumer added after construction is served by the Python path, and so are
        # request headers the compiled path does not read as the Python path does.
        observed = (
            observe(scope, send)
            if observe is not None and self.consumers == self._fast_consumers
            else None
        )
        if observed is not None:
            # The compiled path notes the response, replays the line and the counts. It
            # took no request for an own endpoint: the app answers.
            state: ConsentState | None = None
            entered = self._fast_enter(scope, observed) if self._fast_enter is not None else None
            if entered is not None:
                app_scope, state, to_app = entered
            elif gate is not None:
                joined = _normalized(headers)
                app_scope, state, stale = gate.enter(scope, joined)
                to_app = _GatedSend(observed, gate, state, stale, app_scope, joined)
            else:
                app_scope, to_app = scope, observed
            try:
                await self.app(app_scope, receive, to_app)
            except BaseException:
                observed.failed()
                raise
            finally:
                observed.finish(scope, app_scope, state)
            return
        # One pass in C. A repeated name (HTTP/2 splits Cookie) or a name not in lower case
        # (ASGI asks servers for lower case; a Cookie that skipped the gate would fail
        # open) takes the normalising pass.
        raw: dict[bytes, bytes] = dict(headers)
        if len(raw) != len(headers) or not b"".join(raw).islower():
            raw = _normalized(headers)
        if not self._has_consumers:
            # Only the gate observes the request: no clock, no decoded headers, no
            # response bookkeeping.
            assert gate is not None
            scope, state, stale = gate.enter(scope, raw)
            target = self.routes.get(_route_path(scope), self.app) if self.routes else self.app
            if target is not self.app:
                await target(scope, receive, send)
                return
            await target(scope, receive, _GatedSend(send, gate, state, stale, scope, raw))
            return

        started = time.perf_counter()
        now = time.time()
        found: dict[str, str] = {}
        for name, key in self._wanted_items:
            value = raw.get(name)
            if value is not None:
                found[key] = value.decode("latin-1")
        consent: ConsentState | None = None
        observed = _ObservedSend(send, None, None, (), scope, raw, found, self._counts)
        # The compiled gate wraps the observer: it filters the response start before the
        # observer sees it, as the Python gate does inside it.
        entered = self._fast_enter(scope, observed) if self._fast_enter is not None else None
        if entered is not None:
            scope, consent, gated = entered
        elif gate is not None:
            scope, consent, observed.stale = gate.enter(scope, raw)
            observed.scope = scope
            observed.state = consent
        target = self.routes.get(_route_path(scope), self.app) if self.routes else self.app
        # Only the app's responses are gated; the gate's own endpoints set what they mean to.
        app_send: Send = observed
        if target is self.app:
            if entered is not None:
                app_send = gated
            else:
                observed.gate = gate
        try:
            await target(scope, receive, app_send)
        except BaseException:
            if observed.status == 0:
                observed.status = 500
            raise
        finally:
            self._finish(scope, found, observed, now, started, consent)

    def _log_handed_back(
        self, scope: Scope, app_scope: Scope, observed: Any, consent: ConsentState | None
    ) -> None:
        """Log and count a request the compiled path hands back, the Python way."""
        # The headers as read before the app ran (it may have changed or dropped them);
        # the compiled path held those the log and the counters read.
        found: dict[str, str] = observed.found
        raw = _normalized(scope.get("headers") or ())
        for name, key in self._wanted_items:
            value = raw.get(name)
            if value is not None and key not in found:
                found[key] = value.decode("latin-1")
        response = _ObservedSend(None, None, None, (), app_scope, raw, found, False)  # type: ignore[arg-type]
        response.status = observed.status
        response.bytes_sent = observed.bytes_sent
        response.pageview = observed.pageview
        self._finish(
            app_scope, found, response, observed.now, observed.started, consent, observed.ended
        )

    def _finish(
        self,
        scope: Scope,
        found: dict[str, str],
        response: _ObservedSend,
        now: float,
        started: float,
        consent: object = None,
        ended: float | None = None,
    ) -> None:
        peer = scope.get("client")
        route = scope.get("route")
        method = scope["method"]
        visit = Visit(
            time=now,
            method=method,
            scheme=scope.get("scheme", "http"),
            host=found.get("host", ""),
            path=scope["path"],
            query=scope.get("query_string", b""),
            client=self._resolve_client(
                peer[0] if peer else None,
                found.get("x-forwarded-for"),
                found.get("forwarded"),
            ),
            user_agent=found.get("user-agent", ""),
            referer=found.get("referer", ""),
            # A Mount's template hides which page was served; only a Route names one.
            route=route.path_format if isinstance(route, Route) else None,
            root_path=scope.get("root_path", ""),
            status=response.status,
            # The server sends no body for HEAD, whatever the app handed it.
            bytes_sent=response.bytes_sent if method != "HEAD" else 0,
            duration_ms=((time.perf_counter() if ended is None else ended) - started) * 1000.0,
            content_type=response.content_type,
            headers=found,
            consent=consent,
            beacon=scope.get(BEACON_SCOPE_KEY),
            pageview=response.pageview,
        )
        record = self.pipeline(visit)
        for consume in self.consumers:
            consume(visit, record)

    async def _gated_websocket(
        self, gate: ConsentGate, scope: Scope, receive: Receive, send: Send
    ) -> None:
        """A WebSocket handshake is an HTTP request too: the app gets only the cookies the
        visitor allowed, and the accept's ``Set-Cookie`` headers are gated like a response's.
        Not logged or counted: a page view is an HTTP response."""
        scope["headers"] = headers = list(scope["headers"])
        raw = _normalized(headers)
        scope, state, stale = gate.enter(scope, raw)

        async def gated_send(message: Message) -> None:
            # Both carry response headers: the accept, and a denial response's start.
            if message["type"] in _WEBSOCKET_STARTS:
                message = gate.response_start(message, state, stale, scope, raw)
            await send(message)

        await self.app(scope, receive, gated_send)

    def _lifespan_send(self, send: Send) -> Send:
        async def lifespan_send(message: Message) -> None:
            if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                self.close()
            await send(message)

        return lifespan_send


# The per-request ``send`` wrappers are slotted objects rather than closures: a closure
# allocates a cell for every variable it captures, on every request.


class _GatedSend:
    """``send`` for a request only the gate observes: filters the response start."""

    __slots__ = ("gate", "raw", "scope", "send", "stale", "state")

    def __init__(
        self,
        send: Send,
        gate: ConsentGate | None,
        state: ConsentState | None,
        stale: tuple[str, ...],
        scope: Scope,
        raw: dict[bytes, bytes],
    ) -> None:
        self.send = send
        self.gate = gate
        self.state = state
        self.stale = stale
        self.scope = scope
        self.raw = raw

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            assert self.gate is not None and self.state is not None
            message = self.gate.response_start(
                message, self.state, self.stale, self.scope, self.raw
            )
        await self.send(message)


class _ObservedSend(_GatedSend):
    """``send`` for a logged or counted request: gates the response start (``gate`` set)
    and notes what the ``Visit`` needs: status, bytes sent, content type, page view."""

    __slots__ = ("bytes_sent", "content_type", "count", "found", "pageview", "status")

    def __init__(
        self,
        send: Send,
        gate: ConsentGate | None,
        state: ConsentState | None,
        stale: tuple[str, ...],
        scope: Scope,
        raw: dict[bytes, bytes],
        found: dict[str, str],
        count: bool,
    ) -> None:
        super().__init__(send, gate, state, stale, scope, raw)
        self.found = found
        self.count = count
        self.status = 0
        self.bytes_sent = 0
        self.content_type = ""
        self.pageview: bool | None = None

    async def __call__(self, message: Message) -> None:
        mtype = message["type"]
        if mtype == "http.response.start":
            gate = self.gate
            if gate is not None:
                assert self.state is not None
                message = gate.response_start(message, self.state, self.stale, self.scope, self.raw)
            status = self.status = message["status"]
            if self.count:
                # Only the page-view rule reads it.
                self.content_type = content_type_of(message.get("headers"))
                self.pageview = counts_as_pageview(
                    self.scope["method"], status, self.content_type, self.found
                )
                if self.pageview:
                    # Tells the beacon script this page load is already counted.
                    headers = [*(message.get("headers") or ()), stats_part.SERVER_TIMING]
                    message = {**message, "headers": headers}
        elif mtype == "http.response.body":
            self.bytes_sent += len(message.get("body", b""))
        await self.send(message)


def _normalized(headers: Any) -> dict[bytes, bytes]:
    """Request headers by lower-case name, a repeated name's values joined as one (``; ``
    for Cookie, as HTTP/2 requires, ``, `` for any other)."""
    out: dict[bytes, bytes] = {}
    for name, value in headers:
        name = bytes(name).lower()
        if name in out:
            out[name] = out[name] + (b"; " if name == b"cookie" else b", ") + value
        else:
            out[name] = value
    return out


def _route_path(scope: Scope) -> str:
    """The path below the app's mount point (``--root-path``), where own routes live.

    Servers put the full path in ``path`` and the prefix in ``root_path``; a path outside
    the prefix is left whole (it matches no own route unless it really is one).
    """
    path: str = scope["path"]
    root = scope.get("root_path")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] == "/":
        return path[len(root) :]
    return path
