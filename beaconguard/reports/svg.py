"""A server-rendered SVG chart of daily pageviews and visitors.

Plain SVG text: no script, no external font or stylesheet, so it works under a strict
Content-Security-Policy and without JavaScript. It scales with its container (``viewBox``)
and is readable by screen readers: ``role="img"`` with a ``<title>`` and a ``<desc>`` that
states the numbers, labelled axes, and the two series told apart by shape (bars and a line
with dots), not by colour alone.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from html import escape
from typing import Any

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PAGEVIEWS_COLOUR = "#6b9bd1"
VISITORS_COLOUR = "#b4470f"


def nice_ceiling(value: float) -> tuple[int, int]:
    """The axis top and tick step for data up to ``value``: steps of 1, 2 or 5 x 10^n."""
    if value <= 0:
        return 1, 1
    raw_step = value / 4
    magnitude = 10 ** math.floor(math.log10(raw_step)) if raw_step >= 1 else 1
    for factor in (1, 2, 5, 10):
        step = max(1, int(factor * magnitude))
        if step >= raw_step:
            break
    top = step * math.ceil(value / step)
    return top, step


def _day(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _short(day: date | None) -> str:
    return f"{_MONTHS[day.month - 1]} {day.day}" if day else "?"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def daily_chart(
    series: Sequence[Mapping[str, Any]],
    *,
    title: str = "Daily pageviews and visitors",
    width: int = 720,
    height: int = 260,
    id_prefix: str = "daily",
) -> str:
    """SVG markup for ``series`` (``[{"day", "pageviews", "visitors"}]``, oldest first)."""
    left, right, top, bottom = 52, 14, 34, 46
    plot_w, plot_h = width - left - right, height - top - bottom
    days = [_day(p.get("day")) for p in series]
    # A withheld day (None: fewer than k visitors) has no bar and no dot, never a zero.
    withheld = [p.get("pageviews") is None or p.get("visitors") is None for p in series]
    views = [max(0, int(p.get("pageviews") or 0)) for p in series]
    visitors = [max(0, int(p.get("visitors") or 0)) for p in series]
    n = len(series)
    y_top, y_step = nice_ceiling(max([*views, *visitors, 0]))

    def y(v: float) -> float:
        return top + plot_h - (v / y_top) * plot_h

    tid, did = f"{id_prefix}-title", f"{id_prefix}-desc"
    desc = _describe(days, views, visitors, withheld)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{tid} {did}" class="chart" '
        f'font-family="system-ui,sans-serif" font-size="12">',
        f'<title id="{tid}">{escape(title)}</title>',
        f'<desc id="{did}">{escape(desc)}</desc>',
    ]
    # Legend: a bar swatch and a line-with-dot swatch, each with its words.
    out.append(
        f'<g aria-hidden="true"><rect x="{left}" y="8" width="14" height="12" '
        f'fill="{PAGEVIEWS_COLOUR}"/><text x="{left + 20}" y="18">pageviews (bars)</text>'
        f'<line x1="{left + 150}" y1="14" x2="{left + 170}" y2="14" '
        f'stroke="{VISITORS_COLOUR}" stroke-width="2"/>'
        f'<circle cx="{left + 160}" cy="14" r="3" fill="{VISITORS_COLOUR}"/>'
        f'<text x="{left + 176}" y="18">visitors (line)</text></g>'
    )
    # Y axis: gridlines, tick labels and its name.
    out.append('<g class="y-axis">')
    for tick in range(0, y_top + 1, y_step):
        ty = _num(y(tick))
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{ty}" y2="{ty}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{ty}" dy="4" text-anchor="end">{tick:,}</text>'
        )
    out.append(
        f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" '
        'text-anchor="middle">count per day</text></g>'
    )
    out.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#555"/>'
    )
    if n == 0:
        out.append(
            f'<text x="{left + plot_w / 2:.0f}" y="{top + plot_h / 2:.0f}" '
            'text-anchor="middle">No visits in this period</text>'
        )
    else:
        slot = plot_w / n
        bar_w = min(max(1.0, slot * 0.7), 48.0)  # one day alone is a bar, not a wall
        out.append(f'<g class="pageviews" fill="{PAGEVIEWS_COLOUR}">')
        for i, v in enumerate(views):
            if v:
                x = left + i * slot + (slot - bar_w) / 2
                out.append(
                    f'<rect x="{_num(x)}" y="{_num(y(v))}" width="{_num(bar_w)}" '
                    f'height="{_num(top + plot_h - y(v))}"><title>{_short(days[i])}: '
                    f"{_count(v, 'pageview')}</title></rect>"
                )
        out.append("</g>")
        out.append(f'<g class="visitors" fill="{VISITORS_COLOUR}">')
        # The line breaks at withheld days: one polyline per run of shown days.
        runs: list[list[int]] = [[]]
        for i in range(n):
            if withheld[i]:
                runs.append([])
            else:
                runs[-1].append(i)
        for run in runs:
            if len(run) > 1:
                points = " ".join(
                    f"{_num(left + (i + 0.5) * slot)},{_num(y(visitors[i]))}" for i in run
                )
                out.append(
                    f'<polyline points="{points}" fill="none" stroke="{VISITORS_COLOUR}" '
                    'stroke-width="2"/>'
                )
        radius = 3 if slot >= 8 else 1.5
        for i, v in enumerate(visitors):
            if withheld[i]:
                continue
            out.append(
                f'<circle cx="{_num(left + (i + 0.5) * slot)}" cy="{_num(y(v))}" r="{radius}">'
                f"<title>{_short(days[i])}: {_count(v, 'visitor')}</title></circle>"
            )
        out.append("</g>")
        # X axis: at most a handful of day labels, always the first and the last day.
        max_labels = max(3, plot_w // 90)  # a label is about 45 px wide; leave a gap
        every = max(1, math.ceil(n / max_labels))
        shown = sorted({*range(0, n, every), n - 1})
        if len(shown) > 1 and shown[-1] - shown[-2] < every:
            shown.pop(-2)  # keep the last day's label from overlapping its neighbour
        out.append('<g class="x-axis" text-anchor="middle">')
        for i in shown:
            x = left + (i + 0.5) * slot
            # Near the right edge a centred label would be cut off: end it at the edge.
            anchor = ' text-anchor="end"' if x + 24 > width else ""
            x = min(x, width - 2.0)
            out.append(
                f'<text x="{_num(x)}" y="{top + plot_h + 16}"{anchor}>{_short(days[i])}</text>'
            )
        out.append("</g>")
    out.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 6}" text-anchor="middle">'
        "day (UTC)</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _describe(
    days: list[date | None], views: list[int], visitors: list[int], withheld: list[bool]
) -> str:
    """The chart in words, for screen readers and for anyone who cannot see it."""
    if not days:
        return "No visits in this period."
    shown = [i for i in range(len(days)) if not withheld[i]]
    hidden = len(days) - len(shown)
    note = (
        f" {hidden} day{'' if hidden == 1 else 's'} with too few visitors to show."
        if hidden
        else ""
    )
    if not shown:
        return f"From {days[0] or '?'} to {days[-1] or '?'}:{note}"
    busiest = max(shown, key=views.__getitem__)
    return (
        f"From {days[0] or '?'} to {days[-1] or '?'}: "
        f"{_count(sum(views[i] for i in shown), 'pageview')} "
        f"{'on the days shown' if hidden else 'in total'}. "
        f"Busiest day {days[busiest] or '?'} with {_count(views[busiest], 'pageview')} "
        f"and {_count(visitors[busiest], 'visitor')}. Daily visitors ranged from "
        f"{min(visitors[i] for i in shown):,} to {max(visitors[i] for i in shown):,}.{note}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"
