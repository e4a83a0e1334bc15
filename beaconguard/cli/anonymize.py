"""``beaconguard anonymize``: clean an existing access log with the middleware's policy."""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib
from typing import BinaryIO

from beaconguard.cli import CLIError
from beaconguard.cli._options import add_settings_options, progress_bar, settings_from_args
from beaconguard.offline.anonymize import Anonymizer
from beaconguard.offline.parse import FORMATS
from beaconguard.offline.source import Source
from beaconguard.offline.writer import OUT_FORMATS


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "anonymize",
        help="anonymize an nginx/Apache/JSON access log",
        description=(
            "Read an access log (stdin or --input, gzip accepted) and write it anonymized "
            "with the same processors and settings as the middleware. Lines that do not "
            "parse are replaced by a marker (or dropped) and counted, never passed through."
        ),
    )
    parser.add_argument("--input", "-i", metavar="FILE", help="log to read (default: stdin)")
    parser.add_argument("--output", "-o", metavar="FILE", help="where to write (default: stdout)")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="input format")
    parser.add_argument(
        "--out-format", choices=OUT_FORMATS, default="same", help="output format"
    )
    parser.add_argument(
        "--drop-malformed", action="store_true", help="drop lines that do not parse"
    )
    parser.add_argument(
        "--site-host",
        default="",
        metavar="HOST",
        help="the site's host name, so same-site referrers keep their (anonymized) path",
    )
    add_settings_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    anonymizer = Anonymizer(
        settings,
        fmt=args.format,
        out_format=args.out_format,
        drop_malformed=args.drop_malformed,
        site_host=args.site_host,
    )
    try:
        source = Source(args.input)
    except IsADirectoryError:
        raise CLIError(f"--input: {args.input} is a directory") from None
    except FileNotFoundError:
        raise CLIError(f"--input: no file at {args.input!r}") from None
    with source:
        to_file = bool(args.output) and args.output != "-"
        out: BinaryIO = open(args.output, "wb") if to_file else sys.stdout.buffer  # noqa: SIM115
        update, finish = progress_bar(source.size, "anonymize")
        try:
            counts = anonymizer.run_blocks(
                source.blocks(), out.write, lambda: update(source.position())
            )
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CLIError(f"{source.name}: not a complete gzip stream ({exc})") from None
        finally:
            finish()
            if out is not sys.stdout.buffer:
                out.close()
            else:
                out.flush()
    dropped = " (dropped)" if args.drop_malformed else " (replaced by a marker)"
    print(
        f"beaconguard anonymize: read {counts.read}, written {counts.written}, "
        f"malformed {counts.malformed}{dropped if counts.malformed else ''}",
        file=sys.stderr,
    )
    return 0
