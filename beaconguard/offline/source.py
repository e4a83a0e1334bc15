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
#: Characters decoded and split into lines at a time.
BLOCK = 256 * 1024


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
        # Blocks of text split on newlines: a readline() per line costs more than the fast
        # path spends on the line itself. Answers as readline(MAX_LINE) would: a line of
        # MAX_LINE characters or more (its "\r" included) is None, a "\r" before the
        # newline is dropped, a last line without a newline is kept as it is.
        read = self._text.read
        limit = MAX_LINE
        carry = ""
        skipping = False  # inside an over-long line: drop text until its newline
        while True:
            block = read(BLOCK)
            if not block:
                break
            parts = block.split("\n")
            rest = parts.pop()
            if parts:
                if skipping:
                    skipping = False
                    parts[0] = None  # type: ignore[call-overload]
                elif carry:
                    parts[0] = carry + parts[0]
                first = parts[0]
                if (
                    "\r" not in block
                    and max(map(len, parts[1:]), default=0) < limit
                    and (first is None or ("\r" not in first and len(first) < limit))
                ):
                    yield from parts
                else:
                    for line in parts:
                        if line is None or len(line) >= limit:
                            yield None
                        else:
                            yield line[:-1] if line[-1:] == "\r" else line
                carry = rest
            elif not skipping:
                carry += rest
            if not skipping and len(carry) >= limit:
                skipping, carry = True, ""
        if skipping:
            yield None
        elif carry:
            yield carry if len(carry) < limit else None

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
