import logging
import os
from pathlib import Path

import pytest

from beaconguard.accesslog.sinks import FileSink, LoggingSink, StdoutSink, open_sink


def test_file_appends(tmp_path: Path) -> None:
    sink = FileSink(tmp_path / "logs" / "access.log")
    sink.write([b'{"a":1}\n', b'{"a":2}\n'])
    sink.write([b'{"a":3}\n'])
    sink.close()
    assert (tmp_path / "logs" / "access.log").read_bytes().count(b"\n") == 3


def test_rotation_by_size_keeps_backups(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    sink = FileSink(path, max_bytes=100, backups=2)
    for i in range(10):
        sink.write([b'{"line":%d,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}\n' % i])
    sink.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["access.log", "access.log.1", "access.log.2"]  # older ones erased


def test_rotation_by_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "access.log"
    sink = FileSink(path, rotate="daily", backups=3)
    sink.write([b"day1\n"])
    sink._period = "19990101"  # as if the file was opened on an earlier day
    sink.write([b"day2\n"])
    sink.close()
    assert (tmp_path / "access.log.1").read_bytes() == b"day1\n"
    assert path.read_bytes() == b"day2\n"


def test_reopens_after_external_rotation(tmp_path: Path) -> None:
    path = tmp_path / "access.log"
    sink = FileSink(path)
    sink.write([b"one\n"])
    os.rename(path, tmp_path / "moved.log")  # logrotate or another worker
    sink.write([b"two\n"])
    sink.close()
    assert path.read_bytes() == b"two\n"


def test_logging_sink(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="beaconguard.access"):
        LoggingSink().write([b'{"x":1}\n'])
    assert caplog.records[0].getMessage() == '{"x":1}'


def test_stdout_sink(capfdbinary: pytest.CaptureFixture[bytes]) -> None:
    StdoutSink().write([b"hello\n"])
    assert capfdbinary.readouterr().out == b"hello\n"


def test_open_sink(tmp_path: Path) -> None:
    assert isinstance(open_sink("-"), StdoutSink)
    assert isinstance(open_sink("logging:app.access"), LoggingSink)
    assert isinstance(open_sink(str(tmp_path / "a.log")), FileSink)
