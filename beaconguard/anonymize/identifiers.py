"""Shapes of identifiers, compiled once and shared by the path, query and audit code.

These decide what *looks like* an identifier. They err towards calling things identifiers:
a false positive costs a less specific page name, a false negative leaks a person.
"""

from __future__ import annotations

import ipaddress
import re

# Starting only where a run of address characters starts: the same matches, but a long
# run before an "@" is tried once, not once per character (that was quadratic).
EMAIL = re.compile(r"(?<![^\s@/])[^\s@/]+@[^\s@/]+\.[^\s@/]+")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
HEX = re.compile(r"[0-9a-fA-F]{16,}")
# A long run of token characters with at least one digit and one letter: API keys,
# session ids, base64 blobs. Plain long words (slugs) have no digits and survive.
TOKEN = re.compile(
    r"(?=[A-Za-z0-9_\-+/=~.]*\d)(?=[A-Za-z0-9_\-+/=~.]*[A-Za-z])[A-Za-z0-9_\-+/=~.]{20,}"
)
# TOKEN.search re-runs its lookaheads from every position of a run (quadratic on a 4 KB
# path); a string holds such a token exactly when one of its maximal runs of 20 or more
# token characters holds a digit and a letter, which these find in one pass.
_TOKEN_RUN = re.compile(r"(?<![A-Za-z0-9_\-+/=~.])[A-Za-z0-9_\-+/=~.]{20,}")
_LETTER = re.compile(r"[A-Za-z]")
DIGITS = re.compile(r"\d")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
PHONE = re.compile(r"\+?\d[\d\s().-]{7,}\d")

#: More than this many digits in one segment or value and it is treated as an identifier
#: (order numbers, phone numbers, account numbers, timestamps).
MAX_DIGITS = 5


def looks_like_identifier(value: str) -> str | None:
    """The kind of identifier ``value`` looks like (``"email"``, ``"uuid"``, ...), or None."""
    if "@" in value:
        # An address, or a handle (@alice): either names a person.
        return "email" if EMAIL.search(value) else "handle"
    if JWT.search(value):
        return "jwt"
    if UUID.search(value):
        return "uuid"
    if HEX.search(value):
        return "hex"
    if len(value) >= 20 and has_token(value):
        return "token"
    if ":" in value and _is_ipv6(value):
        return "ip"
    if IPV4.search(value):
        return "ip"
    if len(DIGITS.findall(value)) > MAX_DIGITS:
        return "number"
    return None


def has_token(value: str) -> bool:
    """Whether ``value`` holds a :data:`TOKEN` (what ``TOKEN.search`` answers, in linear
    time)."""
    return any(
        DIGITS.search(run) and _LETTER.search(run) for run in _TOKEN_RUN.findall(value)
    )


def _is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True
