"""``ConsentState``: what the visitor allowed, and why we believe it.

A state is immutable and cheap to share: the gate builds the non-explicit ones (global,
GPC and region defaults) once, at construction, and hands the same object to every
request they apply to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Literal

from beaconguard.consent.categories import NECESSARY, OPTIONAL

Source = Literal["explicit", "gpc", "region", "default"]
SOURCES: tuple[str, ...] = ("explicit", "gpc", "region", "default")


class ConsentState:
    """The per-category decisions for one request.

    ``allows(category)`` is the one question apps and the other parts ask; ``necessary``
    is always allowed and an unknown category never is. ``source`` says where the
    decisions came from: ``"explicit"`` (the visitor's signed cookie), ``"gpc"``
    (``Sec-GPC: 1``), ``"region"`` (the default for the visitor's country) or
    ``"default"`` (the global default: only necessary).
    """

    __slots__ = ("allowed", "consent_id", "decided_at", "decisions", "mask", "revision", "source")

    decisions: Mapping[str, bool]
    source: Source
    revision: int
    decided_at: float | None
    consent_id: str | None
    mask: int
    #: The granted categories, ``necessary`` included.
    allowed: frozenset[str]

    def __init__(
        self,
        decisions: Mapping[str, bool],
        source: Source,
        revision: int,
        decided_at: float | None = None,
        consent_id: str | None = None,
    ) -> None:
        full = {NECESSARY: True}
        for name in OPTIONAL:
            full[name] = bool(decisions.get(name, False))
        object.__setattr__(self, "decisions", MappingProxyType(full))
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "revision", revision)
        object.__setattr__(self, "decided_at", decided_at)
        object.__setattr__(self, "consent_id", consent_id)
        allowed = frozenset(name for name, ok in full.items() if ok)
        object.__setattr__(self, "allowed", allowed)
        # One bit per optional category: the gate keys its precomputed answers on it.
        object.__setattr__(
            self, "mask", sum(1 << i for i, name in enumerate(OPTIONAL) if full[name])
        )

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ConsentState is immutable")

    @classmethod
    def granting(
        cls, granted: Iterable[str], source: Source, revision: int, **kw: object
    ) -> ConsentState:
        """A state that grants exactly ``granted`` (plus necessary)."""
        names = set(granted)
        return cls({name: name in names for name in OPTIONAL}, source, revision, **kw)  # type: ignore[arg-type]

    def allows(self, category: str) -> bool:
        """Whether cookies and beacons of ``category`` may be used for this request."""
        return category in self.allowed

    @property
    def explicit(self) -> bool:
        """Whether the visitor decided (the banner need not ask)."""
        return self.source == "explicit"

    def as_dict(self) -> dict[str, object]:
        """A JSON-ready view (what ``GET /_bg/consent`` answers)."""
        return {
            "decisions": dict(self.decisions),
            "source": self.source,
            "revision": self.revision,
            "decided": self.explicit,
            "decided_at": self.decided_at,
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ConsentState):
            return NotImplemented
        return (
            self.allowed == other.allowed
            and self.source == other.source
            and self.revision == other.revision
        )

    def __hash__(self) -> int:
        return hash((self.allowed, self.source, self.revision))

    def __repr__(self) -> str:
        granted = ",".join(n for n in OPTIONAL if n in self.allowed) or "-"
        return f"<ConsentState {self.source} rev={self.revision} granted={granted}>"
