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
import struct
from collections.abc import Callable

_OCTET = r"(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_OCTET_NC = _OCTET.replace("(", "(?:", 1)
_V4 = re.compile(r"\.".join([_OCTET] * 4))
_V6 = re.compile(r"[0-9A-Fa-f:]{2,39}")
# First 16 bits of the IPv6 ranges that embed an IPv4 address (IPv4-mapped and
# IPv4-compatible ::/96, NAT64 64:ff9b::/96, 6to4 2002::/16); Teredo 2001::/32 is
# checked on 32 bits. Those go to the full parser, which treats them as IPv4.
_EMBEDS_V4 = frozenset({b"\x00\x00", b"\x00\x64", b"\x20\x02"})
_TEREDO = b"\x20\x01\x00\x00"


def make_fast_truncate(v4_prefix: int, v6_prefix: int) -> Callable[[str], str | None]:
    """Build ``truncate(value) -> network address``, or ``None`` for "ask the full parser"."""
    v4_match = _V4.fullmatch
    v4_tail = ""
    if v4_prefix % 8 == 0:
        # A whole number of octets: one match captures the kept ones as they were written
        # ("203.0.113." of 203.0.113.7 at /24), the rest become zeros.
        k = v4_prefix // 8
        if k == 4:
            pattern = "(" + r"\.".join([_OCTET_NC] * 4) + ")"
        else:
            pattern = "(" + (_OCTET_NC + r"\.") * k + ")" + r"\.".join([_OCTET_NC] * (4 - k))
            v4_tail = ".".join(["0"] * (4 - k))
        v4_match = re.compile(pattern).fullmatch
    v6_match = _V6.fullmatch
    v4_mask = (0xFFFFFFFF << (32 - v4_prefix)) & 0xFFFFFFFF
    whole_octets = v4_prefix % 8 == 0
    full = (1 << 128) - 1
    v6_mask = (full << (128 - v6_prefix)) & full
    # With at least four zero hextets at the end, the longest run of zeros (the one "::"
    # stands for) is the trailing one, so the short form is the kept hextets plus "::".
    v6_hextets = v6_prefix // 16 if v6_prefix % 16 == 0 and v6_prefix <= 64 else -1
    hextets = struct.Struct(f">{max(v6_hextets, 0)}H").unpack_from
    v6_form = ":".join(["%x"] * max(v6_hextets, 0)) + "::"
    pton = socket.inet_pton
    af6 = socket.AF_INET6
    from_bytes = int.from_bytes

    def v6_slow(packed: bytes) -> str:
        n = from_bytes(packed, "big") & v6_mask
        if v6_hextets < 0:
            return str(ipaddress.IPv6Address(n))
        kept = list(hextets(packed))
        while kept and not kept[-1]:
            kept.pop()
        return ":".join(f"{h:x}" for h in kept) + "::"

    def fast_truncate(value: str) -> str | None:
        m = v4_match(value)
        if m is not None:
            if whole_octets:
                return m.group(1) + v4_tail
            a, b, c, d = m.groups()
            n = ((int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)) & v4_mask
            return f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
        if v6_match(value) is None:
            return None
        try:
            packed = pton(af6, value)
        except OSError:
            return None
        if packed[:2] in _EMBEDS_V4 or packed[:4] == _TEREDO:
            return None
        if v6_hextets > 0:
            kept = hextets(packed)
            if kept[-1]:
                return v6_form % kept
        return v6_slow(packed)

    return fast_truncate
