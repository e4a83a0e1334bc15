"""Run the ``beaconguard`` command in-process (fast) or as a process (stdin, exit codes)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping

import pytest

from beaconguard.cli import main
from tests.conftest import SECRET


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_process(
    *argv: str, stdin: bytes = b"", env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("BEACONGUARD_")}
    environ["BEACONGUARD_SECRET_KEY"] = SECRET
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "beaconguard", *argv],
        input=stdin,
        capture_output=True,
        env=environ,
        timeout=120,
    )


def one_line(text: str) -> bool:
    return bool(text.strip()) and "\n" not in text.strip()
