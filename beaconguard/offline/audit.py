"""Audit: scan any log, raw or anonymized, for identifiers that should not be there.

Kinds found: ``ipv4`` and ``ipv6`` addresses more precise than the configured prefix,
``email``, ``phone``, ``token`` (long API-key/session-id/hex/UUID shapes), ``jwt``,
``cookie`` (session-like ``name=value`` pairs and cookie columns) and ``user`` (the
authenticated-user column). Lines that parse as access-log lines are scanned field by field
(so a status and byte count side by side are not a phone number); other lines are
scanned whole. The auditor also counts distinct full client addresses per truncated
prefix: a prefix that only a handful of clients share singles them out again.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

import orjson

from beaconguard.anonymize.identifiers import EMAIL, HEX, IPV4, JWT, PHONE, TOKEN, UUID
from beaconguard.anonymize.ip import IPAddress, truncate
from beaconguard.anonymize.ip import parse as parse_ip
from beaconguard.offline.parse import LogLine, make_text_parser, parse_json
from beaconguard.settings import Settings

KINDS = ("ipv4", "ipv6", "email", "phone", "token", "jwt", "cookie", "user")

_IPV6 = re.compile(
    r"(?<![0-9A-Za-z:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?"
    r"(?![0-9A-Za-z:])"
)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DIGIT = re.compile(r"\d")
# A session-like name=value pair: in query strings, cookie columns, headers logged by
# mistake. Any name=value pair is found first and its name judged after: one pattern that
# looked for the keyword inside the name backtracked quadratically on a long name.
_PAIR = re.compile(r"(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]+)=([^;&\s\"',}{]{6,})")
_SESSION_NAME = re.compile(
    r"(?i)sess|sid|token|auth|csrf|xsrf|jwt|remember|_ga|_gid|_fbp|login"
)
_PIECES = re.compile(r"[^/?&=;,\s()\"'<>\[\]{}|:@#]+")
_PSEUDONYM = re.compile(r"[0-9a-f]{16}")
_CLIENT_KEYS = frozenset({"client", "remote_addr", "client_ip", "remote_ip", "ip", "ClientHost"})
_TIME_KEYS = frozenset({"time", "time_iso8601", "timestamp", "@timestamp", "ts", "time_local",
                        "msec", "StartUTC"})
_COOKIE_KEYS = frozenset({"cookie", "http_cookie", "set-cookie", "sent_http_set_cookie",
                          "Cookie", "Set-Cookie", "request_Cookie"})
#: Groups of distinct clients are counted up to this size (memory stays bounded).
GROUP_CAP = 1000


@dataclass(slots=True)
class AuditReport:
    """What an audit found: per kind, how many lines and which (the first ``keep``)."""

    lines: int = 0
    parsed: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)
    #: Distinct full client addresses per truncated prefix.
    groups: dict[str, set[str]] = field(default_factory=dict)
    #: Client values that were already truncated (their group size cannot be known).
    truncated_clients: int = 0

    @property
    def clean(self) -> bool:
        return not self.counts

    def small_groups(self, k: int) -> int:
        """How many prefixes fewer than ``k`` distinct clients share."""
        return sum(1 for members in self.groups.values() if len(members) < k)

    def as_dict(self, k: int) -> dict[str, Any]:
        sizes = sorted(len(m) for m in self.groups.values())
        return {
            "lines": self.lines,
            "parsed": self.parsed,
            "clean": self.clean,
            "findings": {
                kind: {"lines": self.counts[kind], "first_lines": self.examples[kind]}
                for kind in KINDS
                if kind in self.counts
            },
            "prefixes": {
                "prefixes": len(sizes),
                "addresses": sum(sizes),
                "min_group": k,
                "small_groups": self.small_groups(k),
                "median_group": sizes[len(sizes) // 2] if sizes else None,
                "already_truncated_clients": self.truncated_clients,
            },
        }


class Auditor:
    """Scans lines; ``feed(number, line)`` each, then read :attr:`report`."""

    def __init__(self, settings: Settings, *, keep: int = 20) -> None:
        self.v4_prefix = settings.ipv4_prefix
        self.v6_prefix = settings.ipv6_prefix
        self.keep = keep
        self.report = AuditReport()
        self._parse_text = make_text_parser("auto")

    # -- findings ------------------------------------------------------------------------

    def _found(self, kinds: set[str], number: int) -> None:
        counts, examples = self.report.counts, self.report.examples
        for kind in kinds:
            counts[kind] = counts.get(kind, 0) + 1
            seen = examples.setdefault(kind, [])
            if len(seen) < self.keep:
                seen.append(number)

    def _too_precise(self, ip: IPAddress) -> str | None:
        """``ipv4``/``ipv6`` when ``ip`` has bits set beyond the configured prefix."""
        if truncate(ip, self.v4_prefix, self.v6_prefix) == str(ip):
            return None
        return "ipv4" if isinstance(ip, ipaddress.IPv4Address) else "ipv6"

    def scan_text(self, text: str, kinds: set[str]) -> None:
        """Add the kinds of identifier ``text`` holds to ``kinds`` (percent-encoded too)."""
        if "%" in text or "+" in text:
            decoded = unquote_plus(text, errors="replace")
            if decoded != text:
                self._scan(decoded, kinds)
        self._scan(text, kinds)

    def _scan(self, text: str, kinds: set[str]) -> None:
        if "." in text:
            for m in IPV4.finditer(text):
                ip = parse_ip(m.group())
                if ip is not None and (kind := self._too_precise(ip)):
                    kinds.add(kind)
        if ":" in text:
            for m in _IPV6.finditer(text):
                ip = parse_ip(m.group())
                if ip is not None and (kind := self._too_precise(ip)):
                    kinds.add(kind)
        if "@" in text and EMAIL.search(text):
            kinds.add("email")
        if "eyJ" in text and JWT.search(text):
            kinds.add("jwt")
        if "=" in text and any(
            not value.startswith("{") and _SESSION_NAME.search(name)
            for name, value in _PAIR.findall(text)
        ):
            kinds.add("cookie")
        if len(text) >= 16:
            # Token shapes are judged piece by piece: a whole URL is letters, digits and
            # slashes too, without being a token.
            for piece in _PIECES.findall(text):
                if len(piece) >= 16 and (
                    HEX.search(piece) or UUID.search(piece) or TOKEN.fullmatch(piece)
                ):
                    kinds.add("token")
                    break
        for m in PHONE.finditer(text):
            if _is_phone(m.group()):
                kinds.add("phone")
                break

    # -- clients -------------------------------------------------------------------------

    def _client(self, value: str, kinds: set[str]) -> None:
        if not value or value == "-":
            return
        ip = parse_ip(value)
        if ip is None:
            if not _PSEUDONYM.fullmatch(value):
                self.scan_text(value, kinds)
            return
        prefix = truncate(ip, self.v4_prefix, self.v6_prefix)
        if prefix == str(ip):
            self.report.truncated_clients += 1
            return
        kinds.add("ipv4" if isinstance(ip, ipaddress.IPv4Address) else "ipv6")
        members = self.report.groups.setdefault(prefix, set())
        if len(members) < GROUP_CAP:
            members.add(str(ip))

    # -- lines ---------------------------------------------------------------------------

    def feed(self, number: int, line: str | None) -> None:
        self.report.lines += 1
        if not line:
            return
        kinds: set[str] = set()
        if line[:1] == "{":
            self._json_line(line, kinds)
        else:
            parsed = self._parse_text(line)
            if parsed is None:
                self.scan_text(line, kinds)
            else:
                self.report.parsed += 1
                self._text_line(parsed, kinds)
        if kinds:
            self._found(kinds, number)

    def _text_line(self, line: LogLine, kinds: set[str]) -> None:
        self._client(line.client, kinds)
        if line.remote_user not in ("-", ""):
            kinds.add("user")
        for text in (line.target, line.referer, line.user_agent, line.forwarded_for or ""):
            if text:
                self.scan_text(text, kinds)

    def _json_line(self, line: str, kinds: set[str]) -> None:
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            self.scan_text(line, kinds)
            return
        if parse_json(line) is not None:
            self.report.parsed += 1
        for key, value in _walk(obj):
            if key in _TIME_KEYS:
                continue
            if key in _CLIENT_KEYS and isinstance(value, str):
                self._client(value, kinds)
            elif key in _COOKIE_KEYS and value not in ("", "-", None, []):
                kinds.add("cookie")
            elif key in ("remote_user", "user_id") and value not in ("", "-", None):
                kinds.add("user")
            elif isinstance(value, str):
                self.scan_text(value, kinds)

    def feed_all(self, lines: Iterable[str | None]) -> AuditReport:
        for number, line in enumerate(lines, 1):
            self.feed(number, line)
        return self.report


def _walk(obj: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, leaf value) of a JSON document; list items inherit their list's key."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, dict | list) and str(k) not in _COOKIE_KEYS:
                yield from _walk(v, str(k))
            else:
                yield str(k), v
    elif isinstance(obj, list):
        for item in obj:
            yield from _walk(item, key)
    else:
        yield key, obj


def _is_phone(candidate: str) -> bool:
    digits = len(_DIGIT.findall(candidate))
    if not 8 <= digits <= 15 or _DATE.search(candidate):
        return False
    # A dotted run of numbers is a version or an address, not a phone number.
    return not (candidate.count(".") >= 2 and " " not in candidate)

