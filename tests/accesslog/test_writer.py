import threading
from collections.abc import Sequence

import orjson

from beaconguard.accesslog.writer import LogWriter


class ListSink:
    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self.closed = False

    def write(self, lines: Sequence[bytes]) -> None:
        self.lines.extend(lines)

    def close(self) -> None:
        self.closed = True


class BlockedSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def write(self, lines: Sequence[bytes]) -> None:
        self.gate.wait(10)
        super().write(lines)


def test_close_writes_everything() -> None:
    sink = ListSink()
    writer = LogWriter(sink, flush_interval=60)
    for i in range(500):
        writer.submit({"i": i})
    writer.close()
    assert [orjson.loads(line)["i"] for line in sink.lines] == list(range(500))
    assert sink.closed and writer.written == 500 and writer.dropped == 0


def test_background_thread_flushes() -> None:
    sink = ListSink()
    writer = LogWriter(sink, flush_interval=0.01)
    writer.submit({"x": 1})
    for _ in range(500):
        if sink.lines:
            break
        threading.Event().wait(0.01)
    assert sink.lines == [b'{"x":1}\n']
    writer.close()


def test_full_buffer_drops_and_counts_instead_of_blocking(caplog) -> None:  # type: ignore[no-untyped-def]
    sink = BlockedSink()
    writer = LogWriter(sink, buffer_size=10, flush_interval=60)
    for i in range(25):
        writer.submit({"i": i})  # returns at once although the sink is stuck
    assert writer.dropped == 15
    sink.gate.set()
    writer.close()
    assert len(sink.lines) == 10
    assert "15 record(s) dropped" in caplog.text


def test_no_record_lost_while_the_thread_takes_batches() -> None:
    # The writer thread drains while the loop thread appends; with a tiny switch interval
    # the two interleave as often as they can. Every record is written exactly once.
    import sys

    sink = ListSink()
    writer = LogWriter(sink, buffer_size=1_000_000, flush_interval=0.0001)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        for i in range(100_000):
            writer.submit({"i": i})
    finally:
        sys.setswitchinterval(old)
        writer.close()
    assert writer.dropped == 0 and writer.written == 100_000
    assert sorted(orjson.loads(line)["i"] for line in sink.lines) == list(range(100_000))
