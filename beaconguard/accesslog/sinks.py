"""Where anonymized log lines go: a file (with rotation), stdout, or the ``logging`` module.

Every sink has the same small interface: ``write(lines)`` takes a batch of complete JSON
lines (bytes, each ending in ``\\n``) and ``close()`` releases what it holds. Sinks are
called from the writer thread, never from the event loop.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol


class Sink(Protocol):
    """A destination for batches of anonymized JSON lines."""

    def write(self, lines: Sequence[bytes]) -> None: ...

    def close(self) -> None: ...


class FileSink:
    """Append to a file; rotate by size (``max_bytes``) and/or time (``daily``, ``hourly``).

    Rotated files are ``access.log.1`` (newest) … ``access.log.N``; older ones are deleted,
    which is how the retention period promised by a privacy policy is kept. Several
    processes may append to one file: each batch is one ``write`` on an ``O_APPEND`` file,
    and a process that finds the file rotated under it reopens the new one.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = 0,
        rotate: str = "",
        backups: int = 7,
    ) -> None:
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.rotate = rotate
        self.backups = backups
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = -1
        self._period = self._current_period()
        self._open()

    def _current_period(self) -> str:
        if self.rotate == "daily":
            return time.strftime("%Y%m%d", time.gmtime())
        if self.rotate == "hourly":
            return time.strftime("%Y%m%d%H", time.gmtime())
        return ""

    def _open(self) -> None:
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self._ino = os.fstat(self._fd).st_ino

    def _reopen_if_moved(self) -> None:
        try:
            moved = os.stat(self.path).st_ino != self._ino
        except FileNotFoundError:
            moved = True
        if moved:
            os.close(self._fd)
            self._open()

    def _do_rotate(self) -> None:
        os.close(self._fd)
        if self.backups > 0:
            oldest = self.path.with_name(f"{self.path.name}.{self.backups}")
            oldest.unlink(missing_ok=True)
            for i in range(self.backups - 1, 0, -1):
                src = self.path.with_name(f"{self.path.name}.{i}")
                if src.exists():
                    src.rename(self.path.with_name(f"{self.path.name}.{i + 1}"))
            if self.path.exists():
                self.path.rename(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)
        self._open()

    def write(self, lines: Sequence[bytes]) -> None:
        if not lines:
            return
        if self._fd < 0:
            self._open()
        self._reopen_if_moved()
        period = self._current_period()
        if period != self._period:
            self._period = period
            if os.fstat(self._fd).st_size > 0:
                self._do_rotate()
        data = b"".join(lines)
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        if self.max_bytes and os.fstat(self._fd).st_size >= self.max_bytes:
            self._do_rotate()

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class StdoutSink:
    """Write lines to standard output (``access_log="-"``), e.g. for a container's log."""

    def write(self, lines: Sequence[bytes]) -> None:
        out = sys.stdout.buffer
        out.write(b"".join(lines))
        out.flush()

    def close(self) -> None:
        sys.stdout.flush()


class LoggingSink:
    """Hand each line to a ``logging`` logger (default ``beaconguard.access``) at INFO.

    For apps whose logs already flow through ``logging`` handlers; the message is the JSON
    line without its newline.
    """

    def __init__(self, logger: str | logging.Logger = "beaconguard.access") -> None:
        self.logger = logging.getLogger(logger) if isinstance(logger, str) else logger

    def write(self, lines: Sequence[bytes]) -> None:
        log = self.logger.info
        for line in lines:
            log(line[:-1].decode())

    def close(self) -> None:
        pass


def open_sink(target: str, *, max_bytes: int = 0, rotate: str = "", backups: int = 7) -> Sink:
    """The sink an ``access_log`` setting names: ``-`` stdout, ``logging:NAME``, else a path."""
    if target == "-":
        return StdoutSink()
    if target.startswith("logging:"):
        return LoggingSink(target.removeprefix("logging:") or "beaconguard.access")
    return FileSink(target, max_bytes=max_bytes, rotate=rotate, backups=backups)
