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
#: How a withheld number (``None``) reads in the table.
WITHHELD = "\N{EN DASH}"
#: Below this console width the bar column goes, so the key column keeps room for words.
BAR_MIN_CONSOLE = 70
#: The key column never gets narrower than this, however narrow the terminal.
KEY_MIN_WIDTH = 16


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


def bar(value: float, maximum: float, width: int, *, ascii_only: bool = False) -> str:
    """A horizontal bar of ``width`` cells for ``value`` out of ``maximum``.

    ``ascii_only``: whole ``#`` cells, for a terminal whose encoding has no block glyphs.
    """
    if width <= 0 or maximum <= 0 or value <= 0:
        return ""
    if ascii_only:
        return "#" * max(1, round(min(value / maximum, 1.0) * width))
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
        what = f"{rows} row{'s' if rows != 1 else ''} withheld"
        if sup.get("pageviews") is not None and sup.get("visitors") is not None:
            what += f" ({sup['pageviews']} pageviews, {sup['visitors']} visitors)"
        parts.append(what)
    else:
        parts.append("none withheld")
    if report.get("totals_withheld"):
        parts.append(f"totals withheld (fewer than {k} visitors)")
    if report.get("noise_epsilon") is not None:
        parts.append(f"noise added (epsilon {report['noise_epsilon']})")
    return "; ".join(parts)


def _count(value: object, withheld: str = WITHHELD) -> str:
    # None is a withheld number (see beaconguard.stats.query), never a zero.
    if value is None:
        return withheld
    try:
        return f"{int(value):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return withheld


def render_table(
    report: Report,
    *,
    bar_width: int = 20,
    console_width: int | None = None,
    ascii_only: bool = False,
) -> Table:
    """A rich ``Table``: one line per row, with a bar of visitors beside the numbers.

    ``console_width`` (when known) shapes the table for the terminal: below
    :data:`BAR_MIN_CONSOLE` columns the bar column is left out, and the key column is never
    narrower than :data:`KEY_MIN_WIDTH`, so a narrow terminal still shows which row is which.
    ``ascii_only`` draws with ASCII characters only (rich picks an ASCII box by itself).
    """
    withheld = "-" if ascii_only else WITHHELD
    show_bar = bar_width > 0 and (console_width is None or console_width >= BAR_MIN_CONSOLE)
    if show_bar and console_width is not None:
        # What is left once the other columns have their room (about 36 cells).
        bar_width = max(8, min(bar_width, console_width - 36 - 30))
    by = str(report.get("by", "page"))
    dot = "-" if ascii_only else "·"
    title = f"Top {by} {dot} {report.get('from')} to {report.get('to')}"
    table = Table(
        title=title,
        caption=suppressed_note(report),
        box=box.SIMPLE_HEAD,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("#", justify="right", style="dim", no_wrap=True)
    table.add_column(by, overflow="fold", min_width=KEY_MIN_WIDTH, max_width=60)
    table.add_column("visitors", justify="right", no_wrap=True)
    if show_bar:
        table.add_column("", no_wrap=True, min_width=bar_width, max_width=bar_width, style="cyan")
    table.add_column("pageviews", justify="right", no_wrap=True)
    table.add_column("events", justify="right", no_wrap=True)
    rows = list(report.get("rows", ()))
    top = max((int(r.get("visitors", 0) or 0) for r in rows), default=0)
    for rank, row in enumerate(rows, 1):
        visitors = int(row.get("visitors", 0) or 0)
        cells: list[str | Text] = [
            str(rank),
            # Text(), not a str: a key is data, never rich markup.
            Text(key_label(row.get("key"), by)),
            f"{visitors:,}",
        ]
        if show_bar:
            cells.append(bar(visitors, top, bar_width, ascii_only=ascii_only))
        cells += [_count(row.get("pageviews", 0), withheld), _count(row.get("events", 0), withheld)]
        table.add_row(*cells)
    totals = report.get("totals") or {}
    if rows:
        table.add_section()
    total_cells: list[str | Text] = [
        "", Text("total", style="bold"), _count(totals.get("visitors"), withheld)
    ]
    if show_bar:
        total_cells.append("")
    total_cells += [
        _count(totals.get("pageviews"), withheld),
        _count(totals.get("events"), withheld),
    ]
    table.add_row(*total_cells)
    return table
