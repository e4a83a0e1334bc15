"""``beaconguard report``: one statistics report from a store.

``beaconguard report --store sqlite:///var/stats.db --by page --since 7d --format json``
prints one JSON object with a ``rows`` list (see :func:`beaconguard.stats.query.run_report`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from beaconguard.cli import CLIError
from beaconguard.cli._stats import add_store_argument, open_existing_store, settings_from_env
from beaconguard.stats.query import DIMENSIONS, ReportQuery, parse_period, run_report

FORMATS = ("json",)


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "report",
        help="print a statistics report (rows per page, referrer, country, ...)",
        description="Print a statistics report. Rows with fewer than K visitors are "
        "suppressed and counted. 'visitors' are daily unique visitors; over several days "
        "a row shows the sum of its daily uniques.",
    )
    add_store_argument(p)
    p.add_argument("--by", default="page", choices=DIMENSIONS, help="dimension (default page)")
    p.add_argument("--since", metavar="Nd", help="the last N days including today (default 7d)")
    p.add_argument("--from", dest="start", metavar="YYYY-MM-DD", help="first day (UTC)")
    p.add_argument("--to", dest="end", metavar="YYYY-MM-DD", help="last day (default today)")
    p.add_argument(
        "--filter",
        action="append",
        default=[],
        metavar="DIM=VALUE",
        help="only visits where DIM is VALUE, e.g. page=/pricing (repeatable)",
    )
    p.add_argument("--top", type=int, default=20, help="at most N rows (default 20)")
    p.add_argument(
        "--min-visitors", type=int, metavar="K", help="suppress rows under K visitors"
    )
    p.add_argument(
        "--noise", type=float, metavar="EPSILON", help="add Laplace noise with this epsilon"
    )
    p.add_argument("--format", default="json", choices=FORMATS, help="output format")
    p.set_defaults(run=run)


def _filters(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise CLIError(f"--filter {item!r}: expected DIM=VALUE, e.g. page=/pricing")
        out[name.strip()] = value
    return out


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    start, end = parse_period(args.since, args.start, args.end)
    eps = args.noise if args.noise is not None else settings.noise_epsilon
    query = ReportQuery(
        start=start,
        end=end,
        by=args.by,
        filters=_filters(args.filter),
        top=args.top,
        min_visitors=args.min_visitors if args.min_visitors is not None else settings.min_visitors,
        noise_epsilon=eps,
    )
    secret = settings.signing_key if eps is not None else None
    store = open_existing_store(args.store or settings.store)
    try:
        report = run_report(store, query, secret=secret)
    finally:
        store.close()
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0
