"""Address truncation for the plain address forms, without building ``ipaddress`` objects.

A log holds one client address per line and most of them are distinct, so the full parse
(:func:`beaconguard.anonymize.ip.parse`, then :func:`~beaconguard.anonymize.ip.truncate`)
would cost more than everything else on the line. Only the two plain forms are handled
here: a dotted quad without leading zeros, and a hex-and-colons IPv6 address outside the
ranges that carry an IPv4 address. Anything else answers ``None``: the caller then runs
the full parser, so the answer is always the one ``truncate(parse(value))`` gives.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable

_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_V4 = re.compile(r"\.".join([_OCTET] * 4))
_V6 = re.compile(r"[0-9A-Fa-f:]{2,39}")
# First 16 bits of the IPv6 ranges that embed an IPv4 address (IPv4-mapped and
# IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16); Teredo 2001::/32 is
# checked on 32 bits. Those go to the full parser, which treats them as IPv4.
_EMBEDS_V4 = frozenset({0x0000, 0x0064, 0x2002})
_TEREDO = 0x20010000


def make_fast_truncate(v4_prefix: int, v6_prefix: int) -> Callable[[str], str | None]:
    """Build ``truncate(value) -> network address``, or ``None`` for "ask the full parser"."""
    v4_match = _V4.fullmatch
    v6_match = _V6.fullmatch
    v4_mask = (0xFFFFFFFF << (32 - v4_prefix)) & 0xFFFFFFFF
    v4_octets = v4_prefix // 8 if v4_prefix % 8 == 0 else -1
    v4_zeros = ("0",) * (4 - max(v4_octets, 0))
    full = (1 << 128) - 1
    v6_mask = (full << (128 - v6_prefix)) & full
    # With at least four zero hextets at the end, the longest run of zeros (the one "::"
    # stands for) is the trailing one, so the short form is the kept hextets plus "::".
    v6_hextets = v6_prefix // 16 if v6_prefix % 16 == 0 and v6_prefix <= 64 else -1
    pton = socket.inet_pton
    af6 = socket.AF_INET6
    from_bytes = int.from_bytes

    def fast_truncate(value: str) -> str | None:
        m = v4_match(value)
        if m is not None:
            if v4_octets >= 0:
                return ".".join(m.groups()[:v4_octets] + v4_zeros)
            a, b, c, d = m.groups()
            n = ((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)) & v4_mask
            return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        if v6_match(value) is None:
            return None
        try:
            n = from_bytes(pton(af6, value), "big")
        except OSError:
            return None
        if n >> 112 in _EMBEDS_V4 or n >> 96 == _TEREDO:
            return None
        n &= v6_mask
        if v6_hextets < 0:
            return str(ipaddress.IPv6Address(n))
        kept = [(n >> (112 - 16 * i)) & 0xFFFF for i in range(v6_hextets)]
        while kept and not kept[-1]:
            kept.pop()
        return ":".join(f"{h:x}" for h in kept) + "::"

    return fast_truncate
