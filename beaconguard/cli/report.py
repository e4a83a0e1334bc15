"""``beaconguard report``: popularity reports from a statistics store.

A table with a bar column for people (the default), ``--format json`` (the report API's
object) or ``--format csv`` for scripts. The store defaults to ``BEACONGUARD_STORE`` (else
``sqlite:///var/stats.db``, which must exist: a report never creates a database); the
k-threshold and noise default to the configured ``BEACONGUARD_MIN_VISITORS`` and
``BEACONGUARD_NOISE_EPSILON``.
"""

from __future__ import annotations

import argparse
import sys

from beaconguard.cli import CLIError
from beaconguard.cli._stats import add_store_argument, open_existing_store, settings_from_env
from beaconguard.reports.params import build_query
from beaconguard.reports.render import render_csv, render_json, render_table, suppressed_note
from beaconguard.stats.query import DIMENSIONS, run_report

FORMATS = ("table", "json", "csv")


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "report",
        help="popularity report: top pages, referrers, countries, ...",
        description="Print a popularity report from a statistics store. Rows with fewer "
        "than --min-visitors visitors are withheld and counted.",
    )
    add_store_argument(parser)
    period = parser.add_argument_group("period (UTC days; default: the last 7 days)")
    period.add_argument("--since", metavar="Nd", help="the last N days, today included (7d)")
    period.add_argument("--from", dest="start", metavar="DATE", help="first day, 2026-01-31")
    period.add_argument("--to", dest="end", metavar="DATE", help="last day (default: today)")
    parser.add_argument("--by", default="page", metavar="DIMENSION",
                        help=f"group rows by one of: {', '.join(DIMENSIONS)} (default: page)")
    parser.add_argument("--filter", action="append", default=[], metavar="DIM=VALUE",
                        help="only visits with this value, e.g. page=/pricing (repeatable)")
    parser.add_argument("--top", default="20", metavar="N", help="at most N rows (default 20)")
    parser.add_argument("--format", default="table", metavar="FORMAT",
                        help="table (default), json or csv")
    parser.add_argument("--min-visitors", metavar="K",
                        help="withhold rows with fewer than K visitors "
                        "(default: $BEACONGUARD_MIN_VISITORS or 5)")
    parser.add_argument("--noise", metavar="EPSILON",
                        help="add Laplace noise with this epsilon "
                        "(default: $BEACONGUARD_NOISE_EPSILON or none)")
    parser.set_defaults(run=run)


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0]


def _epsilon(text: str | None, default: float | None) -> float | None:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise CLIError(f"--noise: expected a number such as 1.0, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    if args.format not in FORMATS:
        raise CLIError(f"--format {args.format!r}: use table, json or csv")
    settings = settings_from_env()
    # BEACONGUARD_STORE when set, else the default sqlite:///var/stats.db.
    url = args.store or settings.store
    query = build_query(
        by=args.by,
        filters=args.filter,
        top=args.top,
        min_visitors=args.min_visitors if args.min_visitors is not None
        else settings.min_visitors,
        since=args.since,
        start=args.start,
        end=args.end,
        noise_epsilon=_epsilon(args.noise, settings.noise_epsilon),
    )
    secret = settings.signing_key if query.noise_epsilon is not None else None
    store = open_existing_store(url)
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

        console = Console(highlight=False)
        table = render_table(
            report, console_width=console.width, ascii_only=not _unicode(console.encoding)
        )
        try:
            console.print(table)
        except UnicodeEncodeError:
            # A key the terminal's encoding cannot show (rich's own message adds a second
            # line of advice; one line is the CLI's promise).
            raise CLIError(
                f"the terminal's encoding ({console.encoding}) cannot show this report; "
                "use --format json or csv, or set PYTHONIOENCODING=utf-8"
            ) from None
    return 0


def _unicode(encoding: str) -> bool:
    return encoding.lower().replace("-", "").startswith(("utf", "ucs"))
