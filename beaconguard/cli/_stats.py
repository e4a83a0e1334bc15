"""Shared by the statistics subcommands: settings defaults and opening a store cleanly."""

from __future__ import annotations

import argparse

from beaconguard.cli import CLIError
from beaconguard.settings import Settings
from beaconguard.stats.store import Store, open_store
from beaconguard.stats.store.sqlite import NotAStatsDatabase


def settings_from_env() -> Settings:
    """``Settings.from_env()``; its ValueError becomes the command's one-line error."""
    return Settings.from_env()


def add_store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        help="sqlite:///path/stats.db, redis://host:port/db (default: BEACONGUARD_STORE "
        "or sqlite:///var/stats.db)",
    )


def open_existing_store(url: str, *, write: bool = False) -> Store:
    """Open an existing store for reading (or, with ``write``, purging); never create one.

    An SQLite file is opened read-only for reports, and either way must already hold
    beaconguard's tables: a report or purge pointed at someone else's database (or at an
    empty file) refuses it with one line and leaves it exactly as it was.
    """
    if url.startswith("memory://"):
        raise CLIError("memory:// lives inside one process; name a sqlite:/// or redis:// store")
    try:
        store = open_store(url, read_only=not write, must_exist=True)
        if url.startswith(("redis://", "rediss://", "unix://")):
            store.bot_rows("1970-01-01", "1970-01-01")  # connect now, fail with one line
    except NotAStatsDatabase as exc:
        raise CLIError(str(exc)) from None
    except (CLIError, ValueError):
        raise
    except Exception as exc:
        raise CLIError(f"cannot open store {url}: {exc}") from None
    return store
