"""``beaconguard report`` and ``beaconguard purge`` against real stores."""

from __future__ import annotations

import json
import time

import pytest

from beaconguard.cli import main
from beaconguard.stats.days import day_name, day_number
from beaconguard.stats.store import open_store
from tests.stats.helpers import Feeder


@pytest.fixture
def db(tmp_path, make_settings, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.delenv("BEACONGUARD_STORE", raising=False)
    monkeypatch.setenv("BEACONGUARD_SECRET_KEY", "cli-secret-0123456789abcdef")
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    f = Feeder(store, make_settings(), now=time.time())
    for i in range(12):
        f.visit("/pricing", client=f"198.51.100.{i}", query=b"utm_source=mail")
    for i in range(2):
        f.visit("/secret-small-page", client=f"192.0.2.{i}")
    old = time.time() - 500 * 86400
    f.visit("/ancient", at=old)
    f.flush()
    store.close()
    return url


def test_report_json(db, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--store", db, "--by", "page", "--since", "7d", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"] == [{"key": "/pricing", "pageviews": 12, "visitors": 12, "events": 0}]
    # one withheld row (2 visitors): its count, never its numbers
    assert out["suppressed"] == {"rows": 1, "pageviews": None, "visitors": None}
    assert out["totals"]["pageviews"] == 14 and out["min_visitors"] == 5


def test_report_filter_min_visitors_and_noise(db, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--store", db, "--by", "utm_source", "--filter", "page=/pricing",
                 "--min-visitors", "1", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows"][0]["key"] == "mail"
    assert main(["report", "--store", db, "--noise", "1.0", "--format", "json"]) == 0
    first = capsys.readouterr().out
    assert main(["report", "--store", db, "--noise", "1.0", "--format", "json"]) == 0
    assert capsys.readouterr().out == first
    assert json.loads(first)["noise_epsilon"] == 1.0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--by", "page", "--since", "week"], "number of days"),
        (["--filter", "page"], "DIM=VALUE"),
        (["--filter", "email=x"], "not a dimension"),
        (["--from", "2026-13-01"], "not a date"),
    ],
)
def test_report_bad_arguments_one_line(db, capsys, argv, message) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--store", db, *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_report_missing_store_and_unreachable_redis(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--store", f"sqlite:///{tmp_path / 'nope.db'}"]) == 2
    assert "no statistics database" in capsys.readouterr().err
    assert not (tmp_path / "nope.db").exists()
    from tests.support.server import free_port

    assert main(["report", "--store", f"redis://127.0.0.1:{free_port()}/0"]) == 2
    err = capsys.readouterr().err
    assert "cannot open store" in err and err.count("\n") == 1
    assert main(["report", "--store", "ftp://x"]) == 2


def test_purge(db, capsys) -> None:  # type: ignore[no-untyped-def]
    store = open_store(db)
    assert store.cell_rows("2000-01-01", "2099-01-01", "page", page="", value="/ancient")
    store.close()
    assert main(["purge", "--store", db]) == 0
    assert "purged" in capsys.readouterr().out
    store = open_store(db)
    assert not store.cell_rows("2000-01-01", "2099-01-01", "page", page="", value="/ancient")
    today = day_name(day_number(time.time()))
    assert store.cell_rows(today, today, "page", page="", value="/pricing")
    store.close()
    assert main(["purge", "--store", db, "--older-than", "0"]) == 2
