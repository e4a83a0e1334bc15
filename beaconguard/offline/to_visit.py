"""A parsed log line becomes a :class:`~beaconguard.visit.Visit`, as a live request would.

The point is that offline lines then go through the very pipeline the middleware uses,
built by :func:`~beaconguard.anonymize.pipeline.build_pipeline` from the same ``Settings``:
one policy covers both. The request target in a log is raw (percent-encoded, query
attached), so it is split and decoded the way an ASGI server fills ``scope["path"]`` and
``scope["query_string"]``; the client column goes through the same trusted-proxy rules as
a live peer address, with the X-Forwarded-For column standing in for the header.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from urllib.parse import unquote

from beaconguard.client import make_client_resolver
from beaconguard.offline.parse import LogLine
from beaconguard.settings import Settings
from beaconguard.visit import Visit

# What a file name says is not a page. Text logs have no content type, and the page-view
# rule counts only HTML answers, so the path's extension has to stand in for it.
_NOT_A_PAGE = re.compile(
    r"\.(?:css|m?js|map|json|xml|txt|png|jpe?g|gif|webp|avif|svg|ico|bmp|woff2?|ttf|otf|eot"
    r"|mp[34]|webm|ogg|wav|pdf|zip|gz|tar|wasm|csv|rss|atom|webmanifest)$",
    re.I,
)


def guess_content_type(path: str) -> str:
    """``text/html`` for what looks like a page (``/``, ``/about``, ``/a.html``), else ""."""
    last = path.rsplit("/", 1)[-1]
    return "" if "." in last and _NOT_A_PAGE.search(last) else "text/html"


def split_target(target: str) -> tuple[str, bytes, str]:
    """A raw request target as ``(decoded path, raw query bytes, host)``.

    ``/a%20b?x=1#f`` → ``("/a b", b"x=1", "")``. The absolute form a proxy receives
    (``http://host/a``) gives its host too. The fragment (never sent by browsers, but
    logs hold what clients send) is dropped.
    """
    host = ""
    if target[:1] != "/" and "://" in target[:10]:
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        host, target = (rest, "/") if slash < 0 else (rest[:slash], rest[slash:])
        host = host.rsplit("@", 1)[-1]  # never keep userinfo
    path, sep, query = target.partition("?")
    if "#" in path:
        path = path.split("#", 1)[0]
        query = ""
    elif sep and "#" in query:
        query = query.split("#", 1)[0]
    return unquote(path, errors="replace"), query.encode("latin-1", "replace"), host


def _target(target: str) -> tuple[str, bytes, str, str]:
    path, query, host = split_target(target)
    return path, query, host, guess_content_type(path)


def make_converter(settings: Settings, *, site_host: str = "") -> Callable[[LogLine], Visit]:
    """Build ``to_visit(line) -> Visit``.

    ``site_host`` is the host the log belongs to when the lines do not say (combined logs
    have no host column); the referrer processor needs it to tell the site's own pages
    from other sites.
    """
    resolve = make_client_resolver(settings.trusted_proxies)
    default_host = site_host.lower()
    # Logs repeat their request targets; bounded like the pipeline's own caches.
    targets = lru_cache(maxsize=settings.ua_cache_size)(_target)

    def to_visit(line: LogLine) -> Visit:
        path, query, target_host, content_type = targets(line.target)
        client = line.client
        return Visit(
            time=line.time,
            method=line.method,
            host=line.host or target_host or default_host,
            path=path,
            query=query,
            client=resolve(None if client == "-" else client, line.forwarded_for, None),
            user_agent=line.user_agent,
            referer=line.referer,
            status=line.status,
            bytes_sent=line.bytes_sent,
            duration_ms=line.duration_ms,
            content_type=line.content_type or content_type,
        )

    return to_visit
