"""The anonymizing access log: records from the pipeline, buffered, written off-loop."""

from beaconguard.accesslog.sinks import FileSink, LoggingSink, Sink, StdoutSink, open_sink
from beaconguard.accesslog.uvicorn import AnonymizingAccessFilter
from beaconguard.accesslog.writer import LogWriter

__all__ = [
    "AnonymizingAccessFilter",
    "FileSink",
    "LogWriter",
    "LoggingSink",
    "Sink",
    "StdoutSink",
    "open_sink",
]
