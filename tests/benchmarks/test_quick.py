"""The benchmark suite runs end to end and writes what it promises (never judges timings)."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from benchmarks import loadgen
from benchmarks.model import FAILED, NOT_AVAILABLE, OK, UNAVAILABLE
from benchmarks.scenarios import SCENARIOS
from benchmarks.server import uvicorn

ROOT = Path(__file__).resolve().parents[2]
STATUSES = {OK, NOT_AVAILABLE, UNAVAILABLE}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str, Path]:
    out = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((out / "smoke.json").read_text()), done.stdout, out


@pytest.mark.slow
def test_every_scenario_reports_figures_or_says_why_not(smoke: tuple[dict, str, Path]) -> None:
    data, _, _ = smoke
    assert data["mode"] == "smoke"
    assert data["machine"]["cpus"] >= 1 and data["machine"]["python"].startswith("Python 3.")
    assert [g["name"] for g in data["groups"]] == [s.NAME for s in SCENARIOS]
    for group in data["groups"]:
        assert group["status"] != FAILED, group["notes"]
        assert group["rows"], group["name"]
        for row in group["rows"]:
            assert row["status"] in STATUSES, row
            if row["status"] == OK:
                assert isinstance(row["value"], float), row
            else:
                assert row["value"] is None and row["note"], row
        for target in group["targets"]:
            if target["status"] == OK:
                assert isinstance(target["met"], bool) and target["value"] is not None
            else:
                assert target["met"] is None and target["note"], target


@pytest.mark.slow
def test_what_exists_is_measured_against_its_peers(smoke: tuple[dict, str, Path]) -> None:
    data, _, _ = smoke
    groups = {g["name"]: g for g in data["groups"]}
    rows = {r["name"]: r for r in groups["inprocess"]["rows"]}
    candidates = [n for n, r in rows.items() if n != "bare" and r["status"] == OK]
    for name in ("bare", "access_log", "asgi_logger", "uvicorn_access"):
        assert rows[name]["status"] == OK and rows[name]["value"] > 0
    for name in candidates:
        assert len(rows[name]["samples"]) == 2  # smoke: two interleaved rounds
    # Each candidate batch has its own bare batch beside it.
    assert len(rows["bare"]["samples"]) == 2 * len(candidates)
    assert rows["access_log"]["extra"]["ratio_vs_bare"] > 0
    allocs = {r["name"]: r for r in groups["allocations"]["rows"]}
    assert allocs["bare.allocs"]["value"] > 0
    assert allocs["access_log.added"]["status"] == OK
    retained = [r for r in allocs.values() if r["name"].endswith(".retained") and r["status"] == "ok"]
    assert len(retained) == 1 and retained[0]["extra"]["checkpoints"]
    http = {r["name"]: r for r in groups["http"]["rows"]}
    for name in ("bare.rps", "beaconguard.rps"):
        assert http[name]["value"] > 0
        assert 0 < http[name]["extra"]["p50_ms"] <= http[name]["extra"]["p99_ms"]


@pytest.mark.slow
def test_table_and_chart(smoke: tuple[dict, str, Path]) -> None:
    data, stdout, out = smoke
    for group in data["groups"]:
        assert group["title"] in stdout
    svg = ET.parse(out / "smoke.svg").getroot()
    assert svg.tag.endswith("svg")
    text = "".join(svg.itertext())
    assert "bare Starlette" in text and "asgi-logger" in text and "anonip" in text
    # every capability exists now, so no scenario may fall back to "not available yet"
    assert NOT_AVAILABLE not in text
    assert all(r["status"] != NOT_AVAILABLE for g in data["groups"] for r in g["rows"])


@pytest.mark.slow
def test_python_load_generator_without_wrk(tmp_path: Path) -> None:
    # CI machines may lack wrk: the fallback must measure a real server too.
    env = {
        "BEACONGUARD_DEMO_VAR": str(tmp_path),
        "BEACONGUARD_SECRET_KEY": "x" * 32,
        "BEACONGUARD_ACCESS_LOG": "",
    }
    with uvicorn("demo_site.app:site", env, tmp_path) as base:
        result = loadgen.run_python(base, 0.5, 2)
    assert result["requests"] > 0 and result["non_2xx"] == 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]
