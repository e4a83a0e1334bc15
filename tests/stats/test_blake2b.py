"""The C BLAKE2b (beaconguard/_blake2b.c) gives hashlib's digests, byte for byte.

The compiled path will compute the statistics' visitor hash with it, so a wrong digest
would silently split or merge visitors; hashlib is the reference throughout.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaconguard.stats.aggregator import visitor_hash

_speedups = pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")
blake2b = _speedups.blake2b

# Lengths around the 128-byte block, where the last-block and counter handling can slip.
EDGES = [0, 1, 63, 64, 65, 111, 112, 127, 128, 129, 255, 256, 257, 383, 384, 385]
DATA = bytes(range(256)) * 2


def reference(data: bytes, key: bytes, digest_size: int) -> bytes:
    return hashlib.blake2b(data, key=key, digest_size=digest_size).digest()


def test_rfc_7693_appendix_a() -> None:
    assert blake2b(b"abc", b"", 64) == bytes.fromhex(
        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
    )


@pytest.mark.parametrize("keylen", range(65))
def test_every_key_length(keylen: int) -> None:
    key = bytes(range(1, keylen + 1))
    for length in EDGES:
        for digest_size in (8, 32, 64):
            data = DATA[:length]
            assert blake2b(data, key, digest_size) == reference(data, key, digest_size)


@pytest.mark.parametrize("digest_size", range(1, 65))
def test_every_digest_size(digest_size: int) -> None:
    for key in (b"", b"\x07" * 32):
        for length in EDGES:
            data = DATA[:length]
            assert blake2b(data, key, digest_size) == reference(data, key, digest_size)


@pytest.mark.parametrize("key", [b"", b"k" * 32, b"K" * 64], ids=["unkeyed", "32", "64"])
def test_every_data_length_to_300(key: bytes) -> None:
    for length in range(301):
        data = DATA[:length]
        assert blake2b(data, key, 8) == reference(data, key, 8)
        assert blake2b(data, key, 64) == reference(data, key, 64)


@given(
    data=st.binary(max_size=1024),
    key=st.binary(max_size=64),
    digest_size=st.integers(1, 64),
)
def test_random(data: bytes, key: bytes, digest_size: int) -> None:
    assert blake2b(data, key, digest_size) == reference(data, key, digest_size)


def visitor_hash_c(key: bytes, client: object, user_agent: object, host: object) -> int:
    data = f"{client}\x00{user_agent}\x00{host}".encode("utf-8", "replace")
    return int.from_bytes(blake2b(data, key, 8), "big")


@given(
    key=st.binary(min_size=32, max_size=32),
    # Any text, lone surrogates included: the encoding's "replace" is part of the hash.
    client=st.one_of(st.none(), st.text()),
    user_agent=st.text(),
    host=st.text(),
)
def test_visitor_hash(key: bytes, client: str | None, user_agent: str, host: str) -> None:
    assert visitor_hash_c(key, client, user_agent, host) == visitor_hash(
        key, client, user_agent, host
    )


def test_visitor_hash_example() -> None:
    key = bytes(range(32))
    args = ("203.0.113.0", "Mozilla/5.0 (X11; Linux x86_64)", "example.org")
    assert visitor_hash_c(key, *args) == visitor_hash(key, *args)


def test_bytes_like_arguments() -> None:
    data, key = bytearray(b"abc"), memoryview(b"k" * 16)
    assert blake2b(data, key, 16) == reference(bytes(data), bytes(key), 16)
    assert blake2b(data=b"abc", key=b"", digest_size=8) == reference(b"abc", b"", 8)


@pytest.mark.parametrize(
    ("args", "error", "message"),
    [
        (("abc", b"", 8), TypeError, "bytes-like"),
        ((b"abc", "key", 8), TypeError, "bytes-like"),
        ((b"abc", b"", "8"), TypeError, "integer"),
        ((b"abc", b"", 8.0), TypeError, "integer"),
        ((b"abc", b"", 0), ValueError, "digest_size must be between 1 and 64, got 0"),
        ((b"abc", b"", 65), ValueError, "digest_size must be between 1 and 64, got 65"),
        ((b"abc", b"", -1), ValueError, "digest_size must be between 1 and 64, got -1"),
        ((b"abc", b"k" * 65, 8), ValueError, "key must be at most 64 bytes long, got 65"),
        ((b"abc", b""), TypeError, "digest_size"),
    ],
)
def test_bad_arguments(args: tuple[object, ...], error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        blake2b(*args)
