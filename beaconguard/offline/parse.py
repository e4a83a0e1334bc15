"""Parsers for web-server log lines: Apache/nginx combined and common, and JSON lines.

Quoted fields are read as the servers write them: a backslash escapes the next character
(Apache writes ``\\"`` and ``\\\\``), and ``\\xHH`` is a byte (nginx writes ``\\x22`` for a
quote and escapes every non-ASCII byte this way). A line is accepted only when the whole of
it has the expected shape; anything else (truncated lines, binary garbage, a request line
cut short) is ``None``, so the caller can redact it instead of guessing.

Each parser returns a :class:`LogLine` holding raw values: it is as sensitive as the line
itself and only the anonymize pipeline may read it.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, NamedTuple, cast

FORMATS = ("auto", "combined", "common", "json")

#: Longer lines are malformed: no server writes them, and a line is held in memory whole.
MAX_LINE = 64 * 1024


class LogLine(NamedTuple):
    """The raw fields of one access-log line (in memory only, like a ``Visit``)."""

    client: str
    time: float
    method: str
    target: str
    protocol: str
    status: int
    bytes_sent: int
    referer: str
    user_agent: str
    #: The X-Forwarded-For column, when the format has one (``None`` when it has not).
    forwarded_for: str | None
    host: str = ""
    duration_ms: float = 0.0
    #: Which text shape the line had: ``"common"``, ``"combined"`` or ``"json"``.
    shape: str = "combined"
    #: The authenticated user column (``%u``): an identifier, only ``audit`` reads it.
    remote_user: str = "-"
    #: The response's content type, when a JSON log has it (text formats do not).
    content_type: str = ""


# A quoted field: the unrolled form of (non-quote-non-backslash | backslash-anything)*,
# which the regex engine runs without backtracking on long user agents.
_Q = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
_HEAD = r"(\S+) (\S+) (\S+) \[([^\]]{1,64})\] " + _Q + r" (\d{3}) (\d+|-)"
_HEAD_ONLY = re.compile(r"(\S+) (\S+) (\S+) \[([^\]]{1,64})\] ")
_COMMON = re.compile(_HEAD + r"\s*")
_COMBINED = re.compile(_HEAD + " " + _Q + " " + _Q + "(?: " + _Q + r")?\s*")
_ANY_TEXT = re.compile(_HEAD + "(?: " + _Q + " " + _Q + "(?: " + _Q + r")?)?\s*")

_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.S)
_SIMPLE_ESCAPES = {b"n": b"\n", b"t": b"\t", b"r": b"\r", b"v": b"\v", b"f": b"\f"}
_CLF_TIME = re.compile(
    r"(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_MONTHS = {m: i for i, m in enumerate(calendar.month_abbr) if m}
_NO_COMBINED = (None, None, None)
_PROTOCOL = re.compile(r"HTTP/\d(?:\.\d)?")


def _unescape_byte(m: re.Match[bytes]) -> bytes:
    esc = m.group(1)
    if len(esc) == 3:
        return bytes((int(esc[1:], 16),))
    return _SIMPLE_ESCAPES.get(esc, esc)


def unescape(field: str) -> str:
    """A quoted log field with its backslash escapes undone (bytes decoded as UTF-8)."""
    if "\\" not in field:
        return field
    raw = _ESCAPE.sub(_unescape_byte, field.encode("utf-8", "surrogateescape"))
    return raw.decode("utf-8", "replace")


def parse_clf_time(text: str) -> float | None:
    """``10/Oct/2000:13:55:36 -0700`` as a Unix time, or ``None``."""
    m = _CLF_TIME.fullmatch(text)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, tzh, tzm = m.groups()
    month = _MONTHS.get(mon)
    if month is None:
        return None
    try:
        # datetime validates the calendar (no 31 February) where timegm would not.
        when = _dt.datetime(int(year), month, int(day), int(hh), int(mm), int(ss))
    except ValueError:
        return None
    offset = (int(tzh) * 60 + int(tzm)) * 60
    if offset > 18 * 3600:
        return None
    return calendar.timegm(when.timetuple()) - (offset if sign == "+" else -offset)


def parse_iso_time(value: Any) -> float | None:
    """An ISO 8601 time or a Unix time in seconds (as JSON logs hold them), or ``None``."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if 0 <= value < 1e11 else None
    if not isinstance(value, str) or len(value) > 40:
        return None
    text = value.strip()
    try:
        return float(text) if 0 <= float(text) < 1e11 else None
    except ValueError:
        pass
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:
        return parse_clf_time(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.timestamp()


def split_request(request: str) -> tuple[str, str, str] | None:
    """``"GET /a?b HTTP/1.1"`` → ``("GET", "/a?b", "HTTP/1.1")``; ``None`` if it is not one.

    HTTP/0.9 lines (``GET /``) have no protocol; ``"-"`` (no request was read, e.g. a
    timeout) gives an empty method and target.
    """
    if request == "-" or not request:
        return "", "", ""
    parts = request.split(" ")
    if len(parts) == 3:
        method, target, protocol = parts
        if not _PROTOCOL.fullmatch(protocol):
            return None
    elif len(parts) == 2:
        method, target = parts
        protocol = ""
    else:
        return None
    if not method or not target:
        return None
    return method, target, protocol


def _request(text: str) -> tuple[str, str, str] | None:
    return split_request(unescape(text))


class _TimeCache:
    """Log lines arrive in time order, so one remembered timestamp saves almost every parse."""

    __slots__ = ("text", "value")

    def __init__(self) -> None:
        self.text = ""
        self.value: float | None = None

    def __call__(self, text: str) -> float | None:
        if text != self.text:
            self.text = text
            self.value = parse_clf_time(text)
        return self.value


#: client, ident, user, time, request, status, size, referer, user agent, forwarded-for
Groups = tuple[str, str, str, str, str, str, str, str | None, str | None, str | None]

#: How many ``"``-separated parts each shape has when no field holds an escape.
_PARTS = {"common": (3,), "combined": (7, 9), "auto": (3, 7, 9)}


_STATUS_CODES = frozenset(str(n) for n in range(100, 1000))


def split_plain(line: str, parts_allowed: tuple[int, ...]) -> Groups | None:
    """The regex's groups for a line without backslashes, found by splitting on quotes.

    With no escape in the line every ``"`` delimits a field, so this is the same grammar
    as the regular expression, checked piece by piece, at a fraction of its cost. ``None``
    means "not this shape": the caller then asks the regular expression.
    """
    parts = line.split('"')
    n = len(parts)
    if n not in parts_allowed:
        return None
    head = _HEAD_ONLY.fullmatch(parts[0])
    if head is None:
        return None
    client, ident, user, when = head.groups()
    mid = parts[2]
    if n == 3:
        mid = mid.rstrip()
    elif mid[-1:] != " " or parts[4] != " ":
        return None
    numbers = mid.split(" ")
    if len(numbers) != (3 if n == 3 else 4) or numbers[0]:
        return None
    status, size = numbers[1], numbers[2]
    if status not in _STATUS_CODES or not (size == "-" or (size.isascii() and size.isdigit())):
        return None
    if n == 3:
        return client, ident, user, when, parts[1], status, size, None, None, None
    if n == 7:
        if parts[6].strip():
            return None
        return client, ident, user, when, parts[1], status, size, parts[3], parts[5], None
    if parts[6] != " " or parts[8].strip():
        return None
    return client, ident, user, when, parts[1], status, size, parts[3], parts[5], parts[7]


def make_text_parser(fmt: str) -> Callable[[str], LogLine | None]:
    """Build ``parse(line) -> LogLine | None`` for ``combined``, ``common`` or both."""
    pattern = {"combined": _COMBINED, "common": _COMMON, "auto": _ANY_TEXT}[fmt]
    match = pattern.fullmatch
    parts_allowed = _PARTS[fmt]
    clf_time = _TimeCache()
    requests = lru_cache(maxsize=4096)(_request)

    def parse_text(line: str) -> LogLine | None:
        groups = None if "\\" in line else split_plain(line, parts_allowed)
        if groups is None:
            m = match(line)
            if m is None:
                return None
            found = m.groups()
            groups = cast(Groups, found + _NO_COMBINED if len(found) == 7 else found)
        client, _ident, user, when, request, status, size, referer, ua, xff = groups
        moment = clf_time(when)
        if moment is None:
            return None
        req = requests(request)
        if req is None:
            return None
        shape = "common" if ua is None else "combined"
        return LogLine(
            client,
            moment,
            req[0],
            req[1],
            req[2],
            int(status),
            0 if size == "-" else int(size),
            "" if referer is None or referer == "-" else unescape(referer),
            "" if ua is None or ua == "-" else unescape(ua),
            None if xff is None else unescape(xff),
            "",
            0.0,
            shape,
            user,
        )

    return parse_text


# Field names JSON access logs use (nginx ``escape=json`` formats, Caddy, Traefik, ...),
# in order of preference.
_J_CLIENT = ("remote_addr", "client_ip", "remote_ip", "client", "ip", "ClientHost")
_J_TIME = ("time", "time_iso8601", "timestamp", "@timestamp", "ts", "time_local", "msec",
           "StartUTC")
_J_METHOD = ("request_method", "method", "RequestMethod")
_J_TARGET = ("request_uri", "uri", "url", "RequestPath")
_J_STATUS = ("status", "status_code", "DownstreamStatus")
_J_BYTES = ("body_bytes_sent", "bytes_sent", "size", "bytes", "DownstreamContentSize")
_J_REFERER = ("http_referer", "referer", "referrer")
_J_UA = ("http_user_agent", "user_agent", "ua", "request_User-Agent")
_J_XFF = ("http_x_forwarded_for", "x_forwarded_for", "request_X-Forwarded-For")
_J_CONTENT_TYPE = ("sent_http_content_type", "content_type", "downstream_Content-Type")
_J_HOST = ("host", "http_host", "server_name", "RequestHost")


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = obj.get(key)
        if value is not None:
            return value
    return None


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 16:
        return int(value)
    return None


def _caddy_header(headers: Any, name: str) -> str:
    if isinstance(headers, dict):
        value = headers.get(name)
        if isinstance(value, list) and value and isinstance(value[0], str):
            return value[0]
    return ""


def parse_json(line: str) -> LogLine | None:
    """One JSON access-log object (flat nginx/Traefik fields, or Caddy's nested request)."""
    # Imported here: a text log never needs it, and its import costs a run ~10 ms.
    import orjson

    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(obj, dict):
        return None
    req = obj.get("request")
    if isinstance(req, dict):
        # Caddy: {"ts":..., "request":{"client_ip","method","host","uri","headers"},...}
        headers = req.get("headers")
        client = _str(req.get("client_ip") or req.get("remote_ip"))
        method, target = _str(req.get("method")), _str(req.get("uri"))
        protocol = _str(req.get("proto"))
        host = _str(req.get("host"))
        referer = _caddy_header(headers, "Referer")
        ua = _caddy_header(headers, "User-Agent")
        xff: str | None = _caddy_header(headers, "X-Forwarded-For") or None
        content_type = _caddy_header(obj.get("resp_headers"), "Content-Type")
    else:
        client = _str(_first(obj, _J_CLIENT))
        method, target = _str(_first(obj, _J_METHOD)), _str(_first(obj, _J_TARGET))
        protocol = _str(obj.get("server_protocol") or obj.get("protocol"))
        if not method and isinstance(req, str):
            split = split_request(req)
            if split is None:
                return None
            method, target, protocol = split
        elif target and isinstance(obj.get("query_string") or obj.get("args"), str):
            query = obj.get("query_string") or obj.get("args")
            if query and "?" not in target:
                target = f"{target}?{query}"
        host = _str(_first(obj, _J_HOST))
        referer = _str(_first(obj, _J_REFERER))
        ua = _str(_first(obj, _J_UA))
        xff_value = _first(obj, _J_XFF)
        xff = xff_value if isinstance(xff_value, str) else None
        content_type = _str(_first(obj, _J_CONTENT_TYPE))
    moment = parse_iso_time(_first(obj, _J_TIME))
    status = _int(_first(obj, _J_STATUS))
    if moment is None or status is None or not 0 <= status <= 999:
        return None
    if not method and not target and not isinstance(req, str):
        return None
    size = _int(_first(obj, _J_BYTES)) or 0
    duration = _duration_ms(obj)
    return LogLine(
        client,
        moment,
        method,
        target,
        protocol,
        status,
        size,
        "" if referer == "-" else referer,
        "" if ua == "-" else ua,
        None if xff in (None, "-") else xff,
        host,
        duration,
        "json",
        _str(obj.get("remote_user")) or "-",
        content_type,
    )


def _duration_ms(obj: dict[str, Any]) -> float:
    ms = obj.get("duration_ms")
    if isinstance(ms, int | float) and not isinstance(ms, bool):
        return float(ms)
    seconds = obj.get("request_time", obj.get("duration"))
    if isinstance(seconds, str):
        try:
            seconds = float(seconds)
        except ValueError:
            return 0.0
    if isinstance(seconds, int | float) and not isinstance(seconds, bool):
        return float(seconds) * 1000.0
    return 0.0


def make_parser(fmt: str = "auto") -> Callable[[str], LogLine | None]:
    """``parse(line) -> LogLine | None`` for one of :data:`FORMATS`.

    ``auto`` reads each line as JSON when it starts with ``{`` and as combined or common
    otherwise, so mixed files work.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt == "json":
        return parse_json
    text = make_text_parser(fmt)
    if fmt != "auto":
        return text

    def parse_auto(line: str) -> LogLine | None:
        if line[:1] == "{":
            return parse_json(line)
        return text(line)

    return parse_auto
