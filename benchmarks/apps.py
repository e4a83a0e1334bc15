"""The app every in-process scenario serves, and the middleware variants wrapped around it.

The app is a small Starlette site like the demo: a home page, a templated product route,
a blog route and a search page, each an HTML response that also sets three cookies (a
session, an analytics and a marketing cookie), so the consent gate has real work to do.
The cookies are precomputed raw headers: the baseline must not be inflated by cookie
formatting that has nothing to do with what is measured.

Each variant is built fresh in a temporary directory by :func:`build` and knows how to
check, after the run, that it really did what it claims (lines in its log file).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from beaconguard import BeaconGuard, Settings

SECRET = "benchmark-secret-key-0123456789abcdef"

COOKIES = (
    (b"set-cookie", b"sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; HttpOnly; Path=/; SameSite=lax"),
    (b"set-cookie", b"_ga=GA1.2.1234567890.1700000000; Max-Age=63072000; Path=/; SameSite=lax"),
    (b"set-cookie", b"_fbp=fb.1.1700000000000.987654321; Max-Age=7776000; Path=/; SameSite=lax"),
)

#: A cookie registry of 50 entries (exact, prefix and glob), as a real site's might be.
REGISTRY: tuple[dict[str, str], ...] = (
    {"name": "sessionid", "category": "necessary"},
    {"name": "csrftoken", "category": "necessary"},
    {"name": "basket", "category": "necessary"},
    {"name": "lang", "category": "preferences"},
    {"name": "theme", "category": "preferences"},
    {"name": "_ga", "category": "statistics"},
    {"name": "_ga_*", "category": "statistics"},
    {"name": "_gid", "category": "statistics"},
    {"name": "_pk_id.*", "category": "statistics"},
    {"name": "_hj*_ses?", "category": "statistics"},
    {"name": "_fbp", "category": "marketing"},
    {"name": "_gcl_*", "category": "marketing"},
    {"name": "IDE", "category": "marketing"},
    *({"name": f"pref_{i}", "category": "preferences"} for i in range(12)),
    *({"name": f"_stat{i}_*", "category": "statistics"} for i in range(12)),
    *({"name": f"ad{i}_uid", "category": "marketing"} for i in range(13)),
)
assert len(REGISTRY) == 50


def consent_cookie() -> str | None:
    """A signed consent cookie (preferences and statistics yes, marketing no), or None."""
    if not _has("beaconguard.consent"):
        return None
    from beaconguard.consent.cookie import ConsentCookie

    settings = Settings(secret_key=(SECRET,), store="memory://", consent=True)
    value, _ = ConsentCookie(settings).dumps(
        {"preferences": True, "statistics": True, "marketing": False}
    )
    return f"{settings.consent_cookie}={value}"


def request_cookie() -> str:
    """The Cookie header every benchmark request carries (the consent cookie when it exists)."""
    base = "sessionid=9f8e7d6c5b4a39281706f5e4d3c2b1a0; _ga=GA1.2.1234567890.1700000000"
    consent = consent_cookie()
    return f"{base}; {consent}" if consent else base


_NAV = (
    '<nav><a href="/">Home</a> <a href="/products/1">Products</a> '
    '<a href="/blog/privacy-by-default">Blog</a> <a href="/search">Search</a></nav>'
)


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
        f"</head><body><header>{_NAV}</header><main><h1>{title}</h1>{body}</main>"
        "<footer>benchmark site</footer></body></html>"
    )
    response = HTMLResponse(html)
    response.raw_headers.extend(COOKIES)
    return response


async def home(request: Request) -> Response:
    items = "".join(f'<li><a href="/products/{i}">Product {i}</a></li>' for i in range(1, 6))
    return _page("Home", f"<ul>{items}</ul>")


async def product(request: Request) -> Response:
    pid = request.path_params["id"]
    return _page(f"Product {pid}", f"<p>Product number {pid}, oiled walnut.</p>")


async def post(request: Request) -> Response:
    slug = request.path_params["slug"]
    return _page(slug.replace("-", " ").title(), "<p>Some words about privacy.</p>")


async def search(request: Request) -> Response:
    q = request.query_params.get("q", "")[:100]
    return _page("Search", f"<form><input name=q value='{len(q)}'></form><p>No results.</p>")


def site() -> Starlette:
    return Starlette(
        routes=[
            Route("/", home),
            Route("/products/{id:int}", product),
            Route("/blog/{slug}", post),
            Route("/search", search),
        ]
    )


def count_lines(path: Path) -> int:
    total = 0
    for name in sorted(path.parent.glob(path.name + "*")):
        with name.open("rb") as fh:
            total += sum(1 for _ in fh)
    return total


@dataclass
class Variant:
    """One way of serving :func:`site`, built in its own directory."""

    name: str
    label: str
    app: ASGIApp | None = None
    missing: str = ""
    log_path: Path | None = None
    guard: BeaconGuard | None = None
    closers: list[Callable[[], None]] = field(default_factory=list)
    stats_store: str | None = None

    def check_response(self, headers: list[tuple[bytes, bytes]]) -> str:
        """'' when a response shows the variant at work (the gate dropped _fbp), else why not."""
        if self.guard is None or getattr(self.guard, "consent", None) is None:
            return ""
        cookies = [v for k, v in headers if k.lower() == b"set-cookie"]
        if not any(c.startswith(b"sessionid=") for c in cookies):
            return f"{self.name}: the necessary session cookie did not get through"
        if any(c.startswith(b"_fbp=") for c in cookies):
            return f"{self.name}: the consent gate let a denied marketing cookie through"
        return ""

    def verify(self, sent: int, pageviews: int | None = None) -> str:
        """After shutdown: '' when every request was logged and counted, else what is wrong.

        ``pageviews``: how many of the ``sent`` requests count as page views or bot visits
        (all of them unless said otherwise: every page of :func:`site` is 200 HTML).
        """
        if self.log_path is not None:
            lines = count_lines(self.log_path) if self.log_path.exists() else 0
            writer = self.guard.access_log if self.guard else None
            dropped = writer.dropped if writer is not None else 0
            if lines + dropped != sent:
                return f"{self.name}: {lines} log lines for {sent} requests"
            if dropped:
                return f"{self.name}: {dropped} of {sent} records dropped (buffer full)"
        if self.stats_store is not None:
            counted = stored_visits(self.stats_store)
            expected = sent if pageviews is None else pageviews
            if counted != expected:
                return f"{self.name}: the store counted {counted} visits, expected {expected}"
        return ""

    def close(self) -> None:
        for close in self.closers:
            close()


def stored_visits(url: str) -> int:
    """Page views plus bot visits a statistics store holds for yesterday and today."""
    from beaconguard.stats.days import day_name, day_number
    from beaconguard.stats.store import open_store

    today = day_number(time.time())
    first, last = day_name(today - 1), day_name(today)
    store = open_store(url)
    try:
        views = sum(r.pageviews for r in store.cell_rows(first, last, "", page="", value=""))
        bots = sum(row[2] for row in store.bot_rows(first, last))
    finally:
        store.close()
    return views + bots


def _guard(name: str, label: str, settings: Settings, log_path: Path | None) -> Variant:
    guard = BeaconGuard(site(), settings=settings)
    return Variant(name, label, app=guard, log_path=log_path, guard=guard, closers=[guard.close])


def _file_logger(
    name: str, path: Path, formatter: logging.Formatter
) -> tuple[logging.Logger, Callable[[], None]]:
    logger = logging.getLogger(f"benchmarks.{name}.{os.getpid()}.{id(path)}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    handler = logging.FileHandler(path)
    handler.setFormatter(formatter)
    logger.addHandler(handler)

    def close() -> None:
        logger.removeHandler(handler)
        handler.close()

    return logger, close


class UvicornAccessLog:
    """What uvicorn does per request when its access log is on, as a middleware.

    uvicorn's protocol calls ``logging.getLogger("uvicorn.access").info(...)`` with these
    exact arguments when it sends the response start, and its default config formats them
    with :class:`uvicorn.logging.AccessFormatter`. Here the call sits in a ``send`` wrapper,
    which costs one extra coroutine call per message compared to uvicorn itself.
    """

    def __init__(self, app: ASGIApp, logger: logging.Logger) -> None:
        from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

        self.app = app
        self.logger = logger
        self._client = get_client_addr
        self._target = get_path_with_query_string

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        info = self.logger.info

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                info(
                    '%s - "%s %s HTTP/%s" %d',
                    self._client(scope),  # type: ignore[arg-type]
                    scope["method"],
                    self._target(scope),  # type: ignore[arg-type]
                    scope["http_version"],
                    message["status"],
                )
            await send(message)

        await self.app(scope, receive, send_wrapper)


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def build(name: str, directory: Path, *, timed_flushes: bool = True) -> Variant:
    """Build the variant ``name`` with its files under ``directory``.

    ``timed_flushes=False``: the log writer and the statistics flush only at shutdown, so
    the work a run does does not depend on how long it took (instruction counts under
    valgrind, where a run is fifty times slower and would flush fifty times as often).
    """
    flushes: dict[str, float] = (
        {}
        if timed_flushes
        else {
            "flush_interval": 3600.0,
            "log_flush_interval": 3600.0,
        }
    )
    directory.mkdir(parents=True, exist_ok=True)
    log = directory / "access.log"
    if name == "bare":
        return Variant(name, "bare Starlette", app=site())
    if name == "access_log":
        settings = Settings(
            secret_key=(SECRET,),
            access_log=str(log),
            consent=False,
            stats=False,
            store="memory://",
            **flushes,
        )
        return _guard(name, "+ BeaconGuard access log", settings, log)
    if name == "asgi_logger":
        try:
            from asgi_logger import AccessLoggerMiddleware
        except ImportError as exc:
            return Variant(name, "+ asgi-logger", missing=f"asgi-logger not importable: {exc}")
        logger, close = _file_logger(name, log, logging.Formatter("%(message)s"))
        app: ASGIApp = AccessLoggerMiddleware(site(), logger=logger)  # type: ignore[arg-type,assignment]
        return Variant(name, "+ asgi-logger", app=app, log_path=log, closers=[close])
    if name == "uvicorn_access":
        from uvicorn.logging import AccessFormatter

        fmt = '%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'
        logger, close = _file_logger(name, log, AccessFormatter(fmt, use_colors=False))
        return Variant(
            name,
            "+ uvicorn access log",
            app=UvicornAccessLog(site(), logger),
            log_path=log,
            closers=[close],
        )
    if name in ("consent", "stats", "full"):
        label = {
            "consent": "+ BeaconGuard consent gate",
            "stats": "+ BeaconGuard statistics",
            "full": "+ BeaconGuard full stack",
        }[name]
        needs = {
            "consent": ("beaconguard.consent",),
            "stats": ("beaconguard.stats",),
            "full": ("beaconguard.consent", "beaconguard.stats"),
        }[name]
        absent = [m for m in needs if not _has(m)]
        if absent:
            return Variant(name, label, missing=f"{', '.join(absent)} not on main yet")
        store = f"sqlite:///{directory / 'stats.db'}"
        settings = Settings(
            secret_key=(SECRET,),
            access_log=str(log) if name == "full" else None,
            consent=name != "stats",
            cookie_registry=REGISTRY if name != "stats" else (),
            stats=name != "consent",
            store=store if name != "consent" else "memory://",
            **flushes,
        )
        variant = _guard(name, label, settings, log if name == "full" else None)
        if name != "consent":
            variant.stats_store = store
        return variant
    raise ValueError(f"unknown variant {name!r}")
