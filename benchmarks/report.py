"""The three outputs of a run: a terminal table, a JSON file, an SVG chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from benchmarks.chart import render_svg
from benchmarks.model import OK, Group


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "—"
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text}{unit}" if unit == "x" else f"{text} {unit}".rstrip()


def _extra(row_extra: dict[str, Any]) -> str:
    parts = []
    if "ratio_vs_bare" in row_extra:
        parts.append(f"{row_extra['ratio_vs_bare']:.2f}x bare")
    if "added_us" in row_extra:
        parts.append(f"{row_extra['added_us']:+.1f} µs")
    for key, value in row_extra.items():
        if key in ("ratio_vs_bare", "added_us") or isinstance(value, (dict, list)):
            continue
        parts.append(f"{key}={fmt(value) if isinstance(value, float) else value}")
    return ", ".join(parts)


def table(groups: list[Group]) -> str:
    lines: list[str] = []
    for g in groups:
        lines.append("")
        head = f"== {g.title}"
        if g.status != OK:
            head += f"  [{g.status}]"
        lines.append(head + f"  ({g.seconds:.1f}s)")
        width = max([len(r.label) for r in g.rows] + [10])
        for r in g.rows:
            if r.status != OK:
                lines.append(f"  {r.label:<{width}}  {r.status}: {r.note}")
                continue
            spread = f"±{r.spread * 100:.0f}%" if r.spread is not None else ""
            extra = _extra(r.extra)
            lines.append(
                f"  {r.label:<{width}}  {fmt(r.value, r.unit):>16} {spread:>5}  {extra}".rstrip()
            )
        for t in g.targets:
            if t.status != OK:
                mark = f"[{t.status}]"
                lines.append(f"  target {t.name} {t.goal}: {mark} {t.note}".rstrip())
            else:
                mark = "met" if t.met else "MISSED"
                lines.append(f"  target {t.name} {t.goal}: {fmt(t.value, t.unit)} -> {mark}")
        for n in g.notes:
            lines.append(f"  note: {n}")
    return "\n".join(lines)


def write(groups: list[Group], meta: dict[str, Any], out_dir: Path, stem: str) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {**meta, "groups": [g.to_json() for g in groups]}
    json_path = out_dir / f"{stem}.json"
    tmp = json_path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(json_path)
    svg_path = out_dir / f"{stem}.svg"
    svg_path.write_text(render_svg(groups, meta))
    return json_path, svg_path
