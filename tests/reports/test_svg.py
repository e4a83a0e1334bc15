"""The daily chart is well-formed, accessible SVG without script or external references."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

from beaconguard.reports.svg import daily_chart, nice_ceiling

NS = "{http://www.w3.org/2000/svg}"


def series(n: int, start: date = date(2026, 11, 1)) -> list[dict[str, object]]:
    return [
        {"day": (start + timedelta(days=i)).isoformat(), "pageviews": 10 * i + 3,
         "visitors": 4 * i + 1}
        for i in range(n)
    ]


def test_nice_ceiling() -> None:
    assert nice_ceiling(0) == (1, 1)
    assert nice_ceiling(3) == (3, 1)
    assert nice_ceiling(87) == (100, 25) or nice_ceiling(87)[0] >= 87
    top, step = nice_ceiling(1234)
    assert top >= 1234 and top % step == 0 and str(step)[0] in "125"


def test_chart_parses_and_is_labelled() -> None:
    svg = daily_chart(series(7))
    root = ET.fromstring(svg)
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    title = root.find(f"{NS}title")
    desc = root.find(f"{NS}desc")
    assert title is not None and title.get("id") == title_id
    assert desc is not None and desc.get("id") == desc_id
    assert "Nov 7" in (desc.text or "") or "2026-11-07" in (desc.text or "")
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "day (UTC)" in texts and "count per day" in texts
    assert "Nov 1" in texts and "Nov 7" in texts  # first and last day labelled


def test_chart_draws_one_bar_and_one_dot_per_day() -> None:
    root = ET.fromstring(daily_chart(series(30)))
    assert len(list(root.iter(f"{NS}rect"))) == 30 + 1  # + legend swatch
    assert len(list(root.iter(f"{NS}circle"))) == 30 + 1
    labels = [t for t in root.iter(f"{NS}text") if t.text and t.text.startswith(("Nov", "Dec"))]
    assert len(labels) <= 8


def test_chart_has_no_script_or_external_reference() -> None:
    svg = daily_chart(series(10))
    for bad in ("<script", "href", "http://", "https://", "url(", "on"+"load"):
        assert bad not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_empty_series_says_so() -> None:
    root = ET.fromstring(daily_chart([]))
    assert "No visits in this period" in [t.text for t in root.iter(f"{NS}text")]


def test_title_is_escaped() -> None:
    root = ET.fromstring(daily_chart(series(2), title="<b>&"))
    assert root.find(f"{NS}title").text == "<b>&"  # type: ignore[union-attr]


def test_bars_stay_inside_the_plot() -> None:
    root = ET.fromstring(daily_chart(series(3)))
    for rect in list(root.iter(f"{NS}rect"))[1:]:
        y, h = float(rect.get("y", 0)), float(rect.get("height", 0))
        assert y >= 0 and h >= 0 and y + h <= 260
