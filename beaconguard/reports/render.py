"""Turn one report (the dict :func:`beaconguard.stats.query.run_report` returns) into text.

Three shapes: JSON for scripts and the API, CSV for spreadsheets, and a terminal table with
a bar column for people. None of them drops suppressed rows silently: JSON carries the
``suppressed`` block, the table says it in its caption, and the CSV caller gets
:func:`suppressed_note` to print beside the data.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

import orjson
from rich import box
from rich.table import Table
from rich.text import Text

Report = Mapping[str, Any]

#: CSV columns, in order; the same names as the JSON rows.
CSV_COLUMNS = ("key", "pageviews", "visitors", "events")

# Eighths of a block, so a bar is as precise as one character cell allows.
_EIGHTHS = " ▏▎▍▌▋▊▉"
_FULL = "█"


def key_label(key: object, by: str) -> str:
    """How a row's key reads to people: an empty key (no referrer, unknown) gets words."""
    if key is None or key == "":
        return "(direct or none)" if by == "referrer" else "(none)"
    return str(key)


def render_json(report: Report, *, indent: bool = True) -> str:
    """The report as one JSON object (the API's and ``--format json``'s shape)."""
    option = orjson.OPT_INDENT_2 if indent else 0
    return orjson.dumps(report, option=option | orjson.OPT_NON_STR_KEYS).decode()


def render_csv(report: Report) -> str:
    """The report's rows as CSV with a header line; suppressed rows are not rows here."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.get("rows", ()):
        writer.writerow([_csv_safe(row.get(col, "")) for col in CSV_COLUMNS])
    return out.getvalue()


def _csv_safe(value: object) -> object:
    # A key such as "=HYPERLINK(...)" would run as a formula when the file is opened in a
    # spreadsheet; a leading apostrophe keeps it text (the OWASP advice for CSV export).
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def bar(value: float, maximum: float, width: int) -> str:
    """A horizontal bar of ``width`` cells for ``value`` out of ``maximum``."""
    if width <= 0 or maximum <= 0 or value <= 0:
        return ""
    eighths = round(min(value / maximum, 1.0) * width * 8)
    if eighths == 0:
        eighths = 1  # a non-zero value is never drawn as nothing
    full, rest = divmod(eighths, 8)
    return _FULL * full + (_EIGHTHS[rest] if rest else "")


def suppressed_note(report: Report) -> str:
    """One sentence on the k-threshold and what it withheld, e.g. for a table caption."""
    k = report.get("min_visitors")
    sup = report.get("suppressed") or {}
    rows = int(sup.get("rows", 0) or 0)
    parts = [f"rows with fewer than {k} visitor{'s' if k != 1 else ''} are withheld"]
    if rows:
        parts.append(
            f"{rows} row{'s' if rows != 1 else ''} withheld "
            f"({sup.get('pageviews', 0)} pageviews, {sup.get('visitors', 0)} visitors)"
        )
    else:
        parts.append("none withheld")
    if report.get("noise_epsilon") is not None:
        parts.append(f"noise added (epsilon {report['noise_epsilon']})")
    return "; ".join(parts)


def render_table(report: Report, *, bar_width: int = 20) -> Table:
    """A rich ``Table``: one line per row, with a bar of visitors beside the numbers."""
    by = str(report.get("by", "page"))
    title = f"Top {by} · {report.get('from')} to {report.get('to')}"
    table = Table(
        title=title,
        caption=suppressed_note(report),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column(by, overflow="fold", max_width=60)
    table.add_column("visitors", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True, min_width=bar_width, style="cyan")
    table.add_column("pageviews", justify="right", no_wrap=True)
    table.add_column("events", justify="right", no_wrap=True)
    rows = list(report.get("rows", ()))
    top = max((int(r.get("visitors", 0) or 0) for r in rows), default=0)
    for rank, row in enumerate(rows, 1):
        visitors = int(row.get("visitors", 0) or 0)
        table.add_row(
            str(rank),
            # Text(), not a str: a key is data, never rich markup.
            Text(key_label(row.get("key"), by)),
            f"{visitors:,}",
            bar(visitors, top, bar_width),
            f"{int(row.get('pageviews', 0) or 0):,}",
            f"{int(row.get('events', 0) or 0):,}",
        )
    totals = report.get("totals") or {}
    if rows:
        table.add_section()
    table.add_row(
        "",
        Text("total", style="bold"),
        f"{int(totals.get('visitors', 0) or 0):,}",
        "",
        f"{int(totals.get('pageviews', 0) or 0):,}",
        f"{int(totals.get('events', 0) or 0):,}",
    )
    return table
