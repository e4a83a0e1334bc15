"""The raw facts of one request, held in memory only while it is answered.

A ``Visit`` is what the anonymize pipeline reads. Nothing stores or writes a ``Visit``:
it exists so the pipeline, the consent gate and the statistics can share one parse of the
request instead of each reading the ASGI scope again.
"""

from __future__ import annotations

from typing import Any


class Visit:
    """Raw request facts. Never logged, never stored: only the pipeline reads it."""

    __slots__ = (
        "beacon",
        "bytes_sent",
        "client",
        "consent",
        "content_type",
        "duration_ms",
        "headers",
        "host",
        "method",
        "pageview",
        "path",
        "query",
        "referer",
        "root_path",
        "route",
        "scheme",
        "status",
        "time",
        "user_agent",
    )

    def __init__(
        self,
        *,
        time: float,
        method: str = "GET",
        scheme: str = "http",
        host: str = "",
        path: str = "/",
        query: bytes = b"",
        client: str | None = None,
        user_agent: str = "",
        referer: str = "",
        route: str | None = None,
        root_path: str = "",
        status: int = 0,
        bytes_sent: int = 0,
        duration_ms: float = 0.0,
        content_type: str = "",
        headers: dict[str, str] | None = None,
        consent: object = None,
        beacon: dict[str, Any] | None = None,
        pageview: bool | None = None,
    ) -> None:
        self.time = time
        self.method = method
        self.scheme = scheme
        self.host = host
        self.path = path
        self.query = query
        self.client = client
        self.user_agent = user_agent
        self.referer = referer
        self.route = route
        self.root_path = root_path
        self.status = status
        self.bytes_sent = bytes_sent
        self.duration_ms = duration_ms
        self.content_type = content_type
        #: Lower-cased request headers the parts asked for (sec-purpose, sec-gpc, ...).
        self.headers = headers if headers is not None else {}
        #: The consent state the gate resolved, when the gate is on.
        self.consent = consent
        #: What the first-party beacon endpoint accepted (already anonymized), if this
        #: request was a beacon.
        self.beacon = beacon
        #: Whether the server-side page-view rule counted this answer, when the middleware
        #: decided it already (``None``: the statistics part applies the rule itself).
        self.pageview = pageview

    def __repr__(self) -> str:
        # A repr that shows raw values would put them in tracebacks and logs.
        return f"<Visit {self.method} status={self.status}>"
