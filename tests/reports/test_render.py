"""Renderers of a report dict (hand-built here: these tests are about the text, not the query)."""

from __future__ import annotations

import csv
import io

import orjson
from rich.console import Console

from beaconguard.reports.render import bar, render_csv, render_json, render_table, suppressed_note


def report(rows=None, suppressed=None, noise=None):  # type: ignore[no-untyped-def]
    return {
        "by": "page",
        "from": "2026-11-01",
        "to": "2026-11-07",
        "min_visitors": 5,
        "noise_epsilon": noise,
        "rows": rows
        if rows is not None
        else [
            {"key": "/", "pageviews": 120, "visitors": 80, "events": 3},
            {"key": "/blog/{slug}", "pageviews": 40, "visitors": 20, "events": 0},
        ],
        "suppressed": suppressed or {"rows": 2, "pageviews": 7, "visitors": 6},
        "totals": {"pageviews": 167, "visitors": 104, "events": 3},
    }


def table_text(rep, width=100):  # type: ignore[no-untyped-def]
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    console.print(render_table(rep))
    return console.export_text()


def test_json_is_the_report_unchanged() -> None:
    rep = report()
    assert orjson.loads(render_json(rep)) == rep
    assert "\n" not in render_json(rep, indent=False)


def test_csv_has_header_and_rows_in_order() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(report()))))
    assert [r["key"] for r in rows] == ["/", "/blog/{slug}"]
    assert rows[0] == {"key": "/", "pageviews": "120", "visitors": "80", "events": "3"}


def test_csv_neutralises_spreadsheet_formulas() -> None:
    rep = report(rows=[{"key": "=HYPERLINK(\"http://x\")", "pageviews": 9, "visitors": 9,
                        "events": 0}])
    (row,) = csv.DictReader(io.StringIO(render_csv(rep)))
    assert row["key"].startswith("'=")


def test_csv_with_quotes_and_commas_round_trips() -> None:
    key = '/a,"b"'
    rep = report(rows=[{"key": key, "pageviews": 5, "visitors": 5, "events": 0}])
    (row,) = csv.DictReader(io.StringIO(render_csv(rep)))
    assert row["key"] == key


def test_bar_lengths() -> None:
    assert bar(10, 10, 20) == "█" * 20
    assert bar(5, 10, 20) == "█" * 10
    assert bar(0, 10, 20) == ""
    assert bar(1, 1000, 20) == "▏"  # tiny but never invisible
    assert bar(3, 0, 20) == ""
    assert len(bar(7, 10, 20)) == 14


def test_table_shows_rows_bars_totals_and_what_was_withheld() -> None:
    text = table_text(report())
    assert "/blog/{slug}" in text
    assert "█" * 20 in text  # the top row's full bar
    assert "167" in text and "104" in text
    flat = " ".join(text.split())  # the caption wraps at the table's width
    assert "2 rows withheld (7 pageviews, 6 visitors)" in flat
    assert "fewer than 5 visitors" in flat


def test_table_prints_keys_literally_not_as_markup() -> None:
    rep = report(rows=[{"key": "/[bold]x[/bold]", "pageviews": 5, "visitors": 5, "events": 0}])
    assert "/[bold]x[/bold]" in table_text(rep)


def test_table_with_no_rows_still_says_why() -> None:
    text = table_text(report(rows=[], suppressed={"rows": 0, "pageviews": 0, "visitors": 0}))
    assert "none withheld" in text
    assert "total" in text


def test_note_mentions_noise() -> None:
    assert "epsilon 1.5" in suppressed_note(report(noise=1.5))


def test_table_fits_a_narrow_terminal() -> None:
    for width in (60, 69):
        console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
        console.print(render_table(report(), console_width=width))
        text = console.export_text()
        assert max(len(line) for line in text.splitlines()) <= width
        # The audit: at 60 columns the rows showed no key at all.
        lines = [ln.split() for ln in text.splitlines()]
        ranked = {ln[0]: ln for ln in lines if ln[:1] in (["1"], ["2"])}
        assert ranked["1"][1] == "/" and ranked["2"][1] == "/blog/{slug}"
        assert "█" not in text  # below 70 columns the bar gives its room to the keys
    text = table_text(report(), width=80)
    assert "/blog/{slug}" in text and "█" in text


def test_withheld_numbers_are_not_zeros() -> None:
    rep = report(suppressed={"rows": 1, "pageviews": None, "visitors": None})
    rep["totals"] = {"pageviews": None, "visitors": None, "events": None}
    rep["totals_withheld"] = True
    text = table_text(rep)
    flat = " ".join(text.split())
    assert "1 row withheld;" in flat and "pageviews," not in flat
    assert "totals withheld (fewer than 5 visitors)" in flat
    total = next(line for line in text.splitlines() if "total" in line.split())
    assert total.split()[1:] == ["\N{EN DASH}", "\N{EN DASH}", "\N{EN DASH}"]


def test_ascii_only_table() -> None:
    console = Console(width=100, record=True, file=io.StringIO(), color_system=None)
    console.print(render_table(report(), ascii_only=True))
    assert "#" * 20 in console.export_text()
    assert bar(5, 10, 20, ascii_only=True) == "#" * 10
