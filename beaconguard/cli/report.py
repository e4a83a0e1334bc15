"""``beaconguard report``: popularity reports from a statistics store.

A table with a bar column for people (the default), ``--format json`` (the report API's
object) or ``--format csv`` for scripts. The store defaults to ``BEACONGUARD_STORE``; the
k-threshold and noise default to the configured ``BEACONGUARD_MIN_VISITORS`` and
``BEACONGUARD_NOISE_EPSILON``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from beaconguard.cli import CLIError
from beaconguard.reports.params import build_query
from beaconguard.reports.render import render_csv, render_json, render_table, suppressed_note
from beaconguard.settings import Settings
from beaconguard.stats.query import DIMENSIONS, run_report
from beaconguard.stats.store import Store, open_store

FORMATS = ("table", "json", "csv")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="popularity report: top pages, referrers, countries, ...",
        description="Print a popularity report from a statistics store. Rows with fewer "
        "than --min-visitors visitors are withheld and counted.",
    )
    parser.add_argument("--store", metavar="URL",
                        help="sqlite:///path/stats.db, redis://host:port/db "
                        "(default: $BEACONGUARD_STORE)")
    period = parser.add_argument_group("period (UTC days; default: the last 7 days)")
    period.add_argument("--since", metavar="Nd", help="the last N days, today included (7d)")
    period.add_argument("--from", dest="start", metavar="DATE", help="first day, 2026-01-31")
    period.add_argument("--to", dest="end", metavar="DATE", help="last day (default: today)")
    parser.add_argument("--by", default="page", metavar="DIMENSION",
                        help=f"group rows by one of: {', '.join(DIMENSIONS)} (default: page)")
    parser.add_argument("--filter", action="append", default=[], metavar="DIM=VALUE",
                        help="only visits with this value, e.g. page=/pricing (repeatable)")
    parser.add_argument("--top", default="20", metavar="N", help="at most N rows (default 20)")
    parser.add_argument("--format", default="table", choices=FORMATS,
                        help="table (default), json or csv")
    parser.add_argument("--min-visitors", metavar="K",
                        help="withhold rows with fewer than K visitors "
                        "(default: $BEACONGUARD_MIN_VISITORS or 5)")
    parser.set_defaults(run=run)


def _open(url: str) -> Store:
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        # Opening would create an empty database; a typo deserves an error instead.
        if not path.is_file():
            raise CLIError(f"no statistics database at {str(path)!r} (from --store {url})")
    try:
        return open_store(url)
    except ImportError as exc:
        if (exc.name or "").startswith("beaconguard"):
            raise CLIError(f"store {url!r}: this build has no backend for it") from None
        raise CLIError(
            f"store {url!r} needs a package that is not installed ({exc.name})"
        ) from None
    except ValueError:
        raise
    except Exception as exc:
        raise CLIError(f"could not open the store {url}: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    url = args.store or os.environ.get("BEACONGUARD_STORE")
    if not url:
        raise CLIError("no store given: pass --store URL or set BEACONGUARD_STORE")
    query = build_query(
        by=args.by,
        filters=args.filter,
        top=args.top,
        min_visitors=args.min_visitors if args.min_visitors is not None
        else settings.min_visitors,
        since=args.since,
        start=args.start,
        end=args.end,
        noise_epsilon=settings.noise_epsilon,
    )
    secret = settings.signing_key if query.noise_epsilon is not None else None
    store = _open(url)
    try:
        report = run_report(store, query, secret=secret)
    except (ValueError, CLIError):
        raise
    except Exception as exc:
        # A store that cannot be read (unreachable Redis, a file that is not a database).
        raise CLIError(f"could not read the store {url}: {_first_line(exc)}") from None
    finally:
        store.close()

    if args.format == "json":
        sys.stdout.write(render_json(report) + "\n")
    elif args.format == "csv":
        sys.stdout.write(render_csv(report))
        print(f"note: {suppressed_note(report)}", file=sys.stderr)
    else:
        from rich.console import Console

        Console(highlight=False).print(render_table(report))
    return 0
