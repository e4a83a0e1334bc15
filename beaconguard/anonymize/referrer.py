"""Referrer processor: another site becomes scheme and host; our own site becomes its path.

``https://news.example/story?id=7`` → ``https://news.example``; a same-site referrer
``https://shop.example/users/alice@example.com/cart`` → ``/users/{email}/cart``. Query
strings and fragments are never kept. Anything that does not parse as an http(s) URL with
a plain host name becomes ``None``. A host name can carry a person too (a per-user or
per-link subdomain, ``tok9f8e7d6c5b4a39281706.example.com``): each label that looks like an
identifier becomes the path's placeholder (``https://{token}.example.com``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.anonymize.identifiers import looks_like_identifier
from beaconguard.anonymize.ip import parse as parse_ip
from beaconguard.anonymize.path import PLACEHOLDER, from_raw_target

ReferrerFilter = Callable[[str, str], str | None]

MAX_REFERRER = 2048
# Labels of 1 to 63 characters between required dots: no two ways to split a host, so
# matching stays linear (an optional dot inside a repeat let a crafted Referer backtrack
# for seconds).
_HOST = re.compile(r"[a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9][a-z0-9-]{0,62})*")


def make_referrer_filter(cache_size: int = 1024) -> ReferrerFilter:
    """:func:`anonymize_referrer` behind a bounded LRU cache (referrers repeat a lot)."""
    return bounded_cache(anonymize_referrer, cache_size, MAX_REFERRER)


def anonymize_referrer(referer: str, own_host: str) -> str | None:
    """The kept part of ``referer`` for a request to ``own_host`` (port ignored)."""
    if not referer or len(referer) > MAX_REFERRER:
        return None
    try:
        parts = urlsplit(referer)
        host = (parts.hostname or "").rstrip(".")
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not host:
        return None
    own = own_host.rsplit(":", 1)[0] if own_host.count(":") == 1 else own_host
    if host == own.lower().rstrip("."):
        return from_raw_target(parts.path or "/")
    # Only a host starting with a digit or holding a colon can be an address; the test
    # spares every named host the parser's exceptions.
    if (host[0].isdigit() or ":" in host) and parse_ip(host) is not None:
        return f"{parts.scheme}://{{ip}}"
    if len(host) > 253 or not _HOST.fullmatch(host):
        return None
    return f"{parts.scheme}://{'.'.join(_label(label) for label in host.split('.'))}"


def _label(label: str) -> str:
    kind = looks_like_identifier(label)
    return label if kind is None else PLACEHOLDER[kind]
