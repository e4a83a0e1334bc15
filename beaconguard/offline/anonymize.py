"""The offline anonymize loop: lines in, anonymized lines out, malformed lines counted.

Every line that parses becomes a ``Visit`` and goes through the same pipeline the
middleware runs. A line that does not parse is replaced by a marker holding only its line
number (or dropped), never written as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from beaconguard.anonymize.pipeline import Pipeline, build_pipeline
from beaconguard.offline.fastpath import BlockPath, FastPath, SlowLine, make_fast_paths
from beaconguard.offline.parse import LogLine, make_parser
from beaconguard.offline.to_visit import make_converter
from beaconguard.offline.writer import Formatter, make_formatter, malformed_marker
from beaconguard.settings import Settings

#: How often (in lines) the progress callback is told how far the run has got; output is
#: handed to ``write`` in batches of this many lines, too.
PROGRESS_EVERY = 8192


@dataclass(slots=True)
class Counts:
    """What a run did, for the summary line."""

    read: int = 0
    written: int = 0
    malformed: int = 0


class Anonymizer:
    """Turns raw log lines into anonymized ones under one ``Settings``.

    ``Anonymizer(settings, fmt="auto", out_format="same")``; then :meth:`run` over an
    iterable of lines (``None`` meaning an unreadable line) with a ``write`` function.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        fmt: str = "auto",
        out_format: str = "same",
        drop_malformed: bool = False,
        site_host: str = "",
    ) -> None:
        self.parse: Callable[[str], LogLine | None] = make_parser(fmt)
        self.pipeline: Pipeline = build_pipeline(settings)
        self.to_visit = make_converter(settings, site_host=site_host)
        self.format: Formatter = make_formatter(out_format)
        self.json_out = out_format == "json" or fmt == "json"
        # With mixed input and "same" output, a marker takes the shape of the line before.
        self._follow_shape = out_format == "same" and fmt == "auto"
        self.drop_malformed = drop_malformed
        # Text lines of the plain shape, written back as text, skip the Visit and the
        # record: see beaconguard.offline.fastpath (same processors, same output).
        paths = (
            make_fast_paths(settings, fmt, site_host=site_host) if out_format == "same" else None
        )
        self.fast: FastPath | None = None if paths is None else paths[0]
        self.block: BlockPath | None = None if paths is None else paths[1]

    def run(
        self,
        lines: Iterable[str | None],
        write: Callable[[bytes], object],
        progress: Callable[[], None] | None = None,
    ) -> Counts:
        """Anonymize ``lines`` one by one, handing the output to ``write`` in batches."""
        tally = _Tally(json_marker=self.json_out)
        batch, flush = _batched(write)
        one = self._line_path(batch.append, tally)
        read = 0

        try:
            for line in lines:
                read += 1
                one(line, read, False)
                if not read % PROGRESS_EVERY:
                    flush()
                    if progress is not None:
                        progress()
        finally:
            # What was anonymized is written even when reading fails part-way (a cut gzip
            # stream); a failed write emptied the batch first, so it is not retried.
            flush()
        return Counts(read, tally.written, tally.malformed)

    def _line_path(self, add: Callable[[str], object], tally: _Tally) -> SlowLine:
        """``one(line, number, after_fast)``: one line the line-by-line way (the fast path
        for one plain line, else the parser and the pipeline, else a marker), its output
        handed to ``add`` and counted in ``tally``. ``after_fast``: the line before went
        the block fast path (a marker then takes the text shape)."""
        parse, to_visit, pipeline, fmt = self.parse, self.to_visit, self.pipeline, self.format
        fast = self.fast
        drop = self.drop_malformed
        follow = self._follow_shape

        def one(line: str | None, number: int, after_fast: bool) -> None:
            if after_fast and follow:
                tally.json_marker = False
            if fast is not None and line:
                text = fast(line)
                if text is not None:
                    add(text)
                    tally.written += 1
                    if follow:
                        tally.json_marker = False
                    return
            parsed = parse(line) if line else None
            if parsed is None:
                tally.malformed += 1
                if not drop:
                    add(malformed_marker(number, tally.json_marker).decode())
                    tally.written += 1
            else:
                add(fmt(pipeline(to_visit(parsed)), parsed).decode("utf-8"))
                tally.written += 1
                if follow:
                    tally.json_marker = parsed.shape == "json"

        return one

    def run_blocks(
        self,
        blocks: Iterable[str | None],
        write: Callable[[bytes], object],
        progress: Callable[[], None] | None = None,
    ) -> Counts:
        """:meth:`run` over blocks of whole lines, as ``Source.blocks()`` gives them.

        The plain text lines of a block are anonymized together by the block fast path;
        every other line goes through :meth:`run`'s line-by-line path at its place, so the
        output, its order and the counts are those :meth:`run` gives for the same lines.
        Each block's output is handed to ``write`` at once.
        """
        block = self.block
        if block is None:
            return self.run(_lines_of(blocks), write, progress)
        tally = _Tally(json_marker=self.json_out)
        out, flush = _batched(write)
        slow = self._line_path(out.append, tally)
        follow = self._follow_shape
        read = 0

        try:
            for text in blocks:
                before = read
                if text is None or text[-1:] != "\n":
                    read += 1
                    slow(text, read, False)
                else:
                    lines, taken, after_fast = block(text, read, out, slow)
                    read += lines
                    tally.written += taken
                    if after_fast and follow:
                        tally.json_marker = False
                flush()
                if progress is not None and read // PROGRESS_EVERY != before // PROGRESS_EVERY:
                    progress()
        finally:
            # As in run(): what was anonymized is written even when reading fails part-way.
            flush()
        return Counts(read, tally.written, tally.malformed)


@dataclass(slots=True)
class _Tally:
    """The line path's running counts, and the shape a marker takes next."""

    written: int = 0
    malformed: int = 0
    json_marker: bool = False


def _batched(write: Callable[[bytes], object]) -> tuple[list[str], Callable[[], None]]:
    """A list to gather output lines in, and ``flush()`` handing them to ``write`` as one
    UTF-8 write. The list is emptied before the write, so a failed write is not retried."""
    batch: list[str] = []

    def flush() -> None:
        if batch:
            data = "".join(batch).encode("utf-8", "replace")
            batch.clear()
            write(data)

    return batch, flush


def _lines_of(blocks: Iterable[str | None]) -> Iterator[str | None]:
    """The lines of ``Source.blocks()`` as ``Source.lines()`` gives them."""
    for block in blocks:
        if block is None or block[-1:] != "\n":
            yield block
            continue
        parts = block.split("\n")
        parts.pop()
        for line in parts:
            yield line[:-1] if line[-1:] == "\r" else line
