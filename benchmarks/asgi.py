"""Drive an ASGI callable directly: prebuilt scopes, a constant ``receive``, a no-op ``send``.

No HTTP client or server sits in between, so what is timed is the application and its
middleware only. Lifespan is started like a server would, so writer threads run as they do
in production.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from starlette.types import ASGIApp, Message, Send

SERVER = ("127.0.0.1", 8000)
CHROME_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
SAFARI_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
FIREFOX_UA = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
BOT_UA = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"

#: (path, query, user agent, client address) of the requests a benchmark cycles through.
REQUESTS: tuple[tuple[str, bytes, str, str], ...] = (
    ("/", b"", CHROME_UA, "203.0.113.7"),
    ("/products/42", b"utm_source=newsletter&email=ann%40example.com", SAFARI_UA, "198.51.100.23"),
    ("/blog/privacy-by-default", b"", FIREFOX_UA, "2001:db8:85a3::8a2e:370:7334"),
    ("/search", b"q=walnut+desk&ref=home", BOT_UA, "192.0.2.101"),
)


def make_scope(
    path: str,
    query: bytes = b"",
    user_agent: str = CHROME_UA,
    client: str = "203.0.113.7",
    cookie: str = "sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; _ga=GA1.2.1234567890.1700000000",
    extra_headers: Sequence[tuple[bytes, bytes]] = (),
) -> dict[str, Any]:
    """A realistic HTTP scope as uvicorn would build it for a browser's GET."""
    headers = [
        (b"host", b"shop.example.com"),
        (b"user-agent", user_agent.encode("latin-1")),
        (b"accept", b"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"),
        (b"accept-language", b"en-GB,en;q=0.9"),
        (b"accept-encoding", b"gzip, deflate, br"),
        (b"referer", b"https://news.example.org/item?id=31337"),
        (b"connection", b"keep-alive"),
    ]
    if cookie:
        headers.append((b"cookie", cookie.encode("latin-1")))
    headers.extend(extra_headers)
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": headers,
        "client": (client, 51234),
        "server": SERVER,
        "state": {},
    }


def default_scopes(**kw: Any) -> list[dict[str, Any]]:
    return [make_scope(path, query, ua, client, **kw) for path, query, ua, client in REQUESTS]


_REQUEST: Message = {"type": "http.request", "body": b"", "more_body": False}


async def receive() -> Message:
    return _REQUEST


async def discard(message: Message) -> None:
    return None


def _recorder(messages: list[Message]) -> Send:
    async def record(message: Message) -> None:
        messages.append(message)

    return record


class Driver:
    """Sends prebuilt requests through one ASGI app, in one event loop."""

    def __init__(self, app: ASGIApp, scopes: Sequence[dict[str, Any]]) -> None:
        self.app = app
        self.scopes = list(scopes)
        self.sent = 0

    async def batch(self, n: int) -> float:
        """Run ``n`` requests; return microseconds per request."""
        app = self.app
        scopes = self.scopes
        k = len(scopes)
        started = time.perf_counter()
        for i in range(n):
            # uvicorn builds a fresh scope (and copies lifespan state) for every request.
            scope = scopes[i % k].copy()
            scope["state"] = {}
            await app(scope, receive, discard)
        elapsed = time.perf_counter() - started
        self.sent += n
        return elapsed / n * 1e6

    async def check(self) -> list[tuple[int, int, list[tuple[bytes, bytes]]]]:
        """One request per prebuilt scope; (status, body bytes, headers) of each answer."""
        out = []
        for base in self.scopes:
            messages: list[Message] = []
            scope = base.copy()
            scope["state"] = {}
            await self.app(scope, receive, _recorder(messages))
            start = next(m for m in messages if m["type"] == "http.response.start")
            body = sum(
                len(m.get("body", b"")) for m in messages if m["type"] == "http.response.body"
            )
            out.append((start["status"], body, list(start.get("headers", []))))
            self.sent += 1
        return out


class Lifespan:
    """Run an app's lifespan protocol around a block, as a server does."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._outbox: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def _receive(self) -> Message:
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        await self._outbox.put(message)

    async def startup(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        self._task = asyncio.ensure_future(self.app(scope, self._receive, self._send))
        await self._inbox.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self._outbox.get(), timeout=30)
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {message}")

    async def shutdown(self) -> None:
        await self._inbox.put({"type": "lifespan.shutdown"})
        message = await asyncio.wait_for(self._outbox.get(), timeout=30)
        if message["type"] != "lifespan.shutdown.complete":
            raise RuntimeError(f"lifespan shutdown failed: {message}")
        if self._task is not None:
            await asyncio.wait_for(self._task, timeout=30)
