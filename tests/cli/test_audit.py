"""``beaconguard audit``."""

from __future__ import annotations

from pathlib import Path

import orjson

from tests.cli.helpers import one_line, run_cli
from tests.offline.planted import FIXTURES


def test_raw_log_exit_1_with_kinds_and_lines(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, "audit", str(FIXTURES / "combined.log"))
    assert code == 1
    assert "  ipv4           5 lines: 1, 3, 4, 5, 6\n" in out
    assert "  email          3 lines: 1, 2, 5\n" in out
    assert "  jwt            1 lines: 3\n" in out
    assert "prefixes have fewer than 5 (re-identification risk)" in out


def test_anonymized_log_exit_0(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("combined.log", "json.log", "garbage.log", "xff.log"):
        for out_format in ("same", "json"):
            clean = tmp_path / f"{name}.{out_format}"
            run_cli(capsys, "anonymize", "-i", str(FIXTURES / name), "-o", str(clean),
                    "--out-format", out_format)
            code, out, _ = run_cli(capsys, "audit", str(clean))
            assert code == 0, out
            assert "no identifiers found" in out


def test_json_report(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, "audit", "--format", "json", "--lines", "2",
                           str(FIXTURES / "json.log"))
    doc = orjson.loads(out)
    assert code == 1 and doc["clean"] is False and doc["lines"] == 3
    assert doc["findings"]["cookie"] == {"lines": 3, "first_lines": [1, 2]}
    assert doc["prefixes"]["min_group"] == 5


def test_missing_file_is_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capsys, "audit", "/no/such.log")
    assert code == 2 and out == "" and one_line(err) and "no file at" in err
