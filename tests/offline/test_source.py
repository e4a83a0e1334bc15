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


def _readline_lines(data: bytes, limit: int) -> list[str | None]:
    """What Source.lines promises, read the plain way: readline(limit) per line."""
    import io

    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", errors="replace", newline="\n")
    out: list[str | None] = []
    while line := text.readline(limit):
        if line.endswith("\n"):
            out.append(line[:-2] if line[-2:-1] == "\r" else line[:-1])
        elif len(line) < limit:
            out.append(line)
        else:
            while (rest := text.readline(limit)) and not rest.endswith("\n"):
                pass
            out.append(None)
    return out


def test_block_reader_answers_as_readline_does(tmp_path: Path, monkeypatch) -> None:
    import random

    from beaconguard.offline import source

    rng = random.Random(5)
    alphabet = ["a", "b", "\r", "\n", "\n", "é", "\xff"]
    path = tmp_path / "mixed.log"
    for limit, block in ((8, 3), (8, 8), (5, 64), (16, 7)):
        monkeypatch.setattr(source, "MAX_LINE", limit)
        monkeypatch.setattr(source, "BLOCK", block)
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
            data = text.encode("utf-8").replace("\xff".encode(), b"\xff")
            path.write_bytes(data)
            with Source(str(path)) as src:
                assert list(src.lines()) == _readline_lines(data, limit), (limit, block, data)


def test_blocks_hold_whole_lines_under_the_limit(tmp_path: Path, monkeypatch) -> None:
    import random

    from beaconguard.offline import source

    rng = random.Random(11)
    alphabet = ["a", "b", "\r", "\n", "\n", "é"]
    path = tmp_path / "mixed.log"
    for limit, block in ((8, 3), (8, 8), (5, 64), (16, 7), (6, 40)):
        monkeypatch.setattr(source, "MAX_LINE", limit)
        monkeypatch.setattr(source, "BLOCK", block)
        for _ in range(300):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(80)))
            path.write_bytes(text.encode())
            with Source(str(path)) as src:
                blocks = list(src.blocks())
            for i, got in enumerate(blocks):
                if got is None:
                    continue
                if i < len(blocks) - 1:
                    assert got.endswith("\n"), (limit, block, text)
                lines = got.split("\n")
                if got.endswith("\n"):
                    lines.pop()
                assert all(len(line) < limit for line in lines), (limit, block, text)
            assert _flatten(blocks) == _expected(text, limit), (limit, block, text)


def _flatten(blocks: list[str | None]) -> list[str | None]:
    out: list[str | None] = []
    for b in blocks:
        if b is None:
            out.append(None)
        else:
            out += _split_keep(b)
    return out


def _split_keep(text: str) -> list[str]:
    parts = [p + "\n" for p in text.split("\n")]
    parts[-1] = parts[-1][:-1]
    return [p for p in parts if p]


def _expected(text: str, limit: int) -> list[str | None]:
    return [None if len(p.rstrip("\n")) >= limit else p for p in _split_keep(text)]
