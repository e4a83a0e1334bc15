"""Which address is the client: trusted-proxy resolution.

``X-Forwarded-For`` and RFC 7239 ``Forwarded`` are believed only when the direct peer is a
configured trusted proxy, because anyone can send those headers. The chain is read from
the right (the hop nearest to us) and the first address that is not itself a trusted proxy
is the client.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _strip_port(value: str) -> str:
    """``"[2001:db8::1]:443"`` → ``"2001:db8::1"``, ``"1.2.3.4:80"`` → ``"1.2.3.4"``."""
    value = value.strip().strip('"')
    if value.startswith("["):
        end = value.find("]")
        return value[1:end] if end > 0 else value
    if value.count(":") == 1:
        return value.split(":", 1)[0]
    return value


def parse_forwarded(header: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, leftmost first."""
    out = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, sep, value = pair.partition("=")
            if sep and name.strip().lower() == "for":
                out.append(_strip_port(value))
    return out


def parse_x_forwarded_for(header: str) -> list[str]:
    """The addresses of an ``X-Forwarded-For`` header, leftmost first."""
    return [_strip_port(part) for part in header.split(",") if part.strip()]


def make_client_resolver(
    trusted: Iterable[str], cache_size: int = 1024
) -> Callable[[str | None, str | None, str | None], str | None]:
    """Build ``resolve(peer, x_forwarded_for, forwarded) -> client address``.

    With no trusted proxies the peer is always the client and the headers are ignored
    without being parsed. The returned address is raw: the anonymize pipeline decides
    what of it is kept.
    """
    networks: tuple[Network, ...] = tuple(ipaddress.ip_network(t, strict=False) for t in trusted)

    if not networks:

        def resolve_direct(
            peer: str | None, xff: str | None, forwarded: str | None
        ) -> str | None:
            return peer

        return resolve_direct

    @lru_cache(maxsize=cache_size)
    def is_trusted(addr: str) -> bool:
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return any(ip in net for net in networks)

    def resolve(peer: str | None, xff: str | None, forwarded: str | None) -> str | None:
        if peer is None or not is_trusted(peer):
            return peer
        if forwarded:
            chain = parse_forwarded(forwarded)
        elif xff:
            chain = parse_x_forwarded_for(xff)
        else:
            return peer
        for hop in reversed(chain):
            if not is_trusted(hop):
                return hop
        # Every hop is a trusted proxy: the leftmost one is the closest to a client we have.
        return chain[0] if chain else peer

    return resolve
