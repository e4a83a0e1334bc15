"""Shapes of identifiers, compiled once and shared by the path, query and audit code.

These decide what *looks like* an identifier. They err towards calling things identifiers:
a false positive costs a less specific page name, a false negative leaks a person.
"""

from __future__ import annotations

import ipaddress
import re

EMAIL = re.compile(r"[^\s@/]+@[^\s@/]+\.[^\s@/]+")
UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
HEX = re.compile(r"[0-9a-fA-F]{16,}")
# A long run of token characters with at least one digit and one letter: API keys,
# session ids, base64 blobs. Plain long words (slugs) have no digits and survive.
TOKEN = re.compile(
    r"(?=[A-Za-z0-9_\-+/=~.]*\d)(?=[A-Za-z0-9_\-+/=~.]*[A-Za-z])[A-Za-z0-9_\-+/=~.]{20,}"
)
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
    if TOKEN.fullmatch(value) or (len(value) >= 20 and TOKEN.search(value)):
        return "token"
    if ":" in value and _is_ipv6(value):
        return "ip"
    if IPV4.search(value):
        return "ip"
    if len(DIGITS.findall(value)) > MAX_DIGITS:
        return "number"
    return None


def _is_ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True
