"""``python -m benchmarks.offline_breakdown [LINES]``: where ``beaconguard anonymize`` spends
its instructions on the offline scenario's log, next to ``anonip``'s total.

Wall time on the shared two-core machine wanders by tens of percent; instruction counts
under ``valgrind --tool=callgrind`` repeat to a fraction of a percent. Each stage is a
program that does what the command does up to a point and exits, so the difference
between two stages is the cost of one step: interpreter start-up, the command's imports,
building the user-agent parser, the rest of the set-up, classifying each distinct user
agent of the log once, and (the whole command minus all that) reading, the per-line work
and writing. Slow (a couple of minutes); needs valgrind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.apps import SECRET
from benchmarks.logs import combined_lines

_COLLECTED = re.compile(rb"Collected : (\d+)")
ARGS = ["anonymize", "--input", "access.log", "--output", "out.log", "--format", "combined"]

#: (name, what it adds, program): each program does what the one before it does, then more.
STAGES: tuple[tuple[str, str, str], ...] = (
    ("start", "interpreter start-up (site, no imports)", "pass"),
    (
        "imports",
        "the command's imports and argument parsing",
        f"from beaconguard.cli import build_parser\nargs = build_parser('anonymize')"
        f".parse_args({ARGS!r})",
    ),
    (
        "ua_build",
        "building the user-agent parser",
        "from beaconguard.anonymize import useragent\nuseragent._get_engine()",
    ),
    (
        "setup",
        "settings and the anonymizer",
        "from beaconguard.cli._options import settings_from_args\n"
        "from beaconguard.offline.anonymize import Anonymizer\n"
        "Anonymizer(settings_from_args(args), fmt='combined')",
    ),
    (
        "classify",
        "classifying each distinct user agent once",
        "classify = useragent.make_classifier(4096)\n"
        "for ua in open('agents.txt').read().split('\\n')[:-1]:\n    classify(ua)",
    ),
)


def stage_program(name: str) -> str:
    """The program of stage ``name``: its own code after that of the stages before it."""
    names = [s[0] for s in STAGES]
    return "\n".join(s[2] for s in STAGES[: names.index(name) + 1])


def commands(python: str = sys.executable) -> dict[str, list[str]]:
    """Every stage's command, then the whole command and anonip's, as the scenario runs."""
    out = {name: [python, "-c", stage_program(name)] for name, _, _ in STAGES}
    out["full"] = [python, "-m", "beaconguard", *ARGS]
    out["anonip"] = [python, "-m", "anonip", "--input", "access.log", "--output", "anonip.log",
                     "--ipv4mask", "8", "--ipv6mask", "80"]  # fmt: skip
    return out


def prepare(work: Path, lines: int) -> dict[str, str]:
    """Write the log and its distinct user agents into ``work``; the environment to run in
    (the scenario's: bytecode in a private cache, this checkout's beaconguard)."""
    agents: dict[str, None] = {}
    with (work / "access.log").open("w") as fh:
        for line in combined_lines(lines):
            agents[line.rsplit('"', 2)[1]] = None
            fh.write(line)
    (work / "agents.txt").write_text("".join(f"{ua}\n" for ua in agents))
    env = {**os.environ, "BEACONGUARD_SECRET_KEY": SECRET, "BEACONGUARD_STORE": "memory://",
           "PYTHONPYCACHEPREFIX": str(work / "pycache")}  # fmt: skip
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env


def instructions(cmd: list[str], env: dict[str, str], cwd: Path) -> int:
    """Instructions ``cmd`` executes (all threads), under callgrind."""
    out = cwd / "callgrind.out"
    done = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *cmd],
        env=env, cwd=cwd, capture_output=True, timeout=1800,
    )  # fmt: skip
    out.unlink(missing_ok=True)
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"{' '.join(cmd[:4])}: {done.stderr[-500:].decode(errors='replace')}")
    return int(found.group(1))


def table(counts: dict[str, int]) -> list[str]:
    """The breakdown as text lines: each step's instructions and share of the whole run,
    anonip's total, and what ten times anonip's speed would allow."""
    total = counts["full"]
    rows, before = [], 0
    for name, label, _ in STAGES:
        rows.append((label, counts[name] - before))
        before = counts[name]
    rows.append(("reading, per-line work, writing (the rest)", total - before))
    out = [f"{label:48s} {ir / 1e6:9,.0f}M  {100 * ir / total:5.1f}%" for label, ir in rows]
    out.append(f"{'beaconguard anonymize, whole run':48s} {total / 1e6:9,.0f}M")
    if "anonip" in counts:
        peer = counts["anonip"]
        out.append(f"{'anonip, whole run':48s} {peer / 1e6:9,.0f}M  ({peer / total:.2f}x ours)")
        out.append(f"{'10x anonip allows at most':48s} {peer / 10 / 1e6:9,.0f}M")
    return out


def main(argv: list[str]) -> int:
    if shutil.which("valgrind") is None:
        print("needs valgrind (apt install valgrind)", file=sys.stderr)
        return 2
    lines = int(argv[0]) if argv else 100_000
    with tempfile.TemporaryDirectory(prefix="bg-breakdown-") as tmp:
        work = Path(tmp)
        env = prepare(work, lines)
        cmds = commands()
        try:
            import anonip  # noqa: F401
        except ImportError:
            del cmds["anonip"]
        for cmd in cmds.values():  # untimed: compiles the bytecode, warms the file cache
            subprocess.run(cmd, env=env, cwd=work, capture_output=True, check=True)
        counts = {name: instructions(cmd, env, work) for name, cmd in cmds.items()}
    print(f"{lines:,} lines; instructions under callgrind")
    print("\n".join(table(counts)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
