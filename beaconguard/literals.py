"""What text every match of a regular expression must contain.

``required_substrings(pattern)`` reads the pattern's syntax tree and returns strings of
which at least one occurs in anything the pattern matches (``"Googlebot"`` for
``Googlebot/\\d``, ``("bingbot", "msnbot")`` for ``(bingbot|msnbot)``), or ``None`` when it
cannot tell. A ``str.__contains__`` test then rules a pattern out without running it,
which is how a list of a thousand crawler patterns is searched in a fraction of the time
one big alternation takes. The answer errs towards ``None``: it never rules out a pattern
that could match.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_c: Any
_parser: Any
try:  # the parser behind re.compile; private, so its absence only costs speed
    _c = importlib.import_module("re._constants")
    _parser = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - other Pythons
    _parser = None

Requirement = tuple[str, ...]

#: Raised whenever the way requirements are read changes, so stored ones are not reused.
FORMAT = 1


def required_substrings(pattern: str) -> Requirement | None:
    """Strings one of which every match of ``pattern`` (compiled without flags) contains,
    or ``None``."""
    if _parser is None:
        return None
    try:
        tree = _parser.parse(pattern, 0)
        if tree.state.flags & re.IGNORECASE:  # a leading (?i)
            return None
        return _best(_requirements(tree.data))
    except Exception:  # an unreadable tree means "cannot tell"
        return None


def _best(found: list[Requirement]) -> Requirement | None:
    # The most selective: the one whose shortest alternative is longest.
    return max(found, key=lambda r: min(map(len, r)), default=None)


def _requirements(items: Any) -> list[Requirement]:
    """Every requirement of a node sequence; runs of literals are joined."""
    out: list[Requirement] = []
    run: list[str] = []

    def end_run() -> None:
        if run:
            out.append(("".join(run),))
            run.clear()

    for op, av in items:
        if op is _c.LITERAL:
            run.append(chr(av))
            continue
        end_run()
        if op is _c.SUBPATTERN:
            _group, add_flags, del_flags, sub = av
            if not (add_flags or del_flags):  # (?i:...) and friends: not read
                out.extend(_requirements(sub.data))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT) and av[0] >= 1:
            out.extend(_requirements(av[2].data))
        elif op is _c.BRANCH:
            union: list[str] = []
            for branch in av[1]:
                best = _best(_requirements(branch.data))
                if best is None:  # one branch needs nothing: neither does the whole
                    break
                union.extend(best)
            else:
                out.append(tuple(union))
        # Anything else (classes, anchors, look-arounds, optional parts) needs nothing.
    end_run()
    return out


def digest(patterns: Sequence[str]) -> str:
    """What stored requirements are keyed by: the patterns and the way they were read."""
    h = hashlib.sha256(f"required_substrings/{FORMAT}".encode())
    for pattern in patterns:
        h.update(b"\x00" + pattern.encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def stored_requirements(patterns: Sequence[str], text: str | None) -> list[Requirement | None]:
    """:func:`required_substrings` of each pattern: read from ``text`` (what
    :func:`store_requirements` wrote) when it was written for these very patterns (reading
    1,500 patterns takes a twentieth of a second), else worked out now."""
    if text is not None:
        try:
            data = json.loads(text)
            if data["digest"] == digest(patterns) and len(data["needs"]) == len(patterns):
                return [None if n is None else tuple(n) for n in data["needs"]]
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: worked out below, same answers
    return [required_substrings(p) for p in patterns]


def store_requirements(patterns: Sequence[str], path: Path) -> None:
    """Write the requirements of ``patterns`` for :func:`stored_requirements`."""
    data = {"digest": digest(patterns), "needs": [required_substrings(p) for p in patterns]}
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", "utf-8")
