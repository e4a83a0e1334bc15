"""Shared by the statistics subcommands: settings defaults and opening a store cleanly."""

from __future__ import annotations

import argparse
from pathlib import Path

from beaconguard.cli import CLIError
from beaconguard.settings import Settings
from beaconguard.stats.store import Store, open_store


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


def open_existing_store(url: str) -> Store:
    """Open ``url`` for reading or purging; never create an empty SQLite file by mistake."""
    if url.startswith("memory://"):
        raise CLIError("memory:// lives inside one process; name a sqlite:/// or redis:// store")
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        if not path.is_file():
            raise CLIError(f"no statistics database at {path}")
    try:
        store = open_store(url)
        if url.startswith(("redis://", "rediss://", "unix://")):
            store.bot_rows("1970-01-01", "1970-01-01")  # connect now, fail with one line
    except CLIError:
        raise
    except ValueError:
        raise
    except Exception as exc:
        raise CLIError(f"cannot open store {url}: {exc}") from None
    return store
