"""``python -m benchmarks [--quick | --smoke] [--only NAME ...] [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from benchmarks import machine
from benchmarks.config import MODES
from benchmarks.model import FAILED, Group
from benchmarks.report import table, write
from benchmarks.scenarios import SCENARIOS

RESULTS = Path(__file__).resolve().parent / "results"


def run(
    mode: str, only: Sequence[str] = (), out_dir: Path = RESULTS, stem: str | None = None
) -> tuple[list[Group], Path, Path]:
    """Run the scenario groups of ``mode``; write JSON and SVG; return the groups."""
    config = MODES[mode]
    info = machine.describe()
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    groups: list[Group] = []
    for scenario in SCENARIOS:
        if only and scenario.NAME not in only:
            continue
        print(f"running {scenario.NAME} ({mode}) ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            group = scenario.run(config)
        except Exception as exc:
            # One broken scenario must not hide the others' figures; the exit status says it.
            group = Group(scenario.NAME, scenario.TITLE, status=FAILED)
            group.notes.append(f"{type(exc).__name__}: {exc}")
            traceback.print_exc()
        group.seconds = time.perf_counter() - t0
        groups.append(group)
    meta = {
        "suite": "beaconguard benchmarks",
        "mode": mode,
        "started": started,
        "machine": info,
        "machine_line": machine.one_line(info),
    }
    json_path, svg_path = write(
        groups, meta, out_dir, stem or ("latest" if mode == "full" else mode)
    )
    return groups, json_path, svg_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_const",
        dest="mode",
        const="quick",
        help="fewer rounds and requests (CI: checks the suite works, < 2 min)",
    )
    size.add_argument(
        "--smoke",
        action="store_const",
        dest="mode",
        const="smoke",
        help="a few iterations of everything; figures are meaningless",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        choices=[s.NAME for s in SCENARIOS],
        help="run only this group (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for JSON and SVG")
    args = parser.parse_args(argv)
    mode = args.mode or "full"
    groups, json_path, svg_path = run(mode, args.only, args.out)
    print(f"beaconguard benchmarks, {mode} run on {machine.one_line(machine.describe())}")
    print(table(groups))
    print(f"\nresults: {json_path}\nchart:   {svg_path}")
    return 1 if any(g.status == FAILED for g in groups) else 0


if __name__ == "__main__":
    sys.exit(main())
