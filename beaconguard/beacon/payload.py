"""Validating what a beacon reports, and anonymizing it like any request.

A beacon names a page URL, a referrer, optionally an event and a few allowlisted
properties. Each field is checked strictly; anything unexpected rejects the whole beacon
with a short reason (a 4xx, never a 500, and nothing counted). What is accepted goes
through the same processors as a request: the URL becomes an anonymized path and
allowlisted query, the referrer a host (or own-site path), property values that look like
identifiers are redacted.

Event names are labels the site chooses (``signup``, ``video_play``), so one that looks like
an identifier (``user.8812345``, ``tok9f8e...``: the same
:func:`~beaconguard.anonymize.identifiers.looks_like_identifier` the path and query use)
is a bug in the page that would put a person into the statistics. Such a beacon is
refused with a 400 naming the problem, so the bug shows in the browser's network panel,
rather than counted under a placeholder that would hide it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from beaconguard.anonymize.identifiers import looks_like_identifier
from beaconguard.anonymize.path import from_raw_target
from beaconguard.anonymize.query import REDACTED, make_query_filter, scrub_value
from beaconguard.anonymize.referrer import anonymize_referrer
from beaconguard.settings import Settings

MAX_BODY = 4096
MAX_URL = 2048
MAX_PROPS = 8
MAX_PROP_VALUE = 100
FIELDS = frozenset({"u", "r", "e", "p"})
EVENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")

Payload = dict[str, Any]


class BeaconError(ValueError):
    """A beacon that is not counted; ``status`` and the message are the answer."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.status = status


def check_event_name(name: object, field: str = "e") -> str:
    """``name`` when it is a usable event name; BeaconError naming ``field`` otherwise."""
    if not isinstance(name, str) or not EVENT.fullmatch(name):
        raise BeaconError(f"field {field!r} must be an event name: letters, digits, _ . : - (64)")
    kind = looks_like_identifier(name)
    if kind is not None:
        raise BeaconError(
            f"field {field!r} looks like an identifier ({kind}); event names must be fixed labels"
        )
    return name


def hostname(host_header: str) -> str:
    """The lower-cased host of a ``Host`` header, without the port."""
    host = host_header.lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def make_validator(settings: Settings) -> Callable[[Mapping[str, Any], str], Payload]:
    """Build ``validate(fields, request_host) -> anonymized payload`` (or BeaconError)."""
    query_filter = make_query_filter(settings.query_allowlist, "drop")
    extra_hosts = frozenset(settings.beacon_hosts)
    props_allowed = frozenset(settings.beacon_props)

    def validate(fields: Mapping[str, Any], request_host: str) -> Payload:
        unknown = sorted(set(fields) - FIELDS)
        if unknown:
            raise BeaconError(f"unknown field {unknown[0][:20]!r}; expected u, r, e, p")
        url = fields.get("u")
        if not isinstance(url, str) or not url:
            raise BeaconError("field 'u' (the page URL) is required and must be a string")
        if len(url) > MAX_URL or not url.isprintable():
            raise BeaconError("field 'u' is not a plausible URL")
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError:
            raise BeaconError("field 'u' is not a URL") from None
        if parts.scheme not in ("http", "https") or not host:
            raise BeaconError("field 'u' must be an http(s) URL")
        own = hostname(request_host)
        if host != own and host not in extra_hosts:
            raise BeaconError("field 'u' is not a page of this site", 403)
        ref = fields.get("r")
        if ref is not None and (not isinstance(ref, str) or len(ref) > MAX_URL):
            raise BeaconError("field 'r' (the referrer) must be a string URL or null")
        event = fields.get("e")
        if event is not None:
            event = check_event_name(event)
        props = fields.get("p")
        kept: dict[str, Any] = {}
        if props is not None:
            if event is None:
                raise BeaconError("field 'p' (properties) needs an event 'e'")
            if not isinstance(props, dict) or len(props) > MAX_PROPS:
                raise BeaconError(f"field 'p' must be an object of at most {MAX_PROPS} entries")
            for name, value in props.items():
                if name not in props_allowed:
                    raise BeaconError(f"property {str(name)[:32]!r} is not in beacon_props")
                kept[name] = _prop_value(name, value)
        raw_query = parts.query.encode("latin-1", "replace")
        return {
            "page": from_raw_target(parts.path or "/"),
            "query": query_filter(raw_query) if raw_query else None,
            "referrer": anonymize_referrer(ref, request_host) if ref else None,
            "event": event,
            "props": kept,
        }

    return validate


def _prop_value(name: str, value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and math.isfinite(value):
        # A number can be an identifier too (a phone or account number).
        return scrub_value(str(value)[:MAX_PROP_VALUE])
    if isinstance(value, str):
        if len(value) > MAX_PROP_VALUE or not value.isprintable():
            return REDACTED
        return scrub_value(value)
    raise BeaconError(f"property {name!r} must be a string, number or boolean")
