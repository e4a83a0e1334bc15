"""A bounded buffer between the event loop and a sink, drained by one thread.

The request path only appends a record to a deque (no lock, no I/O, no serialization).
A writer thread drains it every ``flush_interval`` seconds, serializes with orjson
and hands the batch to the sink. When the buffer is full the record is counted as dropped:
a slow disk must never slow a request. ``close()`` writes everything still buffered.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import deque
from typing import Any

import orjson

from beaconguard.accesslog.sinks import Sink

log = logging.getLogger("beaconguard")


class LogWriter:
    """Buffers anonymized records and writes them to ``sink`` off the event loop."""

    def __init__(self, sink: Sink, *, buffer_size: int = 10_000, flush_interval: float = 0.2):
        self.sink = sink
        self.buffer_size = buffer_size
        self.flush_interval = flush_interval
        self.dropped = 0
        self.written = 0
        self._reported_dropped = 0
        # A deque, drained item by item: its append and popleft are atomic, so a record
        # appended while the writer thread takes a batch is never lost (swapping a list out
        # could leave a late append on the list just written).
        self._buf: deque[dict[str, Any] | bytes] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        # A weak reference: registering the writer itself would keep it alive forever.
        ref = weakref.ref(self)

        def close_at_exit() -> None:
            writer = ref()
            if writer is not None:
                writer.close()

        atexit.register(close_at_exit)

        def forget_thread_in_child() -> None:
            writer = ref()
            if writer is not None:
                writer._pid = 0

        # A forked child inherits the parent's writer but not its thread: the next submit
        # starts one. Checked here rather than with os.getpid() in submit, which costs a
        # system call and an int allocation on every request.
        os.register_at_fork(after_in_child=forget_thread_in_child)

    def submit(self, record: dict[str, Any] | bytes) -> None:
        """Queue one record, or one finished line (bytes, newline included); never blocks.
        Called on the event loop."""
        buf = self._buf
        if len(buf) >= self.buffer_size:
            self.dropped += 1
            return
        buf.append(record)
        if not self._pid:
            self._start()

    def _start(self) -> None:
        # Started lazily and per process: a server that forks after import gets a
        # writer thread in each worker, not a dead one inherited from the parent.
        self._pid = os.getpid()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="beaconguard-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            try:
                self.flush()
            except Exception:  # a broken disk must not kill the writer; keep counting
                log.exception("beaconguard: access log write failed")

    def flush(self) -> None:
        """Write everything buffered now (from any thread)."""
        with self._lock:
            buf = self._buf
            take = buf.popleft
            batch = [take() for _ in range(len(buf))]
            if batch:
                lines = self._serialize(batch)
                try:
                    self.sink.write(lines)
                except Exception:
                    self.dropped += len(lines)
                    raise
                self.written += len(lines)
            if self.dropped != self._reported_dropped:
                log.warning(
                    "beaconguard: access log buffer full, %d record(s) dropped so far",
                    self.dropped,
                )
                self._reported_dropped = self.dropped

    def _serialize(self, batch: list[dict[str, Any] | bytes]) -> list[bytes]:
        """The batch's lines; a record orjson cannot write is dropped and counted alone,
        not with the batch around it."""
        dumps = orjson.dumps
        try:
            # The compiled log path hands finished lines (replay.py).
            return [
                r if r.__class__ is bytes else dumps(r, option=orjson.OPT_APPEND_NEWLINE)
                for r in batch
            ]
        except orjson.JSONEncodeError:
            lines = []
            for r in batch:
                if r.__class__ is bytes:
                    lines.append(r)
                    continue
                try:
                    lines.append(dumps(r, option=orjson.OPT_APPEND_NEWLINE))
                except orjson.JSONEncodeError:
                    self.dropped += 1
            return lines

    def close(self) -> None:
        """Stop the thread and write everything still buffered. Safe to call twice."""
        if self._closed and not self._buf:
            return
        self._closed = True
        self._pid = 0  # a later submit (a server restarted in-process) starts a new thread
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive() and thread is not threading.current_thread():
            thread.join(timeout=5)
        self.flush()
        self.sink.close()
