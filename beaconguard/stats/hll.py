"""HyperLogLog for daily unique visitors, mergeable across processes.

Inputs are already 64-bit keyed hashes (see
:func:`beaconguard.stats.aggregator.visitor_hash`, keyed by the day key), so the
sketch only splits them: the top ``P`` bits pick a register, the rank of the first set bit
in the rest is the register's value. Precision 14 (16384 registers, like Redis) gives a
standard error of about 0.8%.

The estimate uses Ertl's improved estimator ("New cardinality estimation algorithms for
HyperLogLog sketches", 2017): unbiased across the whole range without empirical bias
tables or a switch to linear counting.

Small sketches are sparse, as in HyperLogLog++: they keep (25-bit index, rank) pairs,
4 bytes each, and count them by linear counting over 2^25 buckets, which is exact in
practice for the small counts the k-threshold decides on (with 16384 registers, ten
visitors already collide one time in 400). Past :data:`SPARSE_MAX` entries the sketch
turns dense (one byte per register).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from collections.abc import Iterable

P = 14
M = 1 << P
Q = 64 - P
_MASK = (1 << Q) - 1
#: Sparse precision: index bits of the sparse form.
SP = 25
_SQ = 64 - SP
_SMASK = (1 << _SQ) - 1
_SM = 1 << SP
SPARSE_MAX = 3000
_DENSE = b"D"
_SPARSE = b"S"
_ENTRY = struct.Struct(">I")
_SWAP = sys.byteorder == "little"  # entries are stored big-endian
assert array("I").itemsize == _ENTRY.size


def split(hashed: int) -> tuple[int, int]:
    """Register index and rank of one 64-bit hash (dense precision)."""
    return hashed >> Q, Q - (hashed & _MASK).bit_length() + 1


def _to_dense(index25: int, rank25: int) -> tuple[int, int]:
    index = index25 >> (SP - P)
    low = index25 & ((1 << (SP - P)) - 1)
    if low:
        return index, (SP - P) - low.bit_length() + 1
    return index, rank25 + (SP - P)


class HLL:
    """A HyperLogLog sketch: ``update`` with 64-bit hashes, ``merge`` others, ``count``."""

    __slots__ = ("registers", "sparse")

    def __init__(self) -> None:
        self.sparse: dict[int, int] | None = {}
        self.registers: bytearray | None = None

    def update(self, hashes: Iterable[int]) -> None:
        sparse = self.sparse
        if sparse is not None:
            for h in hashes:
                index = h >> _SQ
                rank = _SQ - (h & _SMASK).bit_length() + 1
                if sparse.get(index, 0) < rank:
                    sparse[index] = rank
            if len(sparse) > SPARSE_MAX:
                self._densify()
            return
        regs = self.registers
        assert regs is not None
        for h in hashes:
            index = h >> Q
            rank = Q - (h & _MASK).bit_length() + 1
            if regs[index] < rank:
                regs[index] = rank

    def add(self, hashed: int) -> None:
        self.update((hashed,))

    def _densify(self) -> None:
        regs = bytearray(M)
        for index25, rank25 in (self.sparse or {}).items():
            index, rank = _to_dense(index25, rank25)
            if regs[index] < rank:
                regs[index] = rank
        self.registers, self.sparse = regs, None

    def merge(self, other: HLL) -> None:
        if self.sparse is not None and other.sparse is not None:
            mine = self.sparse
            for index, rank in other.sparse.items():
                if mine.get(index, 0) < rank:
                    mine[index] = rank
            if len(mine) > SPARSE_MAX:
                self._densify()
            return
        if self.sparse is not None:
            self._densify()
        if other.sparse is not None:
            other = HLL.from_bytes(other.to_bytes())
            other._densify()
        a, b = self.registers, other.registers
        assert a is not None and b is not None
        for i, v in enumerate(b):
            if v > a[i]:
                a[i] = v

    def count(self) -> int:
        if self.sparse is not None:
            return _linear(len(self.sparse))
        assert self.registers is not None
        return estimate(self.registers)

    def to_bytes(self) -> bytes:
        if self.sparse is not None:
            entries = array("I", sorted(i << 6 | r for i, r in self.sparse.items()))
            if _SWAP:
                entries.byteswap()
            return _SPARSE + entries.tobytes()
        assert self.registers is not None
        return _DENSE + bytes(self.registers)

    @classmethod
    def from_bytes(cls, data: bytes | None) -> HLL:
        """The sketch ``data`` holds; an empty sketch for None or unreadable bytes."""
        sketch = cls()
        if not data:
            return sketch
        kind, body = data[:1], data[1:]
        if kind == _DENSE and len(body) == M:
            sketch.registers, sketch.sparse = bytearray(body), None
        elif kind == _SPARSE and len(body) % _ENTRY.size == 0:
            entries = array("I")
            entries.frombytes(body)
            if _SWAP:
                entries.byteswap()
            # Entries are written sorted by index, one per index; anything else is not ours
            # and is dropped rather than trusted.
            sparse = {e >> 6: e & 63 for e in entries if 0 < e & 63 <= _SQ + 1}
            sketch.sparse = sparse
            if len(sparse) > SPARSE_MAX:
                sketch._densify()
        return sketch


def _linear(occupied: int) -> int:
    if occupied == 0:
        return 0
    return round(_SM * math.log(_SM / (_SM - occupied)))


def count_serialized(data: bytes | None) -> int:
    """The estimate of a serialized sketch; a sparse one is counted without decoding."""
    if data and data[:1] == _SPARSE and (len(data) - 1) % _ENTRY.size == 0:
        return _linear((len(data) - 1) // _ENTRY.size)
    return HLL.from_bytes(data).count()


def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        z_old = z
        z += x * y
        y += y
        if z == z_old:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1.0 - x
    while True:
        x = math.sqrt(x)
        z_old = z
        y *= 0.5
        z -= (1.0 - x) ** 2 * y
        if z == z_old:
            return z / 3.0


def estimate(registers: bytes | bytearray) -> int:
    """Ertl's improved estimate of the number of distinct hashes behind ``registers``."""
    top = next((r for r in range(Q + 1, 0, -1) if registers.find(r) != -1), 0)
    counts = [registers.count(r) for r in range(top + 1)] + [0] * (Q + 1 - top)
    return _from_histogram(counts)


def _from_histogram(counts: list[int]) -> int:
    if counts[0] == M:
        return 0
    z = M * _tau(1.0 - counts[Q + 1] / M)
    for k in range(Q, 0, -1):
        z = 0.5 * (z + counts[k])
    z += M * _sigma(counts[0] / M)
    alpha_inf = 0.5 / math.log(2)
    return round(alpha_inf * M * M / z)
