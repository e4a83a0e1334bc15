"""A plain SVG bar chart of a run, one panel per scenario group, no plotting library.

Bars within a panel share a scale per unit; rows whose part is missing are drawn as a grey
"not available yet" line rather than left out.
"""

from __future__ import annotations

from html import escape
from typing import Any

from benchmarks.model import OK, Group

WIDTH = 1000
LABEL_W = 400
BAR_W = 380
ROW_H = 22
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#e45756", "#72b7b2", "#9d755d")


def _num(value: float) -> str:
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def render_svg(groups: list[Group], meta: dict[str, Any]) -> str:
    parts: list[str] = []
    y = 30
    title = f"beaconguard benchmarks ({meta.get('mode', '?')} run, {meta.get('started', '')})"
    parts.append(f'<text x="10" y="20" class="t">{escape(title)}</text>')
    machine = meta.get("machine_line", "")
    if machine:
        parts.append(f'<text x="10" y="{y + 6}" class="n">{escape(machine)}</text>')
        y += 16
    for g in groups:
        y += 24
        status = "" if g.status == OK else f"  [{g.status}]"
        parts.append(f'<text x="10" y="{y}" class="g">{escape(g.title + status)}</text>')
        y += 8
        scale: dict[str, float] = {}
        for r in g.rows:
            if r.value is not None and r.status == OK:
                scale[r.unit] = max(scale.get(r.unit, 0.0), abs(r.value))
        for i, r in enumerate(g.rows):
            y += ROW_H
            parts.append(
                f'<text x="{LABEL_W - 8}" y="{y - 6}" class="l" text-anchor="end">'
                f"{escape(r.label)}</text>"
            )
            if r.value is None or r.status != OK:
                parts.append(
                    f'<text x="{LABEL_W}" y="{y - 6}" class="na">{escape(r.status)}'
                    f"{': ' + escape(r.note) if r.note else ''}</text>"
                )
                continue
            top = scale.get(r.unit) or 1.0
            w = max(1.0, BAR_W * abs(r.value) / top)
            color = PALETTE[i % len(PALETTE)]
            parts.append(
                f'<rect x="{LABEL_W}" y="{y - 18}" width="{w:.1f}" height="{ROW_H - 6}" '
                f'fill="{color}"/>'
            )
            parts.append(
                f'<text x="{LABEL_W + w + 6:.1f}" y="{y - 6}" class="v">'
                f"{escape(_num(r.value))} {escape(r.unit)}</text>"
            )
        for t in g.targets:
            y += 16
            if t.status != OK:
                text, cls = f"target {t.name} {t.goal}: {t.status}", "na"
            else:
                verdict = "met" if t.met else "missed"
                text = f"target {t.name} {t.goal}: {_num(t.value or 0.0)}{t.unit} ({verdict})"
                cls = "ok" if t.met else "miss"
            parts.append(f'<text x="{LABEL_W}" y="{y - 4}" class="{cls}">{escape(text)}</text>')
    height = y + 20
    style = (
        "text{font-family:system-ui,sans-serif;font-size:12px;fill:#222}"
        ".t{font-size:15px;font-weight:600}.g{font-size:13px;font-weight:600}"
        ".n{fill:#555}.na{fill:#999;font-style:italic}.ok{fill:#2a7a2a}.miss{fill:#b22}"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}"><style>{style}</style>'
        f'<rect width="100%" height="100%" fill="#fff"/>' + "".join(parts) + "</svg>\n"
    )
