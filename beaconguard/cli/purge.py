"""``beaconguard purge``: delete statistics older than the retention period, now.

The aggregator also purges hourly while the app runs; this is for stores no app writes to
any more, or for a shorter period on demand. Expired visitor day keys are destroyed too.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from beaconguard.cli._stats import add_store_argument, open_existing_store, settings_from_env
from beaconguard.stats.days import day_name, day_number


def add_parser(subparsers: Any) -> None:
    p: argparse.ArgumentParser = subparsers.add_parser(
        "purge",
        help="delete statistics older than the retention period",
        description="Delete every aggregate of days older than DAYS (default: the "
        "retention_days setting, 400) and destroy expired visitor day keys.",
    )
    add_store_argument(p)
    p.add_argument(
        "--older-than", type=int, metavar="DAYS", help="keep only the last DAYS days"
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_env()
    days = args.older_than if args.older_than is not None else settings.retention_days
    if days < 1:
        raise ValueError(f"--older-than: must be at least 1 day, got {days}")
    now = time.time()
    keep_from = day_name(day_number(now) - days + 1)
    store = open_existing_store(args.store or settings.store, write=True)
    try:
        rows = store.purge(keep_from)
        keys = store.drop_day_keys(now)
    finally:
        store.close()
    print(f"purged {rows} aggregate row(s) of days before {keep_from}; "
          f"destroyed {keys} expired day key(s)")
    return 0
