"""The anonymize pipeline: a plain loop over small steps, each with one job.

Each step reads the raw :class:`~beaconguard.visit.Visit` and writes the fields it is
responsible for into the record. The record starts empty: a field appears in the output
only because a step put it there (an allowlist, not a blocklist). Options are decided once,
in :func:`build_pipeline`, and baked into the steps' closures.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable, Sequence
from typing import Any

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.anonymize.geo import make_country_lookup
from beaconguard.anonymize.identifiers import looks_like_identifier
from beaconguard.anonymize.ip import make_ip_filter
from beaconguard.anonymize.path import MAX_PATH, anonymize_path, route_path
from beaconguard.anonymize.query import make_query_filter
from beaconguard.anonymize.referrer import make_referrer_filter
from beaconguard.anonymize.useragent import make_classifier
from beaconguard.settings import Settings
from beaconguard.visit import Visit

Record = dict[str, Any]
Step = Callable[[Visit, Record], None]

#: Headers that identify a person or a session: never logged, whatever ``log_headers`` says.
NEVER_LOGGED = frozenset(
    {"cookie", "set-cookie", "authorization", "proxy-authorization", "x-forwarded-for",
     "forwarded", "x-real-ip", "user-agent", "referer", "x-api-key", "x-csrf-token"}
)

_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE",
                      "CONNECT"})
_HOST = re.compile(r"[a-z0-9.-]{1,253}(?::\d{1,5})?|\[[0-9a-f:.]{2,45}\](?::\d{1,5})?")
MAX_HEADER_VALUE = 200
#: A host name (253) with a port, or a bracketed IPv6 literal with one.
MAX_HOST = 262


class Pipeline:
    """Turns a raw ``Visit`` into an anonymized record (a plain dict ready for a sink)."""

    __slots__ = ("steps",)

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = tuple(steps)

    def __call__(self, visit: Visit) -> Record:
        record: Record = {}
        for step in self.steps:
            step(visit, record)
        return record


def time_step() -> Step:
    """``time``: UTC, second precision; formatted once per second, not once per request."""
    last: list[Any] = [-1, ""]

    def step(visit: Visit, record: Record) -> None:
        second = int(visit.time)
        if second != last[0]:
            last[0] = second
            last[1] = _time.strftime("%Y-%m-%dT%H:%M:%SZ", _time.gmtime(second))
        record["time"] = last[1]

    return step


def clean_host(host: str) -> str | None:
    """The request's host, lower-cased, or None when it is not a plausible host name."""
    host = host.lower()
    return host if _HOST.fullmatch(host) else None


def request_step() -> Step:
    """``method``, ``host``, ``status``, ``bytes``, ``duration_ms``: facts about our side."""
    host_of = bounded_cache(clean_host, 256, MAX_HOST)

    def step(visit: Visit, record: Record) -> None:
        record["method"] = visit.method if visit.method in _METHODS else "OTHER"
        record["host"] = host_of(visit.host)
        record["status"] = visit.status
        record["bytes"] = visit.bytes_sent
        record["duration_ms"] = round(visit.duration_ms, 2)

    return step


def path_step(cache_size: int = 4096) -> Step:
    """``path``: the route template, or the path with identifier segments replaced."""
    # Bounded, per pipeline: 404s, mounts and offline logs have no template, and the same
    # paths come back again and again.
    anonymize = bounded_cache(anonymize_path, cache_size, MAX_PATH)

    def step(visit: Visit, record: Record) -> None:
        if visit.route is None:
            record["path"] = anonymize(visit.path)
        else:
            record["path"] = route_path(visit.route, visit.root_path, visit.path)

    return step


def query_step(settings: Settings) -> Step:
    """``query``: allowlisted parameters only."""
    query_filter = make_query_filter(settings.query_allowlist, settings.query_mode)

    def step(visit: Visit, record: Record) -> None:
        record["query"] = query_filter(visit.query)

    return step


def client_step(settings: Settings) -> Step:
    """``client``: the address truncated, pseudonymized or dropped."""
    secret = settings.signing_key if settings.ip_mode == "hash" else None
    ip_filter = make_ip_filter(
        settings.ip_mode,
        v4_prefix=settings.ipv4_prefix,
        v6_prefix=settings.ipv6_prefix,
        secret=secret,
        cache_size=settings.ua_cache_size,
    )

    def step(visit: Visit, record: Record) -> None:
        record["client"] = ip_filter(visit.client, visit.time)

    return step


def geo_step(settings: Settings) -> Step:
    """``country``: from the full address, which never leaves this step."""
    lookup = make_country_lookup(settings.geoip_db)

    def step(visit: Visit, record: Record) -> None:
        record["country"] = lookup(visit.client)

    return step


def useragent_step(settings: Settings) -> Step:
    """``browser``, ``browser_version``, ``os``, ``device``, ``is_bot``, ``bot_reason``."""
    classify = make_classifier(settings.ua_cache_size)

    def step(visit: Visit, record: Record) -> None:
        info = classify(visit.user_agent)
        record["browser"] = info.browser
        record["browser_version"] = info.browser_version
        record["os"] = info.os
        record["device"] = info.device
        record["is_bot"] = info.is_bot
        record["bot_reason"] = info.bot_reason

    return step


def referrer_step(settings: Settings) -> Step:
    """``referrer``: another site's scheme and host, or our own site's anonymized path."""
    referrer_filter = make_referrer_filter(settings.ua_cache_size)

    def step(visit: Visit, record: Record) -> None:
        referer = visit.referer
        record["referrer"] = referrer_filter(referer, visit.host) if referer else None

    return step


def headers_step(names: Sequence[str]) -> Step:
    """``headers``: the explicitly allowed extra headers, values scrubbed and capped."""
    wanted = tuple(names)

    def step(visit: Visit, record: Record) -> None:
        out = {}
        for name in wanted:
            value = visit.headers.get(name)
            if value is None:
                continue
            if len(value) > MAX_HEADER_VALUE or not value.isprintable():
                out[name] = "{invalid}"
            elif looks_like_identifier(value) is not None:
                out[name] = "{redacted}"
            else:
                out[name] = value
        record["headers"] = out

    return step


def build_pipeline(settings: Settings) -> Pipeline:
    """The pipeline ``settings`` describe; the same one serves live and offline logs."""
    forbidden = sorted(set(settings.log_headers) & NEVER_LOGGED)
    if forbidden:
        raise ValueError(
            f"log_headers: {', '.join(forbidden)} identify visitors and are never logged"
        )
    steps: list[Step] = [
        time_step(),
        request_step(),
        path_step(settings.ua_cache_size),
        query_step(settings),
        client_step(settings),
        geo_step(settings),
        useragent_step(settings),
        referrer_step(settings),
    ]
    if settings.log_headers:
        steps.append(headers_step(settings.log_headers))
    return Pipeline(steps)
