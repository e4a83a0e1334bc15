"""The report token check shared by the JSON API and the dashboard.

The token travels as ``Authorization: Bearer <token>`` (scripts) or as the password of
HTTP Basic auth (browsers prompt for it natively, so the dashboard needs no login form,
no cookie and no JavaScript). Either way the comparison is constant-time.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from enum import Enum


class Verdict(Enum):
    """What a request's credentials amount to."""

    OK = "ok"
    MISSING = "missing"  # -> 401: say how to authenticate
    WRONG = "wrong"  # -> 403: credentials given, and they are not the token


class TokenCheck:
    """Checks the ``Authorization`` header against one configured token."""

    __slots__ = ("_allow_basic", "_token")

    def __init__(self, token: str, *, allow_basic: bool = False) -> None:
        if not token:
            raise ValueError("report_token: an empty token would let anyone in; leave it unset")
        self._token = token.encode()
        self._allow_basic = allow_basic

    def __call__(self, authorization: str | None) -> Verdict:
        if not authorization:
            return Verdict.MISSING
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            given = value.strip().encode("latin-1", "replace")
        elif scheme == "basic" and self._allow_basic:
            try:
                decoded = base64.b64decode(value.strip(), validate=True)
            except (binascii.Error, ValueError):
                return Verdict.WRONG
            given = decoded.partition(b":")[2]
        else:
            return Verdict.MISSING
        # compare_digest on bytes: the time taken does not depend on where they differ.
        return Verdict.OK if hmac.compare_digest(given, self._token) else Verdict.WRONG


def authorization_header(scope_headers: list[tuple[bytes, bytes]]) -> str | None:
    """The request's ``Authorization`` header from raw ASGI headers, if any."""
    for name, value in scope_headers:
        if name == b"authorization":
            return value.decode("latin-1")
    return None
