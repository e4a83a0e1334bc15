"""The dashboard as an ASGI app: mount it anywhere, e.g. ``Mount("/stats", Dashboard(...))``.

Protection: by default it asks for the report token, as the password of HTTP Basic auth
(browsers prompt for it, no login page or cookie needed) or as a bearer token. Pass
``protect=False`` only when it sits behind your own authentication. Either way every
number comes from the same report queries as the CLI and the API, with the same
k-threshold.
"""

from __future__ import annotations

import datetime as _dt
import logging
from collections.abc import Sequence
from html import escape
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from beaconguard.reports.auth import TokenCheck, Verdict, authorization_header
from beaconguard.reports.page import CSP, DashboardView, render_dashboard
from beaconguard.reports.params import without_dashes
from beaconguard.settings import Settings
from beaconguard.stats.query import (
    ReportQuery,
    bot_counts,
    consent_counts,
    daily_series,
    parse_period,
    run_report,
)
from beaconguard.stats.store import open_store
from beaconguard.stats.store.base import Store

log = logging.getLogger("beaconguard.reports")

#: (heading, dimension) of the table cards, in page order.
SECTIONS: tuple[tuple[str, str], ...] = (
    ("Top pages", "page"),
    ("Referrers", "referrer"),
    ("Countries", "country"),
    ("Browsers", "browser"),
    ("Devices", "device"),
)
DEFAULT_SINCE = "30d"
ROWS_PER_CARD = 10
_PARAMS = ("since", "from", "to")


def collect(
    store: Store,
    settings: Settings,
    start: _dt.date,
    end: _dt.date,
    *,
    since: str | None = None,
    sections: Sequence[tuple[str, str]] = SECTIONS,
    title: str = "Statistics",
) -> DashboardView:
    """Run every query the page needs (blocking: call it off the event loop)."""
    secret = settings.signing_key if settings.noise_epsilon is not None else None
    k, eps = settings.min_visitors, settings.noise_epsilon
    reports = [
        (
            heading,
            dim,
            run_report(
                store,
                ReportQuery(start, end, by=dim, top=ROWS_PER_CARD, min_visitors=k,
                            noise_epsilon=eps),
                secret=secret,
            ),
        )
        for heading, dim in sections
    ]
    totals = (
        reports[0][2]["totals"]
        if reports
        else run_report(store, ReportQuery(start, end, min_visitors=k, noise_epsilon=eps),
                        secret=secret)["totals"]
    )
    return DashboardView(
        start=start.isoformat(),
        end=end.isoformat(),
        min_visitors=k,
        noise_epsilon=eps,
        totals=totals,
        # The same k and noise as the reports: the days must not add up to a withheld total.
        series=daily_series(store, start, end, min_visitors=k, noise_epsilon=eps,
                            secret=secret),
        sections=reports,
        consent=consent_counts(store, start, end),
        bots=bot_counts(store, start, end),
        since=since,
        title=title,
    )


class Dashboard:
    """The statistics dashboard page (GET/HEAD on the mount's root)."""

    def __init__(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        protect: bool = True,
        title: str = "Statistics",
    ) -> None:
        self.settings = settings
        self.title = title
        self._check: TokenCheck | None = None
        if protect:
            if settings.report_token is None:
                raise ValueError(
                    "report_token: the dashboard is protected by the report token; set "
                    "BEACONGUARD_REPORT_TOKEN, or pass protect=False if it sits behind "
                    "your own authentication"
                )
            self._check = TokenCheck(settings.report_token, allow_basic=True)
        self._own_store = store is None
        # Its own store only reads: an SQLite file is opened read-only and must exist.
        self.store: Store = (
            store if store is not None else open_store(settings.store, read_only=True)
        )

    def close(self) -> None:
        """Close the store if the dashboard opened it."""
        if self._own_store:
            self.store.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        method = scope.get("method", "GET")
        head = method == "HEAD"
        # One page: the mount's root.
        if _route_path(scope) not in ("", "/"):
            await _page(send, 404, _message("Not found", "No such page."), head)
            return
        if method not in ("GET", "HEAD"):
            await _page(send, 405, _message("Method not allowed", "Use GET."), head,
                        ((b"allow", b"GET, HEAD"),))
            return
        if self._check is not None:
            verdict = self._check(authorization_header(scope.get("headers", [])))
            if verdict is not Verdict.OK:
                # 401 for wrong credentials too: a browser only asks again after a 401.
                await _page(
                    send, 401,
                    _message("Sign in", "The dashboard needs the report token as password."),
                    head, ((b"www-authenticate",
                            b'Basic realm="beaconguard statistics", charset="UTF-8"'),),
                )
                return
        try:
            since, start, end = self._period(scope.get("query_string", b""))
        except (ValueError, UnicodeDecodeError) as exc:
            await _page(send, 400, _message("Bad request", without_dashes(str(exc))[:300]), head)
            return
        try:
            view = await run_in_threadpool(
                collect, self.store, self.settings, start, end, since=since, title=self.title
            )
        except Exception:
            log.exception("dashboard queries failed")
            await _page(send, 503, _message("Unavailable", "The statistics store did not "
                                            "answer; try again shortly."), head)
            return
        await _page(send, 200, render_dashboard(view), head)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        # Served on its own (not under a Mount), it owns its store's lifetime.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _period(raw: bytes) -> tuple[str | None, _dt.date, _dt.date]:
        if len(raw) > 512:
            raise ValueError("query string too long")
        values: dict[str, str] = {}
        for name, value in parse_qsl(raw.decode("utf-8"), keep_blank_values=True):
            if name not in _PARAMS:
                raise ValueError(f"unknown parameter {name[:40]!r}; use since, or from and to")
            if name in values:
                raise ValueError(f"{name}: given more than once")
            values[name] = value
        since = values.get("since")
        if since is None and "from" not in values and "to" not in values:
            since = DEFAULT_SINCE
        start, end = parse_period(since, values.get("from"), values.get("to"))
        return since, start, end


def _route_path(scope: Scope) -> str:
    """The path below the mount point.

    Under a Starlette Mount, ``root_path`` is the app's root path plus the mount's own
    (``app_root_path`` holds the former); ``path`` is the full path, or, behind a server
    or test client that leaves the app's root path out of it, the path below the app's
    root. A path under neither prefix is taken as already relative (a server that strips
    the root path). Slicing blindly would turn ``/stats/x`` under ``/app/stats`` into
    ``""``: the dashboard's root.
    """
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    app_root: str = scope.get("app_root_path", "")
    prefixes = [root]
    if app_root and root.startswith(app_root):
        prefixes.append(root[len(app_root):])  # the mount's own path
    for prefix in prefixes:
        if prefix and path.startswith(prefix):
            rest = path[len(prefix):]
            if rest == "" or rest.startswith("/"):
                return rest
    return path


def _message(title: str, text: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(title)}</title></head><body><h1>{escape(title)}</h1>"
        f"<p>{escape(text)}</p></body></html>"
    )


async def _page(
    send: Send,
    status: int,
    html: str,
    head: bool = False,
    extra: tuple[tuple[bytes, bytes], ...] = (),
) -> None:
    body = html.encode()
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"content-security-policy", CSP.encode()),
        (b"cache-control", b"no-store"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-content-type-options", b"nosniff"),
        (b"x-robots-tag", b"noindex"),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
