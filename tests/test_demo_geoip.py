"""``python -m demo_site`` builds its country database from tor-geoipdb files once."""

from __future__ import annotations

from pathlib import Path

import maxminddb
import pytest

import demo_site.__main__ as demo
from tests.offline.test_geoip import write_tor_files


def test_builds_once_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    four, six = write_tor_files(tmp_path)
    monkeypatch.setattr(demo, "TOR_GEOIP", four)
    monkeypatch.setattr(demo, "TOR_GEOIP6", six)
    monkeypatch.delenv("BEACONGUARD_GEOIP_DB", raising=False)
    var = tmp_path / "var"
    db = demo.demo_geoip(var)
    assert db == str(var / "country.mmdb")
    with maxminddb.open_database(db) as reader:
        assert reader.get("8.8.8.8") == {"country": {"iso_code": "US"}}
    stamp = Path(db).stat().st_mtime_ns
    assert demo.demo_geoip(var) == db and Path(db).stat().st_mtime_ns == stamp
    monkeypatch.setenv("BEACONGUARD_GEOIP_DB", "/elsewhere.mmdb")
    assert demo.demo_geoip(var) == "/elsewhere.mmdb"


def test_no_tor_files_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "TOR_GEOIP", tmp_path / "missing")
    monkeypatch.delenv("BEACONGUARD_GEOIP_DB", raising=False)
    assert demo.demo_geoip(tmp_path / "var") is None
