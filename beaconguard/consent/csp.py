"""A Content-Security-Policy that lets the browser load only the beacons consented to.

The gate adds it to HTML responses. For ``img-src``, ``script-src``, ``connect-src`` and
``frame-src`` it allows the page's own origin, the hosts of the granted categories (and of
``necessary``) and nothing else, so a pixel the visitor did not allow, even one written
into ``<noscript>`` or hard-coded in a template, is refused by the browser.

When the app sends its own policy the two are merged into one header: the app's other
directives are kept, its sources for the four gated directives are kept too, except the
hosts of denied categories and broad wildcards (``*``, ``https:``), which would let a
denied host through; the granted hosts are added. The gate never loosens what the app
forbids (``'none'`` stays ``'none'``). Details that matter:

- A denied host is matched on its host name alone: any scheme, port (``:443``, ``:*``)
  or path of it goes, and so does a wildcard (``*.example``) that covers it.
- Every other fetch directive the app sends (``default-src``, ``style-src``,
  ``font-src``, ``media-src``, ...) loses the denied hosts too (its wildcards stay: the
  gate restricts beacons, it does not rewrite the app's policy for fonts and styles).
  ``script-src-elem``, when the app sends it, is gated like ``script-src`` (browsers use
  it for ``<script>`` elements instead).
- ``'strict-dynamic'`` is removed while any category with hosts is denied: with it,
  browsers ignore host sources for scripts, so a trusted (nonced) tag manager could load
  a denied host's script. Without it, scripts that trusted scripts add must carry the
  nonce or come from an allowed host: that may block a script the app added from a host
  it never listed, which is the safe way to fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from beaconguard.consent.categories import NECESSARY, OPTIONAL

GATED = ("img-src", "script-src", "connect-src", "frame-src")
# Gated like the four above, but only when the app sends it (it has no default of its own).
_GATED_IF_SENT = ("script-src-elem",)

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
    """The host name of a source (no scheme, port or path), or "" for keywords
    (``'self'``) and scheme sources (``data:``); for comparing hosts."""
    source = source.lower()
    if source.startswith("'") or (source.endswith(":") and "//" not in source):
        return ""
    _, sep, rest = source.partition("://")
    host = (rest if sep else source).split("/", 1)[0]
    return host.partition(":")[0].rstrip(".")


def _is_denied(key: str, denied: frozenset[str]) -> bool:
    """Whether host ``key`` (maybe ``*.x``) names or covers a denied host (maybe ``*.y``)."""
    if not key or not denied:
        return False
    if key in denied:
        return True
    if key.startswith("*."):
        # The app's wildcard covers a denied host (or a denied host's wildcard).
        suffix = key[1:]
        return any(d == key[2:] or d.endswith(suffix) for d in denied)
    # A denied wildcard covers the app's host.
    return any(d.startswith("*.") and key.endswith(d[1:]) for d in denied)


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
        for name, sources in directives.items():
            if name.endswith("-src") and name not in GATED and name not in _GATED_IF_SENT:
                directives[name] = _remove_denied(sources, denied)
        for name in (*GATED, *(n for n in _GATED_IF_SENT if n in directives)):
            app_sources = directives.get(name, fallback)
            directives[name] = _gate_sources(
                list(_DEFAULT_SOURCES.get(name, ())) if app_sources is None else app_sources,
                granted,
                denied,
            )
        return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def _remove_denied(sources: list[str], denied: frozenset[str]) -> list[str]:
    if not denied:
        return sources
    out = [s for s in sources
           if not _is_denied(_key(s), denied) and s.lower() != "'strict-dynamic'"]
    return out or ["'none'"]


def _gate_sources(
    sources: list[str], granted: tuple[str, ...], denied: frozenset[str]
) -> list[str]:
    if any(s.lower() == "'none'" for s in sources):
        return ["'none'"]
    out: list[str] = []
    widened = False
    for source in sources:
        low = source.lower()
        key = _key(low)
        if low in _WILDCARDS or key == "*":
            widened = True
            continue
        if _is_denied(key, denied) or (denied and low == "'strict-dynamic'"):
            continue
        out.append(source)
    if widened and "'self'" not in (s.lower() for s in out):
        out.insert(0, "'self'")
    for host in granted:
        if host not in out:
            out.append(host)
    return out or ["'none'"]
