"""The ``beaconguard`` command.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and
``run(args) -> int``. Errors a user can fix (a bad store URL, date, file) end the command
with one readable line on stderr and a non-zero exit status, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Subcommand modules under ``beaconguard.cli``, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("report", "purge", "anonymize", "ingest", "audit", "ua", "geoip")


class CLIError(Exception):
    """A problem the user can fix; printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command's parser; with ``only``, just that subcommand's (its module alone is
    imported, so ``beaconguard anonymize`` does not pay for the statistics stores)."""
    parser = argparse.ArgumentParser(
        prog="beaconguard",
        description="Anonymous statistics and anonymized logs for ASGI apps.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS if only not in COMMANDS else (only,):
        module = importlib.import_module(f"beaconguard.cli.{name}")
        module.add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``beaconguard`` console script."""
    args_list = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(args_list[0] if args_list else None)
    args = parser.parse_args(args_list)
    try:
        code = int(args.run(args) or 0)
    except CLIError as exc:
        print(f"beaconguard {args.command}: {exc}", file=sys.stderr)
        return exc.code
    except ValueError as exc:
        # Settings and parsers raise ValueError with a message meant for people.
        print(f"beaconguard {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0
    except OSError as exc:
        where = f": {exc.filename}" if exc.filename else ""
        print(f"beaconguard {args.command}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code
