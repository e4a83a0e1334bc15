"""Reading logs: files, gzip by magic bytes, stdin, long and unterminated lines."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

from beaconguard.offline.source import Source
from tests.offline.planted import FIXTURES


def test_gzip_is_detected_by_content_not_name(tmp_path: Path) -> None:
    raw = (FIXTURES / "combined.log").read_bytes()
    packed = tmp_path / "access.log"  # no .gz: the magic bytes decide
    packed.write_bytes(gzip.compress(raw))
    with Source(str(packed)) as src:
        assert src.compressed
        assert list(src.lines()) == raw.decode().splitlines()
        assert src.size == packed.stat().st_size


def test_plain_file_lines_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"one\r\ntwo\nthree")
    with Source(str(path)) as src:
        assert not src.compressed
        assert list(src.lines()) == ["one", "two", "three"]


def test_binary_garbage_is_decoded_with_replacement(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"\xff\xfe\x00ok\n")
    with Source(str(path)) as src:
        assert list(src.lines()) == ["\ufffd\ufffd\x00ok"]


def test_stdin_gzip() -> None:
    raw = (FIXTURES / "common.log").read_bytes()
    code = (
        "from beaconguard.offline.source import Source\n"
        "s = Source(None)\n"
        "print(s.compressed, s.size, len(list(s.lines())))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], input=gzip.compress(raw), capture_output=True, check=True
    )
    assert done.stdout.split() == [b"True", b"None", b"3"]
