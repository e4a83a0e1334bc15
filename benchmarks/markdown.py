"""``python -m benchmarks.markdown [results.json]``: the README's figures as Markdown.

Prints a table per scenario group and the targets, from a results file written by
``python -m benchmarks`` (default ``benchmarks/results/latest.json``), so the README quotes
exactly what a run measured.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from benchmarks.report import fmt

DEFAULT = Path(__file__).resolve().parent / "results" / "latest.json"


def _detail(row: dict[str, Any]) -> str:
    extra = row.get("extra") or {}
    parts = []
    if "ratio_vs_bare" in extra:
        parts.append(f"{extra['ratio_vs_bare']:.2f}x bare, {extra['added_us']:+.1f} µs")
    for key in ("p50_ms", "p99_ms"):
        if key in extra:
            parts.append(f"{key.removesuffix('_ms')} {extra[key]:.1f} ms")
    if "bytes_per_request" in extra:
        parts.append(f"{fmt(extra['bytes_per_request'])} B/req")
    if "rss_growth_kib" in extra:
        parts.append(f"RSS {extra['rss_growth_kib']:+,} KiB")
    if "vs_anonip" in extra:
        parts.append(f"{extra['vs_anonip']:.2f}x anonip")
    if "flush_ms" in extra:
        parts.append(
            f"{extra['flush_ms']:.1f} ms per flush of {extra['page_views_per_flush']:,} views"
        )
    return ", ".join(parts)


def render(data: dict[str, Any]) -> str:
    lines = []
    for g in data["groups"]:
        lines += [f"**{g['title']}**", "", "| | median | |", "|---|---:|---|"]
        for r in g["rows"]:
            if r["status"] != "ok":
                lines.append(f"| {r['label']} | — | {r['status']}: {r['note']} |")
            else:
                lines.append(f"| {r['label']} | {fmt(r['value'], r['unit'])} | {_detail(r)} |")
        for t in g["targets"]:
            if t["status"] != "ok":
                verdict = t["status"]
            else:
                verdict = f"{fmt(t['value'], t['unit'])}: {'met' if t['met'] else '**missed**'}"
            lines.append(f"| target: {t['name']} {t['goal']} | | {verdict} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DEFAULT
    data = json.loads(path.read_text())
    print(f"{data['mode']} run, {data['started']}, {data['machine_line']}\n")
    print(render(data))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
