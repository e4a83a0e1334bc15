"""The consent gate: the server keeps cookies to what the visitor allowed.

On the way in it resolves one ``ConsentState`` per request (the signed cookie, else
``Sec-GPC``, else the default for the visitor's country, else only necessary) and removes
non-consented cookies from the ``Cookie`` header before the app sees them. On the way out
(``http.response.start``) it removes every ``Set-Cookie`` the state does not allow, expires
denied cookies the browser still sent, adds the beacon CSP to HTML and marks what it
changed as private to shared caches.

Everything that can be is decided at construction; a request that needs no change costs
a few dict probes and copies nothing.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
from calendar import timegm
from collections.abc import Callable, Iterable, Mapping
from email.utils import parsedate_tz
from typing import Any

from starlette.types import Message, Scope

from beaconguard.anonymize.geo import make_country_lookup
from beaconguard.consent.categories import NECESSARY, OPTIONAL, category_text
from beaconguard.consent.cookie import ConsentCookie
from beaconguard.consent.csp import CspBuilder
from beaconguard.consent.receipts import ReceiptLog, banner_hash
from beaconguard.consent.regions import expand_regions
from beaconguard.consent.registry import CookieRegistry
from beaconguard.consent.state import ConsentState
from beaconguard.settings import Settings

log = logging.getLogger("beaconguard.consent")

#: ``on_decision(decisions, source)``: once per explicit decision (``"explicit"``) or
#: withdrawal (``"withdraw"``).
DecisionCallback = Callable[[Mapping[str, bool], str], None]
ClientResolver = Callable[[str | None, str | None, str | None], str | None]

_EXPIRED = b"=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
_MAX_DOMAIN_VARIANTS = 5
_MAX_REPORTED = 1024
_PURGE_CACHE = 256
# A response expires at most this many stale names (in the order the browser sent them),
# and adds at most this many bytes of Set-Cookie for them: the browser drops what was
# expired, so the rest go on later responses. A Cookie header is the visitor's to write;
# without these bounds a 60 KB header bought thousands of headers and megabytes of cache.
MAX_STALE_NAMES = 32
MAX_PURGE_BYTES = 8192
# Longer names are stripped from the request but not expired (no real cookie is named so).
_MAX_PURGE_NAME = 128
_MAX_HOST = 253
_KEEP_CACHE = 4096
_EMPTY_VALUE = (b";", b"", b'"', b" ")
_FOREVER = float("inf")
_PRIVATE = (b"cache-control", b"private")
# Kinds of response header the gate reads (0: any other header).
_SET_COOKIE, _CONTENT_TYPE, _CSP, _CACHE_CONTROL = 1, 2, 3, 4
_HOSTNAME = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+")
# Parsed Cookie headers kept, the longest one kept (a browser's is rarely over 4 KB) and
# the most cookies in one kept (each piece costs a few hundred bytes parsed: without this
# bound 4 KB of semicolons held 260 KB). They hold session tokens: memory only, never
# written, gone when evicted. Anything larger is parsed on each request instead.
_PARSED_CACHE = 512
# A Cookie header whose consent value did not verify is replayed as "no decision" for this
# many seconds, then read again: a value signed by a server whose clock runs ahead verifies
# once this clock catches up (the Python path reads it on every request).
_RECHECK_UNVERIFIED = 1.0
_MAX_CACHED_HEADER = 4096
_MAX_CACHED_PIECES = 64
#: What the compiled path replays for one Cookie header: (state, its mask, when the state
#: stops being valid (``time.time()``), the Cookie header the app gets or ``None`` to leave
#: the request as it is).
FastEntry = tuple[ConsentState, int, float, "bytes | None"]
_NO_HEADERS: Mapping[bytes, bytes] = {}
#: (consent cookie value, (name, piece) pairs, mask → what ``_filter`` returned).
_Parsed = tuple[
    str | None,
    tuple[tuple[str, str], ...],
    dict[int, "tuple[bytes, tuple[str, ...]] | None"],
]


class ConsentGate:
    """Resolves consent per request and filters cookies and beacons to match it.

    Built by :class:`~beaconguard.BeaconGuard` when ``settings.consent`` is on.
    ``on_decision`` is called with ``(decisions, "explicit")`` for every decision a
    visitor posts (the statistics part counts them); it may be set after construction.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        resolve_client: ClientResolver | None = None,
        on_decision: DecisionCallback | None = None,
    ) -> None:
        s = settings
        self.settings = s
        self.on_decision = on_decision
        self.cookie = ConsentCookie(s)
        self.cookie_name = s.consent_cookie
        self.registry = CookieRegistry(s.cookie_registry, necessary=(s.consent_cookie,))
        self.unregistered = s.unregistered_cookies
        self.text = category_text(s.consent_text)
        self.revision = s.policy_revision
        self.clear_site_data = s.consent_clear_site_data
        #: Unregistered cookie names the app set (``report`` mode logs each once).
        self.reported: set[str] = set()
        self._consent_name = s.consent_cookie
        masks = range(1 << len(OPTIONAL))
        self._full_mask = masks[-1]
        self._mask_allowed = {
            m: frozenset({NECESSARY, *(c for i, c in enumerate(OPTIONAL) if m >> i & 1)})
            for m in masks
        }
        # Per mask: cookie name (str from requests, bytes from responses) → may pass.
        self._keep: dict[int, dict[str | bytes, bool]] = {m: {} for m in masks}
        # Cookie header → its parse and, per mask, what passes (see ``_parse``).
        self._parsed: dict[bytes, _Parsed] = {}
        # (one name, host, secure) → its purge headers and their size in bytes.
        self._purge_cache: dict[tuple[str, str, bool], tuple[list[tuple[bytes, bytes]], int]] = {}
        #: Resolved Cookie headers the compiled path replays, without and with ``Sec-GPC:
        #: 1`` (see beaconguard/consent/fast.py); ``None`` while no compiled path reads them.
        self.fast_cookies: tuple[dict[bytes, FastEntry], dict[bytes, FastEntry]] | None = None

        hosts: dict[str, list[str]] = {}
        for cat, names in s.third_party_hosts.items():
            hosts.setdefault(cat, []).extend(names)
        for cat, domains in self.registry.third_party_domains().items():
            for domain in domains:
                bare = domain.lstrip(".")
                hosts.setdefault(cat, []).extend((bare, "*." + bare))
        self.csp: CspBuilder | None = None
        if s.csp_mode != "off":
            self.csp = CspBuilder(hosts, report_only=s.csp_mode == "report-only")
        self._csp_name = self.csp.header if self.csp is not None else b"\x00"
        self._header_kinds: dict[bytes, int] = {
            b"set-cookie": _SET_COOKIE,
            b"content-type": _CONTENT_TYPE,
            b"cache-control": _CACHE_CONTROL,
        }
        if self.csp is not None:
            self._header_kinds[self.csp.header] = _CSP
        self.reload_on_grant = frozenset(
            cat for cat in OPTIONAL if s.csp_mode == "enforce" and hosts.get(cat)
        )

        self.receipts: ReceiptLog | None = None
        if s.consent_receipts:
            self.receipts = ReceiptLog(s.consent_receipts, banner_hash(self.text, self.revision))

        # The non-explicit states are shared objects, built once.
        rev = self.revision
        gpc_strips = {"marketing"} | ({"statistics"} if s.gpc_denies_statistics else set())
        self.default_state = ConsentState.granting((), "default", rev)
        self.gpc_default = ConsentState.granting((), "gpc", rev)
        self._regions: dict[str, tuple[ConsentState, ConsentState]] = {}
        by_grant: dict[frozenset[str], tuple[ConsentState, ConsentState]] = {}
        for country, granted in expand_regions(s.region_defaults).items():
            if granted not in by_grant:
                by_grant[granted] = (
                    ConsentState.granting(granted, "region", rev),
                    ConsentState.granting(granted - gpc_strips, "gpc", rev),
                )
            self._regions[country] = by_grant[granted]
        self._any_region = self._regions.pop("*", None)
        self._country = (
            make_country_lookup(s.geoip_db) if self._regions or self._any_region else None
        )
        self._resolve_client = resolve_client

    # -- request side ----------------------------------------------------------------------

    def resolve(
        self, cookie_value: str | None, gpc: bool, client: str | None = None
    ) -> ConsentState:
        """The state for one request, by precedence: explicit, GPC, region, default."""
        state = self.cookie.loads(cookie_value) if cookie_value else None
        if state is not None:
            return state
        return self._fallback(gpc, client)

    def _fallback(self, gpc: bool, client: str | None) -> ConsentState:
        """The state without a valid decision: GPC and the region default, else only
        necessary."""
        if self._country is not None:
            country = self._country(client)
            pair = self._regions.get(country, self._any_region) if country else None
            if pair is not None:
                return pair[1] if gpc else pair[0]
        return self.gpc_default if gpc else self.default_state

    def enter(
        self, scope: Scope, raw: Mapping[bytes, bytes]
    ) -> tuple[Scope, ConsentState, tuple[str, ...]]:
        """Resolve the state and strip the request's non-consented cookies.

        ``raw`` maps the request's header names to their values (a repeated header
        joined). Returns the scope the app should see (the same object unless a cookie was
        removed), the state (also put at ``scope["state"]["consent"]``) and the names of
        denied registered cookies the browser still holds (the response expires them).
        """
        header = raw.get(b"cookie")
        gpc = raw.get(b"sec-gpc") == b"1"
        if not header:
            # No cookie, no region map (first visits, bots, most assets): a shared state.
            if self._country is None:
                state = self.gpc_default if gpc else self.default_state
            else:
                state = self._fallback(gpc, self._client(scope, raw))
            _put_state(scope, state)
            return scope, state, ()
        parsed = self._parsed.get(header)
        if parsed is None:
            parsed = self._parse(header)
        loaded = self.cookie.loads(parsed[0]) if parsed[0] else None
        if loaded is not None:
            state = loaded
        else:
            # No valid decision (none, tampered, expired, oversized, old revision): the
            # region default applies, so the client is resolved only now.
            state = self._fallback(gpc, self._client(scope, raw) if self._country else None)
        mask = state.mask
        by_mask = parsed[2]
        if mask in by_mask:
            filtered = by_mask[mask]
        else:
            filtered = by_mask[mask] = self._filter(parsed[1], mask)
        if self.fast_cookies is not None:
            self._remember(header, gpc, state, filtered, bool(parsed[0]) and loaded is None)
        if filtered is not None:
            kept, stale = filtered
            headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"cookie"]
            if kept:
                headers.append((b"cookie", kept))
            scope = dict(scope)
            scope["headers"] = headers
            _put_state(scope, state)
            return scope, state, stale
        _put_state(scope, state)
        return scope, state, ()

    def _remember(
        self,
        header: bytes,
        gpc: bool,
        state: ConsentState,
        filtered: tuple[bytes, tuple[str, ...]] | None,
        unverified: bool = False,
    ) -> None:
        """Keep one Cookie header's answer for the compiled path, when it can be replayed:
        nothing to expire, and a state that depends on the header and ``Sec-GPC`` alone
        (a valid decision until it expires, or no region default to look up).
        ``unverified``: the header holds a consent value that did not verify (yet)."""
        assert self.fast_cookies is not None
        if filtered is not None and filtered[1]:
            return  # stale cookies to expire: the Python path writes those headers
        if state.explicit and state.decided_at is not None:
            expires = float(state.decided_at + self.cookie.max_age)
        elif self._country is not None:
            return
        elif unverified:
            # Signed "in the future" (by a server whose clock is ahead) reads as no decision
            # only until this clock catches up; tampered or outdated values never verify,
            # and reading them again each second costs little.
            expires = time.time() + _RECHECK_UNVERIFIED
        else:
            expires = _FOREVER
        if type(header) is not bytes or len(header) > _MAX_CACHED_HEADER:
            return
        cache = self.fast_cookies[gpc]
        if len(cache) >= _PARSED_CACHE:
            cache.pop(next(iter(cache)))
        cache[header] = (state, state.mask, expires, None if filtered is None else filtered[0])

    def fast_fallback(self, message: Message, state: ConsentState, scope: Scope) -> Message:
        """What the compiled path's ``send`` does with a message it leaves to Python."""
        if message["type"] == "http.response.start":
            return self.response_start(message, state, (), scope, _NO_HEADERS)
        return message

    def _client(self, scope: Scope, raw: Mapping[bytes, bytes]) -> str | None:
        """The visitor's address (for the region default), as the access log resolves it."""
        if self._resolve_client is None:
            return None
        peer = scope.get("client")
        xff = raw.get(b"x-forwarded-for")
        fwd = raw.get(b"forwarded")
        return self._resolve_client(
            peer[0] if peer else None,
            xff.decode("latin-1") if xff is not None else None,
            fwd.decode("latin-1") if fwd is not None else None,
        )

    def _parse(self, header: bytes) -> _Parsed:
        """Split one ``Cookie`` header into the consent value and the (name, piece) pairs;
        remembered per header (bounded in entries and header length): a visitor sends the
        same header on every request until a cookie changes."""
        consent_value = None
        pairs: list[tuple[str, str]] = []
        cookie_name = self._consent_name
        for piece in header.decode("latin-1").split(";"):
            name, _, value = piece.partition("=")
            name = name.strip()
            if name == cookie_name:
                consent_value = value.strip().strip('"')
            pairs.append((name, piece.strip()))
        parsed: _Parsed = (consent_value, tuple(pairs), {})
        if len(header) <= _MAX_CACHED_HEADER and len(pairs) <= _MAX_CACHED_PIECES:
            cache = self._parsed
            if len(cache) >= _PARSED_CACHE:
                cache.pop(next(iter(cache)))
            cache[header] = parsed
        return parsed

    def _filter(
        self, pairs: tuple[tuple[str, str], ...], mask: int
    ) -> tuple[bytes, tuple[str, ...]] | None:
        """``None`` when every cookie may pass under ``mask``; else the ``Cookie`` header
        to keep and the denied registered names to expire."""
        if not pairs or (mask == self._full_mask and self.unregistered != "block"):
            return None
        keep = self._keep[mask]
        decide = self._decide
        names = [name for name, _ in pairs]
        drop = {
            i for i, name in enumerate(names)
            if not (keep[name] if name in keep else decide(name, mask, False))
        }
        if not drop:
            return None
        kept = "; ".join(
            piece for i, (_, piece) in enumerate(pairs) if i not in drop and piece
        ).encode("latin-1")
        return kept, self._stale_names(names, drop)

    def _stale_names(self, names: list[str], drop: set[int]) -> tuple[str, ...]:
        """The denied registered names to expire: distinct, plausible, at most
        ``MAX_STALE_NAMES`` of them."""
        category = self.registry.category
        out: dict[str, None] = {}
        for i, name in enumerate(names):
            if (i in drop and name not in out and len(name) <= _MAX_PURGE_NAME
                    and category(name) is not None):
                out[name] = None
                if len(out) >= MAX_STALE_NAMES:
                    break
        return tuple(out)

    # -- response side ---------------------------------------------------------------------

    def response_start(
        self,
        message: Message,
        state: ConsentState,
        stale: tuple[str, ...],
        scope: Scope,
        raw: Mapping[bytes, bytes],
    ) -> Message:
        """Filter one ``http.response.start``; returns it unchanged when nothing applies.

        ``scope`` and ``raw`` (the request headers by name) are consulted only when the
        response must expire cookies the browser still holds.
        """
        headers = message.get("headers") or ()
        mask = state.mask
        keep = self._keep[mask]
        csp = self.csp
        csp_name = self._csp_name
        drop: list[Any] | None = None
        html = False
        app_csp = cache_control = None
        kinds = self._header_kinds
        # One scan that only reads; the copy is made once, and only if something changes.
        for header in headers:
            kind = kinds.get(header[0])
            if kind is None:
                kind = self._learn_header(header[0])
            if kind == _SET_COOKIE:
                cname, _, rest = header[1].partition(b"=")
                cname = cname.strip()
                ok = keep.get(cname)
                if ok is None:
                    ok = self._decide(cname, mask, report=True)
                # Expiring a cookie never needs consent (a deletion carries an empty value).
                if not ok and not (rest[:1] in _EMPTY_VALUE and _is_deletion(header[1])):
                    if drop is None:
                        drop = [header]
                    else:
                        drop.append(header)
            elif kind:
                if kind == _CONTENT_TYPE:
                    html = header[1][:9].lower() == b"text/html"
                elif kind == _CSP:
                    if app_csp is None:
                        app_csp = header
                else:
                    cache_control = header
        add_csp = html and csp is not None
        if drop is None and not stale and not add_csp:
            return message

        out = list(headers)
        if drop is not None:
            for header in drop:
                out.remove(header)  # the same object: found by identity
        if add_csp:
            assert csp is not None
            if app_csp is not None:
                # Only the app's first policy is merged; any further one stays as it was.
                i = out.index(app_csp)
                out[i] = (app_csp[0], csp.policy(mask, bytes(app_csp[1])))
            else:
                out.append((csp_name, csp.policy(mask)))
        # Visitor-specific: anything that depends on this visitor's choice. The strictest
        # CSP (nothing optional granted) is safe for anyone, so it alone does not count.
        if drop is not None or stale or (add_csp and mask != 0):
            if cache_control is None:
                out.append(_PRIVATE)
            else:
                _mark_private(out, out.index(cache_control))
        if stale:
            secure = scope.get("scheme") == "https"
            host = raw.get(b"host", b"").decode("latin-1")
            out.extend(self._stale_purge(stale, host, secure))
        new = dict(message)
        new["headers"] = out
        return new

    def _stale_purge(
        self, names: tuple[str, ...], host: str, secure: bool
    ) -> list[tuple[bytes, bytes]]:
        """Headers expiring ``names``, at most ``MAX_PURGE_BYTES`` of them; a name that
        does not fit waits for a later response."""
        if len(host) > _MAX_HOST + 6:  # not a DNS name (with a port): host-only purges
            host = ""
        out: list[tuple[bytes, bytes]] = []
        budget = MAX_PURGE_BYTES
        cache = self._purge_cache
        for name in names:
            # Cached per single name: the same leftovers come back from many visitors, and
            # one request's whole set of names never becomes a key.
            key = (name, host, secure)
            hit = cache.get(key)
            if hit is None:
                headers = self.expire_headers((name,), host, secure)
                hit = (headers, sum(len(k) + len(v) + 4 for k, v in headers))
                if len(cache) >= _PURGE_CACHE:
                    cache.pop(next(iter(cache)))
                cache[key] = hit
            if hit[1] <= budget:
                out.extend(hit[0])
                budget -= hit[1]
        return out

    def _learn_header(self, name: bytes) -> int:
        """The kind of a response header name in any letter case (names are the app's,
        so the bounded table soon holds them all and lookups are one dict probe)."""
        kind = self._header_kinds.get(bytes(name).lower(), 0)
        if len(self._header_kinds) < 512:
            self._header_kinds[name] = kind
        return kind

    def _decide(self, name: str | bytes, mask: int, report: bool) -> bool:
        """Whether cookie ``name`` may pass under ``mask``; remembered per mask (bounded:
        request cookie names are the visitor's to choose)."""
        cat = self.registry.category(name)
        if cat is None:
            ok = self.unregistered != "block"
            if report and self.unregistered == "report" and isinstance(name, bytes):
                # Reported from the app's Set-Cookie only: request names are not the app's.
                # Once reported, the answer is cached like any other.
                self._report(name)
            elif self.unregistered == "report":
                return ok  # not cached, so the app's first Set-Cookie is still reported
        else:
            ok = cat in self._mask_allowed[mask]
        keep = self._keep[mask]
        if len(keep) >= _KEEP_CACHE:
            keep.pop(next(iter(keep)))
        keep[name] = ok
        return ok

    def _report(self, name: bytes) -> None:
        text = name.decode("latin-1")
        if text in self.reported or len(self.reported) >= _MAX_REPORTED:
            return
        self.reported.add(text)
        log.warning(
            "unregistered cookie %r set by the app; add it to cookie_registry with a category",
            text,
        )

    # -- purge -----------------------------------------------------------------------------

    def expire_headers(
        self, names: Iterable[str], host: str, secure: bool, paths: Iterable[str] = ()
    ) -> list[tuple[bytes, bytes]]:
        """``Set-Cookie`` headers expiring ``names`` on every domain and path they may use.

        Domains: host-only, the host itself, each parent domain down to the registrable
        one (a browser ignores a public suffix such as ``co.uk``, so naming it is
        harmless) and any domain the registry gives. Paths: ``/``, the registry's path and
        ``paths``.
        """
        out: list[tuple[bytes, bytes]] = []
        base_domains = _domain_variants(host)
        for name in dict.fromkeys(names):
            if name.startswith("__Host-"):
                out.append((b"set-cookie", name.encode("latin-1") + _EXPIRED
                            + b"; Path=/; Secure"))
                continue
            domains = list(base_domains)
            path_set = dict.fromkeys(["/", *paths])
            for entry in self.registry.entries_for(name):
                if entry.domain and entry.party == "first":
                    domains.append(entry.domain.lstrip("."))
                path_set[entry.path] = None
            flags = b"; Secure" if secure or name.startswith("__Secure-") else b""
            encoded = name.encode("latin-1") + _EXPIRED
            for domain in dict.fromkeys(domains):
                dom = b"" if domain is None else b"; Domain=" + domain.encode("latin-1")
                for path in path_set:
                    out.append(
                        (b"set-cookie", encoded + b"; Path=" + path.encode("latin-1") + dom + flags)
                    )
        return out

    def purge_names(self, categories: Iterable[str], present: Iterable[str]) -> list[str]:
        """Cookie names to expire when ``categories`` are withdrawn: every exactly
        registered name of theirs (the operator's list, all of it), and the present
        cookies that match them (the visitor's to write: at most ``MAX_STALE_NAMES``
        plausible ones; the gate expires any left on later responses)."""
        cats = set(categories) - {NECESSARY}
        if not cats:
            return []
        names = dict.fromkeys(self.registry.exact_names(cats))
        category = self.registry.category
        extra = 0
        for name in present:
            if (extra < MAX_STALE_NAMES and name not in names and len(name) <= _MAX_PURGE_NAME
                    and category(name) in cats):
                names[name] = None
                extra += 1
        return list(names)

    # -- decisions -------------------------------------------------------------------------

    def record_decision(self, state: ConsentState, action: str = "decide") -> None:
        """Tell the statistics callback and the receipt log about an explicit decision.

        A withdrawal (``DELETE``) reaches the callback with source ``"withdraw"``: the
        banner follows it with the visitor's new choice, which must not count twice.
        """
        if self.on_decision is not None:
            source = "withdraw" if action == "withdraw" else "explicit"
            try:
                self.on_decision(state.decisions, source)
            except Exception:  # a counter must never break the visitor's choice
                log.exception("consent on_decision callback failed")
        if self.receipts is not None and state.consent_id is not None:
            self.receipts.append(
                state.consent_id, state.revision, state.decisions, action, state.decided_at
            )

    def describe(self) -> dict[str, Any]:
        """Categories with their text, for the banner."""
        return {
            "categories": [
                {"name": name, **self.text[name], "required": name == NECESSARY}
                for name in (NECESSARY, *OPTIONAL)
            ],
            "banner": {
                "title": self.text["banner"]["label"],
                "text": self.text["banner"]["description"],
            },
        }


def _put_state(scope: Scope, state: ConsentState) -> None:
    app_state = scope.get("state")
    if app_state is None:
        scope["state"] = {"consent": state}
    else:
        app_state["consent"] = state


def _is_deletion(value: bytes) -> bool:
    """Whether a ``Set-Cookie`` value only deletes its cookie: an empty value (or ``""``)
    and either a last ``Max-Age`` that is an integer <= 0 or, without ``Max-Age``, an
    ``Expires`` in the past. Anything unclear is not a deletion (the gate then drops it)."""
    pair, _, attributes = value.partition(b";")
    if pair.partition(b"=")[2].strip() not in (b"", b'""'):
        return False
    max_age: bytes | None = None
    expires: bytes | None = None
    for attribute in attributes.split(b";"):
        key, _, arg = attribute.partition(b"=")
        key = key.strip().lower()
        if key == b"max-age":
            max_age = arg.strip()
        elif key == b"expires":
            expires = arg.strip()
    if max_age is not None:
        digits = max_age[1:] if max_age[:1] == b"-" else max_age
        # Browsers ignore a Max-Age that is not an integer, and then Expires rules: treat
        # that as unclear rather than guess.
        # (Long digit strings are not parsed: int() on them is slow, and no app needs one.)
        return digits.isdigit() and len(digits) <= 18 and int(max_age) <= 0
    if expires is None:
        return False
    parsed = parsedate_tz(expires.decode("latin-1"))
    if parsed is None:
        return False
    return timegm(parsed[:6]) - (parsed[9] or 0) < time.time()


def _domain_variants(host: str) -> list[str | None]:
    """Host-only (``None``), the host, and its parents down to the registrable domain."""
    hostname = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    hostname = hostname.rstrip(".").lower()
    out: list[str | None] = [None]
    if len(hostname) > _MAX_HOST:
        return out
    # The Host header is the visitor's to write: only a plain DNS name becomes a Domain.
    if "." not in hostname or not _HOSTNAME.fullmatch(hostname):
        return out
    try:
        ipaddress.ip_address(hostname)
        return out  # an IP address takes no Domain attribute
    except ValueError:
        pass
    labels = hostname.split(".")
    suffixes = [".".join(labels[i:]) for i in range(len(labels) - 1)]
    if len(suffixes) > _MAX_DOMAIN_VARIANTS:
        # The host and the shortest parents (the registrable domain is among them).
        suffixes = [suffixes[0], *suffixes[-(_MAX_DOMAIN_VARIANTS - 1):]]
    out.extend(suffixes)
    return out


def _mark_private(headers: list[tuple[bytes, bytes]], index: int) -> None:
    """Make the app's ``Cache-Control`` private to shared caches, keeping its other
    directives (``public`` and ``s-maxage`` go)."""
    name, existing = headers[index]
    low = bytes(existing).lower()
    if b"private" in low or b"no-store" in low:
        return
    kept = [
        d.strip() for d in bytes(existing).split(b",")
        if d.strip() and d.strip().lower().split(b"=")[0] not in (b"public", b"s-maxage")
    ]
    headers[index] = (name, b", ".join([b"private", *kept]))


