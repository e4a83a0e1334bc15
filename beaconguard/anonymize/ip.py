"""IP processor: truncate to a network prefix, replace with a keyed daily pseudonym, or drop.

Fails closed: a value that does not parse as an IP address becomes ``None``, never itself.
IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, 6to4 ``2002::/16``,
Teredo ``2001::/32``, NAT64 ``64:ff9b::/96``, IPv4-compatible ``::a.b.c.d``) are treated as
the IPv4 inside, so that the IPv4 prefix rule applies to them too.

Hash mode never uses an unkeyed hash: 2^32 IPv4 addresses can be enumerated in minutes.
The key is derived from the secret and the UTC day, so every worker and host sharing the
secret gives the same pseudonym on the same day, and a different one the next day.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Callable

from beaconguard.anonymize.cache import bounded_cache

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPAT = ipaddress.ip_network("::/96")

IPFilter = Callable[[str | None, float], str | None]
#: Longer than any address with brackets, zone id and port: refused, never cached.
MAX_ADDRESS = 64


def parse(value: str | None) -> IPAddress | None:
    """Parse an address (brackets, zone ids and embedded IPv4 handled); ``None`` if invalid."""
    if not value or len(value) > MAX_ADDRESS:
        return None
    text = value.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    text = text.split("%", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        return embedded_ipv4(ip) or ip
    return ip


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 transition form carries, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _V4_COMPAT and int(ip) > 0xFFFF:
        # ::a.b.c.d (deprecated IPv4-compatible); "::" and "::1" are not IPv4 in disguise.
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def truncate(ip: IPAddress, v4_prefix: int = 24, v6_prefix: int = 48) -> str:
    """The network address of ``ip`` at the configured prefix, e.g. ``203.0.113.0``."""
    if isinstance(ip, ipaddress.IPv4Address):
        mask = (0xFFFFFFFF << (32 - v4_prefix)) & 0xFFFFFFFF
        return str(ipaddress.IPv4Address(int(ip) & mask))
    mask6 = ((1 << 128) - 1) << (128 - v6_prefix) & ((1 << 128) - 1)
    return str(ipaddress.IPv6Address(int(ip) & mask6))


def day_key(secret: bytes, day: int, purpose: bytes = b"ip-pseudonym") -> bytes:
    """A 32-byte key for one UTC day (days since the epoch), derived from the secret."""
    return hmac.new(secret, purpose + b":" + str(day).encode(), hashlib.sha256).digest()


def pseudonym(ip: IPAddress, key: bytes) -> str:
    """A keyed BLAKE2b pseudonym of an address: 16 hex characters."""
    return hashlib.blake2b(ip.packed, key=key, digest_size=8).hexdigest()


def make_ip_filter(
    mode: str,
    *,
    v4_prefix: int = 24,
    v6_prefix: int = 48,
    secret: bytes | None = None,
    cache_size: int = 4096,
) -> IPFilter:
    """Build ``filter(raw_address, unix_time) -> anonymized address or None``.

    The mode is decided here, once: each mode gets its own closure, so a request pays
    for exactly the work its mode needs.
    """
    if mode == "drop":

        def drop(value: str | None, when: float) -> str | None:
            return None

        return drop

    if mode == "truncate":

        def truncate_one(value: str) -> str | None:
            ip = parse(value)
            return None if ip is None else truncate(ip, v4_prefix, v6_prefix)

        truncate_cached = bounded_cache(truncate_one, cache_size, MAX_ADDRESS)

        def truncate_filter(value: str | None, when: float) -> str | None:
            return None if value is None else truncate_cached(value)

        return truncate_filter

    if mode == "hash":
        if not secret:
            raise ValueError("ip_mode='hash' needs a secret_key: no unkeyed hash of an IP, ever")
        current: list[object] = [None, b""]

        def hash_filter(value: str | None, when: float) -> str | None:
            ip = parse(value)
            if ip is None:
                return None
            day = int(when // 86400)
            if current[0] != day:
                current[0], current[1] = day, day_key(secret, day)
            return pseudonym(ip, current[1])  # type: ignore[arg-type]

        return hash_filter

    raise ValueError(f"ip_mode: {mode!r} is not one of 'truncate', 'hash', 'drop'")
