"""``beaconguard ua``: classify user-agent strings exactly as the middleware does."""

from __future__ import annotations

import argparse
import io
import sys

import orjson

from beaconguard.anonymize.useragent import make_classifier


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ua",
        help="classify user-agent strings read from stdin",
        description=(
            "Read user-agent strings, one per line, from stdin and print one JSON line for "
            "each: browser, os, device and is_bot, from the classifier the middleware uses."
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    classify = make_classifier(4096)
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
    write = sys.stdout.buffer.write
    for line in stdin:
        # Every field of the middleware's classification, by construction the same set.
        info = classify(line.rstrip("\r\n"))
        write(orjson.dumps(info._asdict(), option=orjson.OPT_APPEND_NEWLINE))
    sys.stdout.buffer.flush()
    return 0
