"""``beaconguard anonymize``."""

from __future__ import annotations

import gzip
import io
import sys
from pathlib import Path

import orjson
import pytest

from beaconguard.cli._options import progress_bar
from tests.cli.helpers import one_line, run_cli, run_process
from tests.offline.planted import FIXTURES, leaks


def test_file_to_file_with_summary(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clean.log"
    code, stdout, err = run_cli(
        capsys, "anonymize", "-i", str(FIXTURES / "garbage.log"), "-o", str(out)
    )
    assert code == 0 and stdout == ""
    assert err == (
        "beaconguard anonymize: read 8, written 8, malformed 6 (replaced by a marker)\n"
    )
    assert leaks(out.read_text()) == []
    assert "# beaconguard: malformed line 3 redacted" in out.read_text()


def test_stdin_to_stdout_gzip_json(tmp_path: Path) -> None:
    raw = (FIXTURES / "combined.log").read_bytes()
    done = run_process("anonymize", "--out-format", "json", stdin=gzip.compress(raw))
    assert done.returncode == 0, done.stderr
    records = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert len(records) == 6 and records[0]["client"] == "203.0.113.0"
    assert leaks(done.stdout.decode()) == []
    # stderr is not a terminal here: the summary only, no progress bar.
    assert done.stderr == b"beaconguard anonymize: read 6, written 6, malformed 0\n"


def test_drop_malformed(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "clean.log"
    code, _, err = run_cli(
        capsys, "anonymize", "-i", str(FIXTURES / "garbage.log"), "-o", str(out),
        "--drop-malformed",
    )
    assert code == 0 and "malformed 6 (dropped)" in err
    assert len(out.read_text().splitlines()) == 2


def test_settings_from_config_env_and_flags(capsys, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bg.toml"
    config.write_text('[beaconguard]\nip_mode = "drop"\nquery_allowlist = ["q"]\n')
    out = tmp_path / "o.log"
    src = str(FIXTURES / "combined.log")
    run_cli(capsys, "anonymize", "-i", src, "-o", str(out), "--config", str(config),
            "--out-format", "json")
    first, second = (orjson.loads(x) for x in out.read_text().splitlines()[:2])
    assert first["client"] is None and first["query"] is None
    assert second["query"] == "q={redacted}"  # allowlisted name, e-mail value scrubbed
    monkeypatch.setenv("BEACONGUARD_IPV4_PREFIX", "16")
    run_cli(capsys, "anonymize", "-i", src, "-o", str(out), "--config", str(config),
            "--ip-mode", "truncate", "--out-format", "json")
    assert orjson.loads(out.read_text().splitlines()[0])["client"] == "203.0.0.0"
    run_cli(capsys, "anonymize", "-i", src, "-o", str(out), "--ip-mode", "truncate",
            "--ipv4-prefix", "28", "--out-format", "json")
    assert orjson.loads(out.read_text().splitlines()[0])["client"] == "203.0.113.64"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["-i", "/no/such/file"], {}, "--input: no file at '/no/such/file'"),
        (["-i", "/tmp"], {}, "--input: /tmp is a directory"),
        (["--config", "/no/such.toml"], {}, "--config: no file at"),
        ([], {"BEACONGUARD_IPV4_PREFIX": "99"}, "ipv4_prefix: must be a whole number"),
        (["--ip-mode", "hash"], {"BEACONGUARD_SECRET_KEY": ""}, "no secret configured"),
        (["-o", "/no/such/dir/out.log", "-i", str(FIXTURES / "common.log")], {},
         "No such file or directory: /no/such/dir/out.log"),
    ],
)
def test_bad_input_is_one_line(capsys, monkeypatch, argv, env, message) -> None:  # type: ignore[no-untyped-def]
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, stdout, err = run_cli(capsys, "anonymize", *argv)
    assert code == 2 and stdout == ""
    assert one_line(err) and message in err, err


def test_bad_toml_is_one_line(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "bad.toml"
    config.write_text("ip_mode = [unclosed\n")
    code, _, err = run_cli(capsys, "anonymize", "--config", str(config))
    assert code == 2 and one_line(err) and "not valid TOML" in err


def test_truncated_gzip_is_one_line(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    packed = gzip.compress((FIXTURES / "combined.log").read_bytes() * 50)
    bad = tmp_path / "cut.log.gz"
    bad.write_bytes(packed[: len(packed) // 2])
    code, _, err = run_cli(capsys, "anonymize", "-i", str(bad), "-o", str(tmp_path / "o"))
    assert code == 2 and one_line(err) and "not a complete gzip stream" in err
    assert leaks((tmp_path / "o").read_text()) == []


def test_progress_bar_only_on_a_terminal(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    update, finish = progress_bar(None, "x")  # a pipe: size unknown
    assert update.__name__ == "_noop_update"
    update, finish = progress_bar(1000, "x")  # stderr captured: not a terminal
    assert update.__name__ == "_noop_update"
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    update, finish = progress_bar(1000, "anonymize")
    update(500)
    finish()
    assert update.__name__ == "update"
