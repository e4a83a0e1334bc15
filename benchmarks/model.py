"""The shape of a result: rows of figures and targets, grouped by scenario.

Everything here turns into plain JSON. A row or a target whose part is missing carries a
``status`` that says so (``"not available yet"``); it is never dropped or given a number.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

OK = "ok"
NOT_AVAILABLE = "not available yet"
UNAVAILABLE = "unavailable"  # a tool the scenario needs is missing on this machine
FAILED = "failed"


@dataclass
class Row:
    """One measured figure: a variant of a scenario and its median over the rounds."""

    name: str
    label: str
    unit: str
    value: float | None = None
    samples: list[float] = field(default_factory=list)
    status: str = OK
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_samples(
        cls, name: str, label: str, unit: str, samples: Sequence[float], **kw: Any
    ) -> Row:
        values = [float(s) for s in samples]
        return cls(name, label, unit, value=median(values), samples=values, **kw)

    @classmethod
    def missing(
        cls, name: str, label: str, unit: str, reason: str, status: str = NOT_AVAILABLE
    ) -> Row:
        return cls(name, label, unit, status=status, note=reason)

    @property
    def spread(self) -> float | None:
        """Median absolute deviation over the rounds, relative to the median."""
        if self.value is None or len(self.samples) < 2 or self.value == 0:
            return None
        mad = statistics.median(abs(s - self.value) for s in self.samples)
        return mad / abs(self.value)


@dataclass
class Target:
    """A target from the issue, checked against this run's figures (never asserted)."""

    name: str
    goal: str
    value: float | None = None
    unit: str = ""
    met: bool | None = None
    status: str = OK
    note: str = ""

    @classmethod
    def check(
        cls, name: str, goal: str, value: float, limit: float, unit: str = "", note: str = ""
    ) -> Target:
        return cls(name, goal, value=value, unit=unit, met=value <= limit, note=note)


@dataclass
class Group:
    """Everything one scenario module measured in one process run."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    status: str = OK
    seconds: float = 0.0

    def row(self, name: str) -> Row | None:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for row, out in zip(self.rows, data["rows"], strict=True):
            out["spread"] = row.spread
        return data


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def paired(a: Sequence[float], b: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per-round ratios a/b and differences a-b (rounds measured side by side)."""
    ratios = [x / y for x, y in zip(a, b, strict=True) if y]
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    return ratios, diffs
