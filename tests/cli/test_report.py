"""``beaconguard report`` over a real SQLite store filled through the aggregator."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from beaconguard.cli import main
from beaconguard.stats.store import open_store
from tests.reports.conftest import DAY0, PLANTED, fill

PERIOD = ["--from", DAY0, "--to", DAY0]


@pytest.fixture
def db(tmp_path: Path, make_settings, monkeypatch) -> str:  # type: ignore[no-untyped-def]
    for name in ("BEACONGUARD_STORE", "BEACONGUARD_MIN_VISITORS", "BEACONGUARD_NOISE_EPSILON",
                 "BEACONGUARD_SECRET_KEY", "BEACONGUARD_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    fill(store, make_settings(store=url))
    store.close()
    return url


def run(capsys, *argv: str) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(["report", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_is_the_report_object(db, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "--store", db, *PERIOD, "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert [r["key"] for r in body["rows"]] == ["/a", "/c"]
    assert body["min_visitors"] == 5 and body["suppressed"]["rows"] == 2
    assert set(body) == {"by", "from", "to", "min_visitors", "noise_epsilon", "rows",
                         "suppressed", "totals", "totals_withheld"}


def test_table_has_bars_and_says_what_was_withheld(db, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "--store", db, *PERIOD)
    assert code == 0
    assert "/a" in out and "█" in out
    assert "2 rows withheld" in " ".join(out.split())


def test_csv_with_filter_top_and_k(db, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run(capsys, "--store", db, *PERIOD, "--format", "csv", "--by", "browser",
                         "--filter", "page=/a", "--top", "1", "--min-visitors", "1")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 1 and rows[0]["key"] in ("Chrome", "Firefox")
    assert rows[0]["visitors"] == "5"
    assert "withheld" in err


def test_store_defaults_to_the_environment(db, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BEACONGUARD_STORE", db)
    monkeypatch.setenv("BEACONGUARD_MIN_VISITORS", "1")
    code, out, _ = run(capsys, *PERIOD, "--format", "json", "--by", "referrer")
    assert code == 0
    body = json.loads(out)
    assert body["min_visitors"] == 1
    assert {"key": "mail.example", "pageviews": 2, "visitors": 2, "events": 0} in body["rows"]


def test_since(db, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run(capsys, "--store", db, "--since", "30d", "--format", "json")
    assert code == 0 and json.loads(out)["from"] != json.loads(out)["to"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--store", "postgres://x"], "is not a store URL"),
        (["--store", "sqlite:///nowhere/at/all.db"], "no statistics database"),
        (["--by", "colour"], "'colour' is not a dimension"),
        (["--from", "2026-02-31"], "not a date"),
        (["--since", "a week"], "not a number of days"),
        (["--filter", "page"], "DIM=VALUE"),
        (["--top", "many"], "top: expected a whole number"),
        (["--min-visitors", "0"], "min_visitors"),
        (["--format", "xml"], "use table, json or csv"),
    ],
)
def test_mistakes_exit_non_zero_with_one_line(db, capsys, argv, words) -> None:  # type: ignore[no-untyped-def]
    if "--store" not in argv:
        argv = ["--store", db, *argv]
    code, out, err = run(capsys, *argv)
    assert code != 0 and out == ""
    assert err.startswith("beaconguard report: ") and words in err
    assert err.count("\n") == 1


def test_store_defaults_to_the_settings_default(capsys, monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("BEACONGUARD_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "--since", "7d")
    assert code == 2 and "no statistics database at var/stats.db" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "var").exists()  # a report never creates a database


def test_bad_noise(db, capsys) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run(capsys, "--store", db, "--noise", "lots")
    assert code == 2 and "--noise" in err and err.count("\n") == 1


def test_not_a_database(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    code, _, err = run(capsys, "--store", f"sqlite:///{junk}")
    assert code == 2 and "not a beaconguard statistics database" in err
    assert err.count("\n") == 1


def test_no_planted_identifier_in_any_format(db, capsys) -> None:  # type: ignore[no-untyped-def]
    out_all = []
    for fmt in ("table", "json", "csv"):
        for by in ("page", "referrer", "browser", "os", "country", "utm_source"):
            code, out, err = run(capsys, "--store", db, *PERIOD, "--format", fmt, "--by", by,
                                 "--min-visitors", "1")
            assert code == 0
            out_all.append(out + err)
    text = "\n".join(out_all)
    assert "mail.example" in text
    for name, raw in PLANTED.items():
        assert raw not in text, name


def test_console_script_end_to_end(db) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.run(
        [sys.executable, "-m", "beaconguard", "report", "--store", db, *PERIOD, "--format",
         "json"], capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["rows"][0]["key"] == "/a"


def _foreign(tmp_path: Path) -> Path:
    import sqlite3

    path = tmp_path / "app.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)")
    db.execute("INSERT INTO users (email) VALUES ('someone@example.com')")
    db.commit()
    db.close()
    return path


@pytest.mark.parametrize("command", [["report"], ["report", "--format", "json"], ["purge"]])
def test_a_foreign_or_empty_database_is_refused_and_left_alone(tmp_path, command) -> None:  # type: ignore[no-untyped-def]
    """The audit: report and purge added beaconguard's tables (and WAL) to any SQLite file."""
    from tests.cli.helpers import one_line, run_process

    foreign = _foreign(tmp_path)
    empty = tmp_path / "empty.db"
    empty.touch()
    for path in (foreign, empty):
        before = path.read_bytes()
        proc = run_process(*command, "--store", f"sqlite:///{path}")
        err = proc.stderr.decode()
        assert proc.returncode != 0 and proc.stdout == b""
        assert one_line(err) and "not a beaconguard statistics database" in err, err
        assert path.read_bytes() == before  # byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.db", "empty.db"]  # no -wal


def test_report_opens_the_database_read_only(db) -> None:  # type: ignore[no-untyped-def]
    import os

    path = Path(db.removeprefix("sqlite:///"))
    os.chmod(path, 0o644)
    before = path.read_bytes()
    from tests.cli.helpers import run_process

    proc = run_process("report", "--store", db, *PERIOD, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert path.read_bytes() == before
    assert (os.stat(path).st_mode & 0o777) == 0o644  # not re-permissioned either


def test_table_and_csv_show_withheld_totals_as_withheld(db, capsys) -> None:  # type: ignore[no-untyped-def]
    """``--filter page=/b`` (3 visitors, k=5): rows, sums and totals all withheld."""
    code, out, _ = run(capsys, "--store", db, *PERIOD, "--format", "json", "--by", "browser",
                       "--filter", "page=/b")
    assert code == 0
    body = json.loads(out)
    assert body["rows"] == [] and body["totals_withheld"] is True
    assert body["totals"] == {"pageviews": None, "visitors": None, "events": None}
    assert body["suppressed"] == {"rows": 1, "pageviews": None, "visitors": None}
    code, out, _ = run(capsys, "--store", db, *PERIOD, "--by", "browser", "--filter", "page=/b")
    assert code == 0
    flat = " ".join(out.split())
    assert "totals withheld (fewer than 5 visitors)" in flat
    total_line = next(line for line in out.splitlines() if "total" in line.split())
    assert "\N{EN DASH}" in total_line and not any(ch.isdigit() for ch in total_line)
    code, out, err = run(capsys, "--store", db, *PERIOD, "--format", "csv", "--by", "browser",
                         "--filter", "page=/b")
    assert code == 0 and out == "key,pageviews,visitors,events\n"
    assert "totals withheld" in err and "3" not in err.replace("2026-03-10", "")


@pytest.mark.parametrize("columns", ["60", "45"])
def test_narrow_terminal_keeps_the_key_column(db, columns) -> None:  # type: ignore[no-untyped-def]
    from tests.cli.helpers import run_process

    proc = run_process("report", "--store", db, *PERIOD, "--min-visitors", "1",
                       env={"COLUMNS": columns, "PYTHONIOENCODING": "utf-8"})
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode()
    for key in ("/a", "/b", "/c", "/users/{email}"):
        assert key in text, (key, text)


def test_ascii_terminal_gets_an_ascii_table_or_one_line(db, tmp_path, make_settings) -> None:  # type: ignore[no-untyped-def]
    from tests.cli.helpers import one_line, run_process

    ascii_env = {"PYTHONIOENCODING": "ascii", "COLUMNS": "100"}
    proc = run_process("report", "--store", db, *PERIOD, env=ascii_env)
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout.decode("ascii")
    assert "/a" in text and "#" in text and "total" in text
    # A key outside ASCII cannot be shown there: one line, not rich's two.
    url = f"sqlite:///{tmp_path / 'cafe.db'}"
    from tests.stats.helpers import Feeder

    store = open_store(url)
    f = Feeder(store, make_settings(store=url))
    f.visit("/", query=b"utm_source=caf%C3%A9")
    f.flush()
    store.close()
    proc = run_process("report", "--store", url, *PERIOD, "--min-visitors", "1",
                       "--by", "utm_source", env=ascii_env)
    err = proc.stderr.decode()
    assert proc.returncode != 0 and one_line(err), err
    assert "PYTHONIOENCODING=utf-8" in err and "--format json" in err
