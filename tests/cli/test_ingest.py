"""``beaconguard ingest``."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli.helpers import one_line, run_cli
from tests.offline.planted import FIREFOX


def recent_log(path: Path) -> Path:
    now = time.time()
    lines = []
    for i in range(20):
        when = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now - 86400 + i))
        lines.append(
            f'203.0.113.{i % 4} - - [{when}] "GET /p{i % 3} HTTP/1.1" 200 9 "-" "{FIREFOX}"\n'
        )
    path.write_text("".join(lines))
    return path


def test_ingest_twice(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = recent_log(tmp_path / "access.log")
    store = f"sqlite:///{tmp_path / 'stats.db'}"
    code, _, err = run_cli(capsys, "ingest", str(log), "--store", store)
    assert code == 0
    assert err == (
        f"beaconguard ingest: {log}: read 20, fed 20, already ingested 0, malformed 0, "
        "older than retention 0\n"
    )
    code, _, err = run_cli(capsys, "ingest", str(log), "--store", store)
    assert code == 0 and "read 0, fed 0, already ingested 20" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["/no/such.log", "--store", "memory://"], "no file at '/no/such.log'"),
        (["{log}", "--store", "mysql://x"], "is not a store URL"),
    ],
)
def test_errors_are_one_line(capsys, tmp_path: Path, argv, message) -> None:  # type: ignore[no-untyped-def]
    log = recent_log(tmp_path / "a.log")
    code, _, err = run_cli(capsys, "ingest", *[a.format(log=log) for a in argv])
    assert code == 2 and one_line(err) and message in err, err


def test_needs_the_secret(capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("BEACONGUARD_SECRET_KEY")
    log = recent_log(tmp_path / "a.log")
    code, _, err = run_cli(capsys, "ingest", str(log), "--store", "memory://")
    assert code == 2 and one_line(err) and "BEACONGUARD_SECRET_KEY" in err
