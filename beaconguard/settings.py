"""One frozen ``Settings`` object that every part of beaconguard is built from.

Settings come from keyword arguments, ``BEACONGUARD_*`` environment variables or a TOML
file, and are validated once, at construction: a bad value raises ``ValueError`` naming
the field and what would be accepted, never a failure deep inside a request.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

IPMode = Literal["truncate", "hash", "drop"]
QueryMode = Literal["drop", "redact"]

_IP_MODES = ("truncate", "hash", "drop")
_QUERY_MODES = ("drop", "redact")
_STORE_SCHEMES = ("memory://", "sqlite:///", "redis://")

DEFAULT_QUERY_ALLOWLIST = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "ref",
)

_MIN_SECRET_LEN = 16
_PROP_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,31}")
# Labels between required dots (an optional dot inside a repeat backtracks exponentially).
_HOST_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,62}(?:\.[a-z0-9][a-z0-9-]{0,62})*\.?")


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything beaconguard needs to know, validated at construction.

    ``secret_key`` accepts one key or a list of keys, newest last: the newest signs and
    derives hashing keys, every key verifies (so keys can be rotated without logging
    every visitor out of their consent).
    """

    secret_key: tuple[str, ...] = ()
    # --- access log ---------------------------------------------------------------------
    access_log: str | None = None
    access_log_max_bytes: int = 0
    access_log_rotate: Literal["", "daily", "hourly"] = ""
    access_log_backups: int = 7
    log_buffer_size: int = 10_000
    log_flush_interval: float = 0.2
    log_headers: tuple[str, ...] = ()
    # --- anonymization ------------------------------------------------------------------
    ip_mode: IPMode = "truncate"
    ipv4_prefix: int = 24
    ipv6_prefix: int = 48
    trusted_proxies: tuple[str, ...] = ()
    query_allowlist: tuple[str, ...] = DEFAULT_QUERY_ALLOWLIST
    query_mode: QueryMode = "drop"
    ua_cache_size: int = 4096
    geoip_db: str | None = None
    # --- statistics ---------------------------------------------------------------------
    store: str = "sqlite:///var/stats.db"
    stats: bool = True
    flush_interval: float = 1.0
    retention_days: int = 400
    min_visitors: int = 5
    noise_epsilon: float | None = None
    cookieless: bool = False
    #: Other hosts whose pages may report through the beacon (static or CDN sites).
    beacon_hosts: tuple[str, ...] = ()
    #: Event property names the beacon accepts (``bg("signup", {"plan": "pro"})``).
    beacon_props: tuple[str, ...] = ()
    # --- reports ------------------------------------------------------------------------
    #: Bearer token of the report API and the dashboard: at least 16 visible ASCII
    #: characters (no spaces), since a header can carry nothing else.
    report_token: str | None = None
    #: Path of the Plausible-compatible ingest endpoint (e.g. ``/api/event``); off when unset.
    plausible_path: str | None = None
    # --- consent ------------------------------------------------------------------------
    consent: bool = True
    consent_cookie: str = "bg_consent"
    consent_max_age_days: int = 180
    policy_revision: int = 1
    gpc_denies_statistics: bool = False
    unregistered_cookies: Literal["block", "allow", "report"] = "report"
    cookie_registry: tuple[Mapping[str, Any], ...] = ()
    region_defaults: Mapping[str, str] = field(default_factory=dict)
    csp_mode: Literal["enforce", "report-only", "off"] = "enforce"
    consent_receipts: str | None = None
    third_party_hosts: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    consent_text: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    consent_clear_site_data: bool = False
    # --- routing ------------------------------------------------------------------------
    route_prefix: str = "/_bg"
    # --- performance --------------------------------------------------------------------
    #: Use the compiled per-request path (``beaconguard._speedups``) where it is built. Off,
    #: or without a C compiler at install, the Python path gives the same answers slower.
    speedups: bool = True

    def __post_init__(self) -> None:
        _set = object.__setattr__
        keys = _as_tuple(self.secret_key)
        for k in keys:
            if len(k) < _MIN_SECRET_LEN:
                raise ValueError(
                    f"secret_key: every key must be at least {_MIN_SECRET_LEN} characters "
                    f"(got one of {len(k)}); generate one with "
                    "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
                )
        _set(self, "secret_key", keys)
        _set(self, "trusted_proxies", _as_tuple(self.trusted_proxies))
        _set(self, "query_allowlist", _as_tuple(self.query_allowlist))
        _set(self, "beacon_hosts", tuple(h.lower() for h in _as_tuple(self.beacon_hosts)))
        _set(self, "beacon_props", _as_tuple(self.beacon_props))
        _set(self, "log_headers", tuple(h.lower() for h in _as_tuple(self.log_headers)))
        _set(self, "cookie_registry", _registry_entries(self.cookie_registry))
        _set(self, "region_defaults", dict(self.region_defaults))
        _set(self, "third_party_hosts", _host_lists(self.third_party_hosts))
        _set(self, "consent_text", dict(self.consent_text))
        if self.consent_receipts == "":
            _set(self, "consent_receipts", None)
        if self.access_log == "":
            _set(self, "access_log", None)
        if self.geoip_db == "":
            _set(self, "geoip_db", None)
        if self.report_token == "":
            _set(self, "report_token", None)
        if self.report_token is not None:
            _check_report_token(self.report_token)
        if self.plausible_path == "":
            _set(self, "plausible_path", None)
        if self.plausible_path is not None and (
            not self.plausible_path.startswith("/") or not self.plausible_path.isprintable()
            or " " in self.plausible_path
        ):
            raise ValueError(
                f"plausible_path: must be a path such as '/api/event', got {self.plausible_path!r}"
            )

        _choice("ip_mode", self.ip_mode, _IP_MODES)
        _choice("query_mode", self.query_mode, _QUERY_MODES)
        _choice("access_log_rotate", self.access_log_rotate, ("", "daily", "hourly"))
        _choice("unregistered_cookies", self.unregistered_cookies, ("block", "allow", "report"))
        _choice("csp_mode", self.csp_mode, ("enforce", "report-only", "off"))
        _int_range("ipv4_prefix", self.ipv4_prefix, 0, 32)
        _int_range("ipv6_prefix", self.ipv6_prefix, 0, 128)
        _int_range("access_log_max_bytes", self.access_log_max_bytes, 0, 1 << 40)
        _int_range("access_log_backups", self.access_log_backups, 0, 10_000)
        _int_range("log_buffer_size", self.log_buffer_size, 1, 10_000_000)
        _int_range("ua_cache_size", self.ua_cache_size, 1, 10_000_000)
        _int_range("retention_days", self.retention_days, 1, 100_000)
        _int_range("min_visitors", self.min_visitors, 1, 1_000_000)
        _int_range("consent_max_age_days", self.consent_max_age_days, 1, 3650)
        _int_range("policy_revision", self.policy_revision, 0, 1 << 31)
        if not self.flush_interval > 0:
            raise ValueError(f"flush_interval: must be > 0 seconds, got {self.flush_interval!r}")
        if not self.log_flush_interval > 0:
            raise ValueError(
                f"log_flush_interval: must be > 0 seconds, got {self.log_flush_interval!r}"
            )
        if self.noise_epsilon is not None and not self.noise_epsilon > 0:
            raise ValueError(f"noise_epsilon: must be > 0 or unset, got {self.noise_epsilon!r}")
        if not self.store.startswith(_STORE_SCHEMES):
            raise ValueError(
                f"store: {self.store!r} is not a store URL; use sqlite:///path/stats.db, "
                "redis://host:port/db or memory://"
            )
        for host in self.beacon_hosts:
            if not _HOST_NAME.fullmatch(host):
                raise ValueError(f"beacon_hosts: {host!r} is not a host name like cdn.example.com")
        for prop in self.beacon_props:
            if not _PROP_NAME.fullmatch(prop):
                raise ValueError(
                    f"beacon_props: {prop!r} is not a property name (letters, digits, _ . -; "
                    "at most 32)"
                )
        if not self.route_prefix.startswith("/") or self.route_prefix.endswith("/"):
            raise ValueError(
                f"route_prefix: must start with '/' and not end with one, got {self.route_prefix!r}"
            )
        for proxy in self.trusted_proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise ValueError(
                    f"trusted_proxies: {proxy!r} is not an IP address or CIDR network"
                ) from None
        if self.geoip_db is not None and not Path(self.geoip_db).is_file():
            raise ValueError(f"geoip_db: no file at {self.geoip_db!r}")
        _check_consent(self)

    # -- constructors ----------------------------------------------------------------------

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: Any
    ) -> Settings:
        """Build settings from ``BEACONGUARD_*`` variables.

        ``BEACONGUARD_CONFIG`` may name a TOML file read first; variables override it, and
        keyword ``overrides`` override both.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        config = env.get("BEACONGUARD_CONFIG")
        if config:
            values.update(_read_toml(Path(config)))
        by_name = {f.name: f for f in fields(cls)}
        for name, f in by_name.items():
            raw = env.get("BEACONGUARD_" + name.upper())
            if raw is None:
                continue
            values[name] = _from_string(f, raw)
        values.update(overrides)
        return cls(**values)

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str], **overrides: Any) -> Settings:
        """Build settings from a TOML file (top-level keys or a ``[beaconguard]`` table)."""
        values = _read_toml(Path(path))
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated like a new object)."""
        return dataclasses.replace(self, **changes)

    def require_secret(self) -> tuple[str, ...]:
        """The secret keys, or a clear start-up error when none is configured."""
        if not self.secret_key:
            raise ValueError(
                "secret_key: no secret configured. Set BEACONGUARD_SECRET_KEY (comma-separated "
                "keys, newest last) or pass Settings(secret_key=...)"
            )
        return self.secret_key

    @property
    def signing_key(self) -> bytes:
        """The newest secret key, as bytes: it signs and derives hashing keys."""
        return self.require_secret()[-1].encode()


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return tuple(str(v) for v in value)


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{name}: {value!r} is not one of {', '.join(map(repr, allowed))}")


def _int_range(name: str, value: object, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name}: must be a whole number from {lo} to {hi}, got {value!r}")


def _registry_entries(value: Any) -> tuple[Mapping[str, Any], ...]:
    """Registry entries as tables; ``"name:category"`` strings (the env-var form) too."""
    if isinstance(value, str | Mapping):
        value = _as_tuple(value) if isinstance(value, str) else (value,)
    out: list[Mapping[str, Any]] = []
    for i, entry in enumerate(value):
        if isinstance(entry, str):
            name, sep, category = entry.rpartition(":")
            if not sep or not name.strip():
                raise ValueError(
                    f"cookie_registry[{i}]: {entry!r} is not NAME:CATEGORY (e.g. _ga:statistics)"
                )
            entry = {"name": name.strip(), "category": category.strip()}
        out.append(entry)
    return tuple(out)


def _host_lists(value: Any) -> dict[str, tuple[str, ...]]:
    """``{category: hosts}``; a string of hosts (the env-var form) is split on spaces."""
    if not isinstance(value, Mapping):
        raise ValueError("third_party_hosts: must map a category to a list of hosts")
    out = {}
    for cat, hosts in value.items():
        if isinstance(hosts, str):
            hosts = hosts.split()
        out[str(cat)] = tuple(str(h) for h in hosts)
    return out


def _check_consent(s: Settings) -> None:
    """Validate the consent settings by building what the gate builds from them."""
    # Imported here: the consent package builds on Settings.
    from beaconguard.consent.categories import CATEGORIES, category_text
    from beaconguard.consent.csp import check_host
    from beaconguard.consent.regions import expand_regions
    from beaconguard.consent.registry import CookieRegistry

    if not s.consent_cookie or any(c in s.consent_cookie for c in "=; ,\t\r\n\"'"):
        raise ValueError(f"consent_cookie: {s.consent_cookie!r} is not a valid cookie name")
    CookieRegistry(s.cookie_registry)
    expand_regions(s.region_defaults)
    category_text(s.consent_text)
    for cat, hosts in s.third_party_hosts.items():
        if cat not in CATEGORIES:
            raise ValueError(
                f"third_party_hosts: unknown category {cat!r}; use one of {', '.join(CATEGORIES)}"
            )
        for host in hosts:
            check_host(host)


def _from_string(f: dataclasses.Field[Any], raw: str) -> Any:
    """Turn one environment variable into the field's type, with a helpful error."""
    default = f.default if f.default is not dataclasses.MISSING else None
    name = f.name
    kind = str(f.type)
    if kind.startswith("tuple"):
        return _as_tuple(raw)
    if kind.startswith("Mapping"):
        # KEY=VALUE,KEY=VALUE
        out = {}
        for part in _as_tuple(raw):
            key, sep, val = part.partition("=")
            if not sep:
                raise ValueError(f"BEACONGUARD_{name.upper()}: expected KEY=VALUE, got {part!r}")
            out[key.strip()] = val.strip()
        return out
    if isinstance(default, bool) or kind == "bool":
        low = raw.strip().lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"BEACONGUARD_{name.upper()}: expected true or false, got {raw!r}")
    if kind == "int" or (isinstance(default, int) and "float" not in kind):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(
                f"BEACONGUARD_{name.upper()}: expected a whole number, got {raw!r}"
            ) from None
    if "float" in kind:
        if raw.strip() == "" and "None" in kind:
            return None
        try:
            return float(raw)
        except ValueError:
            raise ValueError(
                f"BEACONGUARD_{name.upper()}: expected a number, got {raw!r}"
            ) from None
    return raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ValueError(f"config: no TOML file at {str(path)!r}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config: {path} is not valid TOML: {exc}") from None
    table = data.get("beaconguard", data)
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ValueError(f"config: unknown setting(s) in {path}: {', '.join(unknown)}")
    return dict(table)


_MIN_TOKEN_LEN = 16


def _check_report_token(token: str) -> None:
    # The Authorization header is latin-1 and stripped before the compare: a token with
    # spaces or non-ASCII characters could never match, and a short one is guessable.
    if not isinstance(token, str) or not all("!" <= ch <= "~" for ch in token):
        raise ValueError(
            "report_token: use visible ASCII characters only, without spaces (a stray space "
            "or newline from a config file would never match the header)"
        )
    if len(token) < _MIN_TOKEN_LEN:
        raise ValueError(
            f"report_token: must be at least {_MIN_TOKEN_LEN} characters (got {len(token)}); "
            "generate one with `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
