"""The offline anonymize loop: lines in, anonymized lines out, malformed lines counted.

Every line that parses becomes a ``Visit`` and goes through the same pipeline the
middleware runs. A line that does not parse is replaced by a marker holding only its line
number (or dropped), never written as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from beaconguard.anonymize.pipeline import Pipeline, build_pipeline
from beaconguard.offline.fastpath import FastPath, make_fast_path
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
        self.fast: FastPath | None = (
            make_fast_path(settings, fmt, site_host=site_host) if out_format == "same" else None
        )

    def run(
        self,
        lines: Iterable[str | None],
        write: Callable[[bytes], object],
        progress: Callable[[], None] | None = None,
    ) -> Counts:
        counts = Counts()
        parse, to_visit, pipeline, fmt = self.parse, self.to_visit, self.pipeline, self.format
        read = written = malformed = 0
        json_marker, follow = self.json_out, self._follow_shape
        fast = self.fast
        batch: list[str] = []
        add = batch.append

        def flush() -> None:
            if batch:
                data = "".join(batch).encode("utf-8", "replace")
                batch.clear()
                write(data)

        try:
            for line in lines:
                read += 1
                if fast is not None and line:
                    text = fast(line)
                    if text is not None:
                        add(text)
                        written += 1
                        if follow:
                            json_marker = False
                        if not read % PROGRESS_EVERY:
                            flush()
                            if progress is not None:
                                progress()
                        continue
                parsed = parse(line) if line else None
                if parsed is None:
                    malformed += 1
                    if not self.drop_malformed:
                        add(malformed_marker(read, json_marker).decode())
                        written += 1
                else:
                    add(fmt(pipeline(to_visit(parsed)), parsed).decode("utf-8"))
                    written += 1
                    if follow:
                        json_marker = parsed.shape == "json"
                if not read % PROGRESS_EVERY:
                    flush()
                    if progress is not None:
                        progress()
        finally:
            counts.read, counts.written, counts.malformed = read, written, malformed
            # What was anonymized is written even when reading fails part-way (a cut gzip
            # stream); a failed write emptied the batch first, so it is not retried.
            flush()
        return counts
