"""The offline breakdown: every stage program runs (what valgrind would count, minus
valgrind), each does what the one before it does, and the table adds up."""

from __future__ import annotations

import subprocess
from itertools import pairwise
from pathlib import Path

import pytest

from benchmarks import offline_breakdown as ob


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    work = tmp_path_factory.mktemp("breakdown")
    return work, ob.prepare(work, 300)


def test_the_log_and_its_distinct_agents_are_written(
    prepared: tuple[Path, dict[str, str]],
) -> None:
    work, _ = prepared
    lines = (work / "access.log").read_text().splitlines()
    agents = (work / "agents.txt").read_text().splitlines()
    assert len(lines) == 300
    assert sorted(agents) == sorted({line.rsplit('"', 2)[1] for line in lines})


@pytest.mark.parametrize("name", [s[0] for s in ob.STAGES] + ["full"])
def test_each_stage_runs_to_the_end(prepared: tuple[Path, dict[str, str]], name: str) -> None:
    work, env = prepared
    done = subprocess.run(ob.commands()[name], env=env, cwd=work, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    if name == "full":
        assert len((work / "out.log").read_text().splitlines()) == 300


def test_stages_are_cumulative() -> None:
    programs = [ob.stage_program(name) for name, _, _ in ob.STAGES]
    for before, after in pairwise(programs):
        assert after.startswith(before) and len(after) > len(before)


def test_table_splits_the_whole_run_and_states_the_budget() -> None:
    m = 1_000_000
    counts = {"start": 90 * m, "imports": 320 * m, "ua_build": 1300 * m, "setup": 1310 * m,
              "classify": 2000 * m, "full": 4500 * m, "anonip": 13_500 * m}  # fmt: skip
    rows = ob.table(counts)
    steps = [int(r.split("M")[0].split()[-1].replace(",", "")) for r in rows[:6]]
    assert steps == [90, 230, 980, 10, 690, 2500] and sum(steps) == 4500
    assert rows[0].endswith("2.0%") and rows[5].endswith("55.6%")
    assert rows[6].split()[-1] == "4,500M"
    assert rows[7].endswith("(3.00x ours)")
    assert rows[8].split()[-1] == "1,350M"
