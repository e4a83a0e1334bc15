"""``beaconguard ingest``: count existing access logs into the statistics store."""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import zlib

from beaconguard.cli import CLIError
from beaconguard.cli._options import add_settings_options, progress_bar, settings_from_args
from beaconguard.offline.ingest import Ingester
from beaconguard.offline.parse import FORMATS
from beaconguard.stats.store import open_store


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="count existing access logs into the statistics store",
        description=(
            "Feed nginx/Apache/JSON access logs (gzip accepted) to the statistics with the "
            "same pipeline, bot filter and page-view rule as live traffic. Running it again "
            "on the same file counts nothing twice; on a file that has grown, only the new "
            "lines are counted."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--store", metavar="URL", help="statistics store (default: settings)")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="input format")
    parser.add_argument(
        "--site-host",
        default="",
        metavar="HOST",
        help="the site's host name (combined logs do not hold it)",
    )
    add_settings_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    extra = {"store": args.store} if args.store else {}
    settings = settings_from_args(args, **extra)
    try:
        settings.require_secret()
    except ValueError:
        raise CLIError(
            "ingest needs BEACONGUARD_SECRET_KEY (the one the site uses): it keys the "
            "fingerprints that stop a file from being counted twice"
        ) from None
    for path in args.files:
        if not os.path.isfile(path):
            raise CLIError(f"no file at {path!r}")
    store = open_store(settings.store)
    ingester = Ingester(settings, store, fmt=args.format, site_host=args.site_host)
    try:
        for path in args.files:
            update, finish = progress_bar(os.path.getsize(path), f"ingest {path}")
            try:
                counts = ingester.ingest(path, update)
            except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
                raise CLIError(f"{path}: not a complete gzip stream ({exc})") from None
            finally:
                finish()
            print(
                f"beaconguard ingest: {path}: read {counts.read}, fed {counts.fed}, "
                f"already ingested {counts.already}, malformed {counts.malformed}, "
                f"older than retention {counts.too_old}",
                file=sys.stderr,
            )
    finally:
        ingester.close()
        store.close()
    return 0
