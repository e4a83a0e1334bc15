"""A MaxMind-format country database built from Debian's ``tor-geoipdb`` files.

``/usr/share/tor/geoip`` holds IPv4 ranges as ``FIRST,LAST,CC`` with the addresses as
integers; ``/usr/share/tor/geoip6`` holds ``FIRST,LAST,CC`` with IPv6 addresses. The data
is IPFire's location database (CC BY-SA 4.0). ``??`` marks ranges with no country; they
are left out.

The writer below is a small implementation of the MaxMind DB format (version 2.0): an
IPv6 search tree with the IPv4 space at ``::/96`` (where readers look IPv4 addresses up),
then the data section (one ``{"country": {"iso_code": CC}}`` map per country, shared by
every range of that country), then the metadata. Ranges arrive sorted, so the tree is built
in one pass: each new network shares its path with the previous one down to the first bit
where they differ, and only the nodes below that point are new.
"""

from __future__ import annotations

import re
import socket
import struct
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

Range = tuple[int, int, str]

_CC = re.compile(r"[A-Z]{2}")
_BITS = 128
_V4_MAX = (1 << 32) - 1
METADATA_MARKER = b"\xab\xcd\xefMaxMind.com"


class GeoIPError(ValueError):
    """A tor geoip file that cannot be read; the message names the file and line."""


# -- reading tor geoip files ------------------------------------------------------------------


def read_tor_geoip(path: str | Path, *, ipv6: bool) -> Iterator[Range]:
    """The ``(first, last, CC)`` ranges of one file, in file order, ``??`` left out.

    IPv4 ranges are returned as integers of the IPv4 space (the caller places them in
    ``::/96``); IPv6 ranges as 128-bit integers.
    """
    name = str(path)
    with open(path, encoding="ascii", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("#"):
                continue
            parts = line.strip().split(",")
            if len(parts) != 3:
                raise GeoIPError(f"{name}:{number}: expected FIRST,LAST,COUNTRY")
            first_text, last_text, cc = parts
            if cc == "??":
                continue
            if not _CC.fullmatch(cc):
                raise GeoIPError(f"{name}:{number}: {cc!r} is not a country code")
            try:
                if ipv6:
                    first = int.from_bytes(socket.inet_pton(socket.AF_INET6, first_text), "big")
                    last = int.from_bytes(socket.inet_pton(socket.AF_INET6, last_text), "big")
                else:
                    first, last = int(first_text), int(last_text)
                    if not (0 <= first <= _V4_MAX and 0 <= last <= _V4_MAX):
                        raise ValueError
            except (OSError, ValueError):
                kind = "IPv6 addresses" if ipv6 else "IPv4 addresses as integers"
                raise GeoIPError(f"{name}:{number}: expected {kind}") from None
            if last < first:
                raise GeoIPError(f"{name}:{number}: range ends before it starts")
            yield first, last, cc


def merge_ranges(ranges: Iterable[Range]) -> list[Range]:
    """Sorted, with neighbouring ranges of one country joined; overlaps are an error."""
    out: list[Range] = []
    for first, last, cc in sorted(ranges):
        if out:
            p_first, p_last, p_cc = out[-1]
            if first <= p_last:
                raise GeoIPError(f"overlapping ranges at {first:#x} ({p_cc} and {cc})")
            if p_cc == cc and p_last + 1 == first:
                out[-1] = (p_first, last, cc)
                continue
        out.append((first, last, cc))
    return out


def range_to_networks(first: int, last: int, bits: int = _BITS) -> Iterator[tuple[int, int]]:
    """The fewest ``(network, prefix length)`` blocks covering ``first..last`` exactly."""
    while first <= last:
        aligned = (first & -first).bit_length() - 1 if first else bits
        fits = (last - first + 1).bit_length() - 1
        size = min(aligned, fits)
        yield first, bits - size
        first += 1 << size


# -- MaxMind DB encoding ----------------------------------------------------------------------


def _control(type_id: int, size: int) -> bytes:
    if size < 29:
        head, extra = size, b""
    elif size < 285:
        head, extra = 29, bytes((size - 29,))
    elif size < 65821:
        head, extra = 30, (size - 285).to_bytes(2, "big")
    else:
        head, extra = 31, (size - 65821).to_bytes(3, "big")
    if type_id <= 7:
        return bytes(((type_id << 5) | head,)) + extra
    return bytes((head, type_id - 7)) + extra


def encode(value: object) -> bytes:
    """One value in the MaxMind DB data format (the types a country database needs)."""
    if isinstance(value, str):
        raw = value.encode("utf-8")
        return _control(2, len(raw)) + raw
    if isinstance(value, bool):
        return _control(14, int(value))
    if isinstance(value, int):
        if value < 0:
            raise ValueError("negative integers are not used here")
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        if value < 1 << 16:
            return _control(5, len(raw)) + raw
        if value < 1 << 32:
            return _control(6, len(raw)) + raw
        return _control(9, len(raw)) + raw
    if isinstance(value, dict):
        body = b"".join(encode(str(k)) + encode(v) for k, v in value.items())
        return _control(7, len(value)) + body
    if isinstance(value, list | tuple):
        return _control(11, len(value)) + b"".join(encode(v) for v in value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def _uint16(value: int) -> bytes:
    return _control(5, 2) + struct.pack(">H", value)


def build_mmdb(
    v4: Iterable[Range],
    v6: Iterable[Range],
    *,
    description: str = "Country database built from tor-geoipdb (IPFire location data)",
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """The bytes of a MaxMind-format country database for these ranges.

    ``progress(done, total)`` is told how many networks have been placed in the tree.
    """
    ranges = merge_ranges(list(v4))
    for _first, last, _cc in ranges:
        if last > _V4_MAX:
            raise GeoIPError("an IPv4 range goes past 255.255.255.255")
    ranges += merge_ranges(list(v6))
    networks: list[tuple[int, int, str]] = []
    for first, last, cc in ranges:
        networks.extend((net, plen, cc) for net, plen in range_to_networks(first, last))
    # IPv4 integers are the low 32 bits of ::/96, so they already sort before IPv6 (the
    # IPv6 files hold no ::/96 ranges; if one did, merge order catches the overlap below).
    networks.sort()
    _check_disjoint(networks)

    countries = sorted({cc for _, _, cc in networks})
    data = bytearray()
    offsets: dict[str, int] = {}
    for cc in countries:
        offsets[cc] = len(data)
        data += encode({"country": {"iso_code": cc}})

    node_count = _count_nodes(networks)
    if node_count + 16 + len(data) < 1 << 24:
        record_size = 24
    elif node_count + 16 + len(data) < 1 << 32:
        record_size = 32
    else:
        raise GeoIPError("too many networks for one database")
    records = array("I", [node_count]) * (2 * node_count)
    _fill_tree(records, networks, {cc: node_count + 16 + off for cc, off in offsets.items()},
               progress)

    if sys.byteorder == "little":
        records.byteswap()
    tree = records.tobytes()
    if record_size == 24:
        # Each 4-byte big-endian record loses its (zero) top byte.
        packed = bytearray(len(tree) // 4 * 3)
        packed[0::3] = tree[1::4]
        packed[1::3] = tree[2::4]
        packed[2::3] = tree[3::4]
        tree = bytes(packed)

    metadata = {
        "node_count": node_count,
        "record_size": record_size,
        "ip_version": 6,
        "database_type": "tor-geoip-Country",
        "languages": ["en"],
        "binary_format_major_version": 2,
        "binary_format_minor_version": 0,
        "build_epoch": int(time.time()),
        "description": {"en": description},
    }
    meta = _encode_metadata(metadata)
    return tree + bytes(16) + bytes(data) + METADATA_MARKER + meta


def _encode_metadata(metadata: dict[str, object]) -> bytes:
    # node_count must be uint32 and the versions uint16, whatever their size.
    parts = []
    for key, value in metadata.items():
        if key == "node_count":
            enc = _control(6, 4) + struct.pack(">I", value)
        elif key == "build_epoch":
            enc = _control(9, 8) + struct.pack(">Q", value)
        elif key in ("record_size", "ip_version", "binary_format_major_version",
                     "binary_format_minor_version"):
            enc = _uint16(int(value))  # type: ignore[call-overload]
        else:
            enc = encode(value)
        parts.append(encode(key) + enc)
    return _control(7, len(metadata)) + b"".join(parts)


def _check_disjoint(networks: list[tuple[int, int, str]]) -> None:
    end = -1
    for net, plen, cc in networks:
        if net <= end:
            raise GeoIPError(f"overlapping networks at {net:#x} ({cc})")
        end = net + (1 << (_BITS - plen)) - 1


def _count_nodes(networks: list[tuple[int, int, str]]) -> int:
    """Tree nodes needed: each network adds those below where it parts from the last one."""
    count = 1
    prev = None
    for net, plen, _ in networks:
        start = 0 if prev is None else _BITS - (net ^ prev).bit_length()
        count += plen - 1 - start
        prev = net
    return count


def _fill_tree(
    records: array[int],
    networks: list[tuple[int, int, str]],
    data_pointer: dict[str, int],
    progress: Callable[[int, int], None] | None,
) -> None:
    path = [0] * (_BITS + 1)  # path[d]: node at depth d on the previous network's path
    next_node = 1
    prev = None
    total = len(networks)
    top = _BITS - 1
    for done, (net, plen, cc) in enumerate(networks, 1):
        depth = 0 if prev is None else _BITS - (net ^ prev).bit_length()
        node = path[depth]
        while depth < plen - 1:
            slot = 2 * node + ((net >> (top - depth)) & 1)
            node = next_node
            next_node += 1
            records[slot] = node
            depth += 1
            path[depth] = node
        records[2 * node + ((net >> (top - depth)) & 1)] = data_pointer[cc]
        prev = net
        if progress is not None and not done % 65536:
            progress(done, total)
    if progress is not None:
        progress(total, total)
