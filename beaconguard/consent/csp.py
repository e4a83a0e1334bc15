"""A Content-Security-Policy that lets the browser load only the beacons consented to.

The gate adds it to HTML responses. For ``img-src``, ``script-src``, ``connect-src`` and
``frame-src`` it allows the page's own origin, the hosts of the granted categories (and of
``necessary``) and nothing else, so a pixel the visitor did not allow, even one written
into ``<noscript>`` or hard-coded in a template, is refused by the browser.

When the app sends its own policy the two are merged into one header: the app's other
directives are kept, its sources for the four gated directives are kept too, except the
hosts of denied categories and broad wildcards (``*``, ``https:``), which would let a
denied host through; the granted hosts are added. The gate never loosens what the app
forbids (``'none'`` stays ``'none'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from beaconguard.consent.categories import NECESSARY, OPTIONAL

GATED = ("img-src", "script-src", "connect-src", "frame-src")

# Without an app policy only third-party hosts are being restricted, not inline code: a
# stricter default would break pages that never asked for a script policy.
_DEFAULT_SOURCES: dict[str, tuple[str, ...]] = {
    "img-src": ("'self'", "data:", "blob:"),
    "script-src": ("'self'", "'unsafe-inline'", "'unsafe-eval'", "blob:"),
    "connect-src": ("'self'",),
    "frame-src": ("'self'",),
}
_WILDCARDS = frozenset({"*", "http:", "https:", "ws:", "wss:"})
_MERGE_CACHE = 256


def check_host(host: str) -> str:
    """Validate one CSP host source (``pixel.example``, ``https://x.example:8443``,
    ``*.example.net``); returns it lower-cased or raises ``ValueError``."""
    host = host.strip().lower()
    if not host or any(c in host for c in " ;,'\"\t\r\n") or host in _WILDCARDS:
        raise ValueError(f"third_party_hosts: {host!r} is not a host such as "
                         "'pixel.example' or 'https://pixel.example:8443'")
    return host.rstrip("/")


def _key(source: str) -> str:
    """A source without scheme or trailing slash, for comparing hosts."""
    source = source.lower()
    _, sep, rest = source.partition("://")
    return (rest if sep else source).rstrip("/")


class CspBuilder:
    """Builds the gate's policy for each combination of granted categories.

    ``hosts`` maps a category to its third-party hosts. ``report_only`` puts the policy in
    ``Content-Security-Policy-Report-Only`` (the browser reports, does not block).
    """

    def __init__(self, hosts: Mapping[str, Iterable[str]], report_only: bool = False) -> None:
        self.header = (
            b"content-security-policy-report-only" if report_only else b"content-security-policy"
        )
        self.hosts = {cat: tuple(check_host(h) for h in hs) for cat, hs in hosts.items()}
        self.has_hosts = any(self.hosts.get(cat) for cat in OPTIONAL)
        self._own: dict[int, bytes] = {}
        for mask in range(1 << len(OPTIONAL)):
            self._own[mask] = self._render(None, mask).encode("latin-1")
        self._merged: dict[tuple[bytes, int], bytes] = {}

    def granted_denied(self, mask: int) -> tuple[tuple[str, ...], frozenset[str]]:
        granted = list(self.hosts.get(NECESSARY, ()))
        denied: set[str] = set()
        for i, cat in enumerate(OPTIONAL):
            if mask >> i & 1:
                granted.extend(self.hosts.get(cat, ()))
            else:
                denied.update(_key(h) for h in self.hosts.get(cat, ()))
        granted_t = tuple(dict.fromkeys(granted))
        # A host listed under a granted category too stays allowed.
        denied -= {_key(h) for h in granted_t}
        return granted_t, frozenset(denied)

    def policy(self, mask: int, app_policy: bytes | None = None) -> bytes:
        """The header value for categories ``mask``, merged with ``app_policy`` if any."""
        if app_policy is None:
            return self._own[mask]
        key = (app_policy, mask)
        hit = self._merged.get(key)
        if hit is None:
            hit = self._render(app_policy.decode("latin-1"), mask).encode("latin-1")
            if len(self._merged) >= _MERGE_CACHE:
                self._merged.pop(next(iter(self._merged)))
            self._merged[key] = hit
        return hit

    def _render(self, app_policy: str | None, mask: int) -> str:
        granted, denied = self.granted_denied(mask)
        directives: dict[str, list[str]] = {}
        if app_policy:
            for part in app_policy.split(";"):
                tokens = part.split()
                if tokens:
                    # The first occurrence of a directive wins; browsers ignore repeats.
                    directives.setdefault(tokens[0].lower(), tokens[1:])
        fallback = directives.get("default-src")
        for name in GATED:
            app_sources = directives.get(name, fallback)
            directives[name] = _gate_sources(
                list(_DEFAULT_SOURCES[name]) if app_sources is None else app_sources,
                granted,
                denied,
            )
        return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def _gate_sources(
    sources: list[str], granted: tuple[str, ...], denied: frozenset[str]
) -> list[str]:
    if any(s.lower() == "'none'" for s in sources):
        return ["'none'"]
    out: list[str] = []
    widened = False
    for source in sources:
        low = source.lower()
        if low in _WILDCARDS:
            widened = True
            continue
        key = _key(low)
        if key in denied or (key.startswith("*.") and any(
            d == key[2:] or d.endswith(key[1:]) for d in denied
        )):
            continue
        out.append(source)
    if widened and "'self'" not in (s.lower() for s in out):
        out.insert(0, "'self'")
    for host in granted:
        if host not in out:
            out.append(host)
    return out or ["'none'"]
