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

    def blocks(self) -> Iterator[str | None]:
        """The log as blocks of whole lines, in order, for readers that work on many lines
        at once (:meth:`lines` is built on it).

        A block is a string of lines each ending with ``"\\n"`` (a ``"\\r"`` before it is
        kept), every one shorter than :data:`~beaconguard.offline.parse.MAX_LINE`
        characters, its ``"\\r"`` included; ``None`` stands for one line that long or
        longer (its text is skipped). A last line without a newline comes alone, as a
        block that does not end with ``"\\n"``.
        """
        read = self._text.read
        limit = MAX_LINE
        size = BLOCK
        carry = ""
        skipping = False  # inside an over-long line: drop text until its newline
        while chunk := read(size):
            end = chunk.rfind("\n") + 1
            if skipping:
                if not end:
                    continue
                skipping = False
                yield None
                text = chunk[chunk.find("\n") + 1 : end]
            elif not end:
                carry += chunk
                if len(carry) >= limit:
                    skipping, carry = True, ""
                continue
            else:
                text = chunk if end == len(chunk) else chunk[:end]
                if carry:
                    text = carry + text
            carry = chunk[end:]
            if text:
                yield from _within_limit(text, limit)
            if len(carry) >= limit:
                skipping, carry = True, ""
        if skipping:
            yield None
        elif carry:
            yield carry if len(carry) < limit else None

    def lines(self) -> Iterator[str | None]:
        """Each line without its newline (and without a ``"\\r"`` before it), or ``None``
        for a line of :data:`~beaconguard.offline.parse.MAX_LINE` characters or more (its
        rest is skipped); a last line without a newline is kept as it is."""
        for block in self.blocks():
            if block is None:
                yield None
            elif block[-1:] != "\n":
                yield block
            else:
                parts = block.split("\n")
                parts.pop()
                if "\r" not in block:
                    yield from parts
                else:
                    for line in parts:
                        yield line[:-1] if line[-1:] == "\r" else line

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


def _within_limit(text: str, limit: int) -> Iterator[str | None]:
    """``text`` (whole lines) as blocks of lines shorter than ``limit``, ``None`` for each
    line that is not."""
    # A line of ``limit`` characters or more holds a whole aligned window of half that
    # size without a newline; a few finds rule that out without looking at every line.
    half = max(limit // 2, 1)
    n = len(text)
    if n <= limit or all(text.find("\n", k, k + half) >= 0 for k in range(0, n - half + 1, half)):
        yield text
        return
    kept: list[str] = []
    for line in text.split("\n")[:-1]:
        if len(line) < limit:
            kept.append(line)
            continue
        if kept:
            yield "\n".join(kept) + "\n"
            kept.clear()
        yield None
    if kept:
        yield "\n".join(kept) + "\n"
