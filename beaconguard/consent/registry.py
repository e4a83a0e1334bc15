"""The cookie registry: which category each cookie name belongs to.

Entries name cookies exactly (``_ga``), by prefix (``_ga_*``: a trailing ``*`` and no
other wildcard) or by glob (``_hj*_ses?``). Everything is compiled once, at construction;
a lookup is one dict probe for names already seen (the cache is bounded, because request
cookie names come from the visitor and are unlimited). Exact beats prefix beats glob;
among prefixes the longest wins; among globs the first listed.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from beaconguard.consent.categories import CATEGORIES, NECESSARY

_GLOB_CHARS = frozenset("*?[")
_FIELDS = ("name", "category", "purpose", "lifetime", "party", "domain", "path", "match")
_MISS = object()


class CookieEntry:
    """One registry entry, validated."""

    __slots__ = ("category", "domain", "lifetime", "match", "name", "party", "path", "purpose")

    def __init__(self, raw: Mapping[str, Any], index: int = 0) -> None:
        where = f"cookie_registry[{index}]"
        if not isinstance(raw, Mapping):
            raise ValueError(f"{where}: must be a table such as {{name = '_ga', category = "
                             "'statistics'}}")
        unknown = sorted(set(raw) - set(_FIELDS))
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; "
                             f"use {', '.join(_FIELDS)}")
        name = raw.get("name")
        if not isinstance(name, str) or not name or any(c in name for c in "=; ,\t\r\n"):
            raise ValueError(f"{where}.name: must be a cookie name (no '=', ';', spaces), "
                             f"got {name!r}")
        category = raw.get("category")
        if category not in CATEGORIES:
            raise ValueError(f"{where}.category: {category!r} is not one of "
                             f"{', '.join(CATEGORIES)}")
        match = raw.get("match")
        if match is None:
            if not _GLOB_CHARS & set(name):
                match = "exact"
            elif name.endswith("*") and not _GLOB_CHARS & set(name[:-1]):
                match = "prefix"
            else:
                match = "glob"
        if match not in ("exact", "prefix", "glob"):
            raise ValueError(f"{where}.match: {match!r} is not 'exact', 'prefix' or 'glob'")
        party = raw.get("party", "first")
        if party not in ("first", "third"):
            raise ValueError(f"{where}.party: {party!r} is not 'first' or 'third'")
        for key in ("purpose", "domain"):
            if not isinstance(raw.get(key, ""), str):
                raise ValueError(f"{where}.{key}: must be text")
        path = raw.get("path", "/")
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"{where}.path: must start with '/', got {path!r}")
        lifetime = raw.get("lifetime", "")
        if not isinstance(lifetime, str | int) or isinstance(lifetime, bool):
            raise ValueError(f"{where}.lifetime: must be text or a number of days")
        domain = raw.get("domain", "").strip().lower()
        if party == "third" and not domain:
            raise ValueError(f"{where}.domain: a third-party cookie needs its domain")
        self.name = name
        self.category: str = category
        self.match: str = match
        self.purpose: str = raw.get("purpose", "")
        self.lifetime: str | int = lifetime
        self.party: str = party
        self.domain: str = domain
        self.path: str = path

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in _FIELDS}

    def __repr__(self) -> str:
        return f"<CookieEntry {self.name!r} {self.match} {self.category}>"


class CookieRegistry:
    """Cookie name → category, for exact, prefix and glob entries.

    ``necessary`` names (for example the consent cookie) are always registered as
    necessary, whatever the entries say.
    """

    def __init__(
        self,
        entries: Iterable[Mapping[str, Any] | CookieEntry] = (),
        *,
        necessary: Iterable[str] = (),
        cache_size: int = 4096,
    ) -> None:
        self.entries: tuple[CookieEntry, ...] = tuple(
            e if isinstance(e, CookieEntry) else CookieEntry(e, i) for i, e in enumerate(entries)
        )
        self._exact: dict[str, str] = {}
        prefixes: list[tuple[str, str]] = []
        globs: list[tuple[str, str]] = []
        for entry in self.entries:
            if entry.match == "exact":
                self._exact.setdefault(entry.name, entry.category)
            elif entry.match == "prefix":
                prefixes.append((entry.name.rstrip("*"), entry.category))
            else:
                globs.append((entry.name, entry.category))
        for name in necessary:
            self._exact[name] = NECESSARY
        # Longest prefix first, so "_ga_" beats "_g".
        self._prefixes = tuple(sorted(prefixes, key=lambda p: -len(p[0])))
        self._glob_categories = tuple(cat for _, cat in globs)
        self._glob = (
            re.compile("|".join(f"(?P<g{i}>{fnmatch.translate(pat)})"
                                for i, (pat, _) in enumerate(globs)))
            if globs else None
        )
        self._cache: dict[str | bytes, str | None] = {}
        self._cache_size = cache_size

    def category(self, name: str | bytes) -> str | None:
        """The category of cookie ``name`` (text or latin-1 bytes); ``None`` if unregistered."""
        hit = self._cache.get(name, _MISS)
        if hit is not _MISS:
            return hit  # type: ignore[return-value]
        text = name.decode("latin-1") if isinstance(name, bytes) else name
        found = self._lookup(text)
        cache = self._cache
        if len(cache) >= self._cache_size:
            # Drop the oldest entry: insertion order is age, and the hot names stay hot.
            cache.pop(next(iter(cache)))
        cache[name] = found
        return found

    def _lookup(self, name: str) -> str | None:
        found = self._exact.get(name)
        if found is not None:
            return found
        for prefix, category in self._prefixes:
            if name.startswith(prefix):
                return category
        if self._glob is not None:
            m = self._glob.match(name)
            if m is not None and m.lastgroup is not None:
                return self._glob_categories[int(m.lastgroup[1:])]
        return None

    def exact_names(self, categories: Iterable[str]) -> tuple[str, ...]:
        """The exactly named cookies of ``categories`` (what a purge can name unseen)."""
        wanted = set(categories)
        # A third party's cookies live on its domain: this site cannot name them.
        return tuple(
            e.name for e in self.entries
            if e.match == "exact" and e.category in wanted and e.party == "first"
        )

    def entries_for(self, name: str) -> list[CookieEntry]:
        """The entries that match ``name`` (for domain and path variants of a purge)."""
        out = []
        for entry in self.entries:
            if entry.match == "exact":
                ok = entry.name == name
            elif entry.match == "prefix":
                ok = name.startswith(entry.name.rstrip("*"))
            else:
                ok = fnmatch.fnmatchcase(name, entry.name)
            if ok:
                out.append(entry)
        return out

    def third_party_domains(self) -> dict[str, tuple[str, ...]]:
        """Category → domains of its third-party cookies (their hosts join the CSP)."""
        out: dict[str, list[str]] = {}
        for entry in self.entries:
            if entry.party == "third" and entry.domain:
                out.setdefault(entry.category, []).append(entry.domain)
        return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}
