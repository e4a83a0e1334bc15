"""``beaconguard geoip build``."""

from __future__ import annotations

from pathlib import Path

import maxminddb

from tests.cli.helpers import one_line, run_cli
from tests.offline.test_geoip import write_tor_files


def test_build(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    four, six = write_tor_files(tmp_path)
    out = tmp_path / "country.mmdb"
    code, _, err = run_cli(capsys, "geoip", "build", "--from", str(four), "--from6", str(six),
                           "--output", str(out))
    assert code == 0 and one_line(err) and "wrote" in err
    with maxminddb.open_database(str(out)) as reader:
        assert reader.get("8.8.8.8") == {"country": {"iso_code": "US"}}
        assert reader.get("2001:200::1") == {"country": {"iso_code": "JP"}}
    assert not (tmp_path / "country.mmdb.tmp").exists()


def test_errors_are_one_line(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(capsys, "geoip", "build", "--from", "/no/geoip", "-o", "x.mmdb")
    assert code == 2 and one_line(err) and "apt install tor-geoipdb" in err
    bad = tmp_path / "geoip"
    bad.write_text("1,2,US\nnot,a,line,at all\n")
    code, _, err = run_cli(capsys, "geoip", "build", "--from", str(bad), "-o", "x.mmdb")
    assert code == 2 and one_line(err) and f"{bad}:2:" in err
    empty = tmp_path / "empty"
    empty.write_text("# nothing\n1,2,??\n")
    code, _, err = run_cli(capsys, "geoip", "build", "--from", str(empty), "-o", "x.mmdb")
    assert code == 2 and "no ranges" in err
    four, _ = write_tor_files(tmp_path)
    code, _, err = run_cli(capsys, "geoip", "build", "--from", str(four),
                           "-o", str(tmp_path / "no" / "dir" / "x.mmdb"))
    assert code == 2 and one_line(err) and "no directory" in err
