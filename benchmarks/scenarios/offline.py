"""Scenario 4: the offline anonymizer against ``anonip``, lines per second.

Both tools run as their users run them (their command line, reading a file, writing a
file) on the same generated combined-format log, in interleaved rounds; wall time includes
each interpreter's start-up. anonip only truncates the client address (here to the same
/24 and /48 as beaconguard's default); ``beaconguard anonymize`` runs the whole pipeline
(address, path, query, referrer, user agent), so it does far more per line.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import beaconguard
from benchmarks.apps import SECRET
from benchmarks.config import Config
from benchmarks.logs import combined_lines
from benchmarks.model import NOT_AVAILABLE, UNAVAILABLE, Group, Row

NAME = "offline"
TITLE = "Offline anonymizer, lines per second (higher is better)"
UNIT = "lines/s"


def available() -> str:
    """'' when ``beaconguard anonymize`` exists, else why not."""
    if importlib.util.find_spec("beaconguard.cli.anonymize") is None:
        return "`beaconguard anonymize` (branch offline) is not on main yet"
    return ""


def _commands(log: Path, out: Path) -> dict[str, list[str]]:
    return {
        "beaconguard": [
            sys.executable, "-m", "beaconguard", "anonymize",
            "--input", str(log), "--output", str(out), "--format", "combined",
        ],
        "anonip": [
            sys.executable, "-m", "anonip", "--input", str(log), "--output", str(out),
            "--ipv4mask", "8", "--ipv6mask", "80",
        ],
    }  # fmt: skip


def _timed(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=900)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:4])} exited {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def run(config: Config) -> Group:
    group = Group(NAME, TITLE)
    missing = available()
    labels = {"beaconguard": "beaconguard anonymize (whole pipeline)", "anonip": "anonip (IP only)"}
    if missing:
        group.status = NOT_AVAILABLE
        group.rows.append(Row.missing("beaconguard", labels["beaconguard"], UNIT, missing))
        group.rows.append(Row.missing("anonip", labels["anonip"], UNIT, "measured beside it"))
        return group
    if importlib.util.find_spec("anonip") is None:
        group.rows.append(
            Row.missing("anonip", labels["anonip"], UNIT, "anonip not installed", UNAVAILABLE)
        )
    with tempfile.TemporaryDirectory(prefix="bg-bench-") as tmp:
        work = Path(tmp)
        log = work / "access.log"
        clients: set[str] = set()
        agents: set[str] = set()
        with log.open("w") as fh:
            for line in combined_lines(config.log_lines):
                clients.add(line.split(" ", 1)[0])
                agents.add(line.rsplit('"', 2)[1])
                fh.write(line)
        env = {**os.environ, "BEACONGUARD_SECRET_KEY": SECRET, "BEACONGUARD_STORE": "memory://"}
        # Both tools run from compiled bytecode, as an installed package does: a source
        # checkout under PYTHONDONTWRITEBYTECODE would recompile beaconguard on every run
        # while anonip's .pyc sits in site-packages. The bytecode goes to a private cache,
        # filled by one untimed run of each tool (which also warms the page cache).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        # The child imports the same beaconguard as this process.
        root = str(Path(beaconguard.__file__).resolve().parents[1])
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
        tools = [t for t in ("beaconguard", "anonip") if not group.row(t)]
        samples: dict[str, list[float]] = {t: [] for t in tools}
        for tool in tools:
            (work / f"{tool}.out").unlink(missing_ok=True)
            _timed(_commands(log, work / f"{tool}.out")[tool], env, work)
        for r in range(config.offline_rounds):
            for tool in tools if r % 2 == 0 else reversed(tools):
                out = work / f"{tool}.out"
                out.unlink(missing_ok=True)  # anonip appends to its output file
                seconds = _timed(_commands(log, out)[tool], env, work)
                samples[tool].append(config.log_lines / seconds)
                written = sum(1 for _ in out.open("rb"))
                if written != config.log_lines:
                    raise RuntimeError(f"{tool}: wrote {written} lines for {config.log_lines}")
        first_client = next(combined_lines(1)).split(" ", 1)[0]
        if first_client in (work / "beaconguard.out").read_text():
            raise RuntimeError("beaconguard anonymize left a raw client address in its output")
    for tool in tools:
        group.rows.append(Row.from_samples(tool, labels[tool], UNIT, samples[tool]))
    bg, peer = group.row("beaconguard"), group.row("anonip")
    if bg and peer and bg.value and peer.value:
        bg.extra["vs_anonip"] = bg.value / peer.value
    group.notes.append(
        f"{config.log_lines:,} generated combined-format lines ({len(clients):,} clients, "
        f"{len(agents):,} distinct user agents), {config.offline_rounds} "
        "interleaved rounds per tool after one untimed run each (bytecode compiled, file "
        "cached), wall time of the command including interpreter start-up."
    )
    return group
