"""The HyperLogLog sketch used by the memory and SQLite stores."""

from __future__ import annotations

import random

import pytest

from beaconguard.stats.hll import HLL, SPARSE_MAX, count_serialized


def hashes(n: int, seed: int) -> list[int]:
    rnd = random.Random(seed)
    return [rnd.getrandbits(64) for _ in range(n)]


@pytest.mark.parametrize("n", [0, 1, 5, 10, 100, 1000, SPARSE_MAX])
def test_small_counts_are_exact_in_sparse_form(n: int) -> None:
    h = HLL()
    h.update(hashes(n, n) * 2)  # duplicates count once
    assert h.sparse is not None and h.count() == n


@pytest.mark.parametrize("n", [SPARSE_MAX + 1, 20_000, 100_000])
def test_large_counts_within_two_percent(n: int) -> None:
    h = HLL()
    h.update(hashes(n, 7))
    assert h.sparse is None
    assert abs(h.count() - n) / n < 0.02


def test_serialization_round_trips_and_counts_without_decoding() -> None:
    for n in (0, 37, 5000):
        h = HLL()
        h.update(hashes(n, 3))
        data = h.to_bytes()
        again = HLL.from_bytes(data)
        assert again.to_bytes() == data
        assert count_serialized(data) == again.count() == h.count()


def test_merge_equals_union_across_forms() -> None:
    a, b, both = HLL(), HLL(), HLL()
    xs, ys = hashes(200, 1), hashes(9000, 2)
    a.update(xs)
    b.update(ys)
    both.update(xs + ys)
    a.merge(b)  # sparse into dense
    assert a.count() == both.count()
    c = HLL()
    c.update(xs)
    d = HLL()
    d.update(hashes(100, 3))
    c.merge(d)  # sparse + sparse stays exact
    assert c.count() == 300


@pytest.mark.parametrize("junk", [None, b"", b"X123", b"S\x00\x01", b"D" + b"\x00" * 5,
                                  b"S" + b"\xff" * 8])
def test_unreadable_bytes_give_an_empty_or_smaller_sketch(junk: bytes | None) -> None:
    assert HLL.from_bytes(junk).count() <= 2
