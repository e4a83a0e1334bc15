"""The instruction-count tool: its child run serves every variant; bad input is one line."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import instructions

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", instructions.VARIANTS)
def test_child_run_serves_each_variant(name: str) -> None:
    # What valgrind would count, minus valgrind: it must run to the end for every variant.
    asyncio.run(instructions._serve(name, 10))


def test_unknown_variant_is_one_readable_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.instructions", "nonsense"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "nonsense" in done.stderr
