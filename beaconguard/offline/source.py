"""Reading logs: stdin or a file, gzip detected by its magic bytes, lines of bounded length.

Logs are read as bytes and decoded as UTF-8 with replacement, so binary garbage in a line
costs that line (it will not parse) but never the whole run.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
from collections.abc import Iterator
from typing import BinaryIO

from beaconguard.offline.parse import MAX_LINE

GZIP_MAGIC = b"\x1f\x8b"


class Source:
    """An opened log: ``lines()`` yields each line without its newline, or ``None`` for a
    line longer than :data:`~beaconguard.offline.parse.MAX_LINE` (its rest is skipped).

    ``size`` and ``position()`` are in bytes of the file as stored (compressed, for gzip),
    for a progress bar; ``size`` is ``None`` for stdin and pipes.
    """

    def __init__(self, path: str | None) -> None:
        self.name = path or "-"
        raw: BinaryIO
        if path is None or path == "-":
            raw = sys.stdin.buffer
            self.size: int | None = None
            self._owned = False
        else:
            raw = open(path, "rb")  # noqa: SIM115 - closed by close()
            self._owned = True
            st = os.fstat(raw.fileno())
            self.size = st.st_size if os.path.isfile(path) else None
        self._raw = raw
        head = _peek(raw, 2)
        self.compressed = head == GZIP_MAGIC
        stream: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
            if self.compressed
            else raw
        )
        self._text = io.TextIOWrapper(
            stream, encoding="utf-8", errors="replace", newline="\n"
        )

    def position(self) -> int:
        """Bytes of the stored file consumed so far (approximate: reads are buffered)."""
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def lines(self) -> Iterator[str | None]:
        readline = self._text.readline
        limit = MAX_LINE
        while True:
            line = readline(limit)
            if not line:
                return
            if line[-1] == "\n":
                yield line[:-2] if line[-2:-1] == "\r" else line[:-1]
            elif len(line) < limit:
                yield line  # last line of a file without a final newline
            else:
                while True:
                    rest = readline(limit)
                    if not rest or rest[-1] == "\n":
                        break
                yield None

    def close(self) -> None:
        if self._owned:
            self._raw.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _peek(raw: BinaryIO, n: int) -> bytes:
    """The first ``n`` bytes without consuming them (stdin cannot seek, but it can peek)."""
    peek = getattr(raw, "peek", None)
    if peek is not None:
        return bytes(peek(n)[:n])
    pos = raw.tell()
    head = raw.read(n)
    raw.seek(pos)
    return head
