"""Path processor: the route template when the router knows one, placeholders otherwise.

``/products/8812`` served by the route ``/products/{id}`` is logged as ``/products/{id}``.
Without a template, each segment that looks like an identifier (digit runs, UUIDs, long
hex or base64 tokens, emails, JWTs, IP addresses) becomes a placeholder such as ``{int}``.
Segments that are not valid text or are absurdly long become placeholders too: this
processor never passes through what it cannot read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

from beaconguard.anonymize.identifiers import looks_like_identifier

PathFilter = Callable[[str], str]

MAX_PATH = 2048
MAX_SEGMENT = 64
# Long enough for a JWT to be named as one; past this a segment is only "{long}".
MAX_SCANNED = 1024
_INT = re.compile(r"\d+")
_SAFE = re.compile(r"[A-Za-z0-9._~!$&'()*+,;=:%@ -]*")
#: The placeholder for each kind of identifier (shared with the referrer host).
PLACEHOLDER = {
    "email": "{email}",
    "handle": "{handle}",
    "jwt": "{jwt}",
    "uuid": "{uuid}",
    "hex": "{hex}",
    "token": "{token}",
    "ip": "{ip}",
    "number": "{id}",
}


def anonymize_segment(segment: str) -> str:
    """One path segment, kept as is or replaced by a placeholder."""
    if not segment:
        return segment
    if len(segment) > MAX_SCANNED:
        return "{long}"
    if _INT.fullmatch(segment):
        return "{int}"
    if not segment.isprintable() or "\ufffd" in segment or not _SAFE.fullmatch(segment):
        return "{invalid}"
    kind = looks_like_identifier(segment)
    if kind is not None:
        return PLACEHOLDER[kind]
    return "{long}" if len(segment) > MAX_SEGMENT else segment


def anonymize_path(path: str, segment: Callable[[str], str] = anonymize_segment) -> str:
    """A whole path, segment by segment; ``/{invalid}`` when it is not a path at all.

    ``segment`` is :func:`anonymize_segment`, or a cached form of it (the offline tool's).
    """
    if not path.startswith("/") or len(path) > MAX_PATH:
        return "/{invalid}"
    return "/".join(segment(s) for s in path.split("/"))


def from_raw_target(target: str) -> str:
    """The anonymized path of a raw request target as logs hold it (percent-encoded)."""
    path = target.split("?", 1)[0].split("#", 1)[0]
    return anonymize_path(unquote(path, errors="replace"))


def route_path(template: str | None, root_path: str, path: str) -> str:
    """The path to log: the router's template (under its anonymized mount) or the path."""
    if template is None:
        return anonymize_path(path)
    if root_path:
        return anonymize_path(root_path) + template
    return template
