"""Anonymized records written back out: in the input's own text format, or as JSON lines.

The text formats keep the shape of the input (``common``, ``combined``, combined with an
X-Forwarded-For column) so tools that read the original log still read the cleaned one.
Only what the pipeline produced is written: ``ident`` and ``authuser`` are always ``-``,
the X-Forwarded-For column is always ``"-"``, and the user-agent column holds the
classification (``Firefox/125 (Linux; desktop)``), never the original string.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

from beaconguard.anonymize.pipeline import Record
from beaconguard.offline.parse import LogLine

OUT_FORMATS = ("same", "json")

#: ``format(record, line) -> bytes``: the anonymized record, shaped like its source line.
Formatter = Callable[[Record, LogLine], bytes]
_PROTOCOLS = frozenset({"HTTP/0.9", "HTTP/1.0", "HTTP/1.1", "HTTP/2.0", "HTTP/2", "HTTP/3"})


def malformed_marker(line_number: int, json_out: bool) -> bytes:
    """What stands in for a line that did not parse: its number and nothing of it."""
    if json_out:
        return b'{"malformed":true,"line":%d}\n' % line_number
    return b"# beaconguard: malformed line %d redacted\n" % line_number


def _quoted(value: str) -> str:
    if '"' in value or "\\" in value:
        value = value.replace("\\", "\\\\").replace('"', '\\"')
    return value


def ua_summary(record: Record) -> str:
    """The user-agent column of a cleaned text log: the classification, not the string."""
    return _ua_column(
        record.get("browser"),
        record.get("browser_version"),
        record.get("os"),
        record.get("device"),
        record.get("bot_reason"),
    )


@lru_cache(maxsize=1024)
def _ua_column(
    browser: str | None, version: str | None, os: str | None, device: str | None,
    reason: str | None,
) -> str:
    name = f"{browser or 'Other'}/{version}" if version else browser or "Other"
    detail = f"{os or 'Other'}; {device or 'other'}"
    if reason:
        detail += f"; bot={reason}"
    return _quoted(f"{name} ({detail})")


@lru_cache(maxsize=4096)
def _request_column(method: str, path: str, query: str | None, protocol: str) -> str:
    target = f"{path}?{query}" if query else path
    return f"{method} {_quoted(target)} {protocol if protocol in _PROTOCOLS else 'HTTP/1.1'}"


_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")


class _ClfTime:
    """The record's ``2000-10-10T13:55:36Z`` as ``10/Oct/2000:13:55:36 +0000``, once a second."""

    __slots__ = ("iso", "text")

    def __init__(self) -> None:
        self.iso = ""
        self.text = ""

    def __call__(self, iso: str) -> str:
        if iso != self.iso:
            self.iso = iso
            try:
                month = _MONTHS[int(iso[5:7])]
                self.text = f"{iso[8:10]}/{month}/{iso[0:4]}:{iso[11:19]} +0000"
            except (ValueError, IndexError):
                self.text = "01/Jan/1970:00:00:00 +0000"
        return self.text


def make_text_formatter() -> Formatter:
    """Build ``format(record, line) -> bytes`` for common/combined output."""
    clf_time = _ClfTime()

    def format_text(record: Record, line: LogLine) -> bytes:
        request = _request_column(
            record["method"], record["path"], record["query"], line.protocol
        )
        head = (
            f"{record['client'] or '-'} - - [{clf_time(record['time'])}] "
            f'"{request}" {record["status"]} {record["bytes"]}'
        )
        if line.shape == "common":
            return (head + "\n").encode("utf-8", "replace")
        referrer = _quoted(record["referrer"] or "-")
        tail = "\n" if line.forwarded_for is None else ' "-"\n'
        return f'{head} "{referrer}" "{ua_summary(record)}"{tail}'.encode("utf-8", "replace")

    return format_text


def format_json(record: Record, line: LogLine | None = None) -> bytes:
    """One record as a JSON line, the same shape as beaconguard's own access log."""
    import orjson  # here: text output never needs it (see parse_json)

    return orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)


def make_formatter(out_format: str) -> Formatter:
    """``same``: text lines keep their shape and JSON lines stay JSON; ``json``: all JSON."""
    if out_format not in OUT_FORMATS:
        raise ValueError(f"out-format: {out_format!r} is not one of {', '.join(OUT_FORMATS)}")
    if out_format == "json":
        return format_json
    text = make_text_formatter()

    def format_same(record: Record, line: LogLine) -> bytes:
        if line.shape == "json":
            return format_json(record)
        return text(record, line)

    return format_same

