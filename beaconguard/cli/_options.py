"""Options the offline commands share: where ``Settings`` come from, and progress bars.

Settings are built exactly as the middleware builds them (``Settings.from_env()``), with
``--config FILE`` read first and the flags given on the command line applied last, so one
policy file serves the live site and the log tools.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

from beaconguard.cli import CLIError
from beaconguard.settings import Settings


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("policy (default: BEACONGUARD_* environment variables)")
    group.add_argument("--config", metavar="FILE", help="TOML settings file, read first")
    group.add_argument("--ip-mode", choices=("truncate", "hash", "drop"))
    group.add_argument("--ipv4-prefix", type=int, metavar="BITS")
    group.add_argument("--ipv6-prefix", type=int, metavar="BITS")
    group.add_argument("--geoip-db", metavar="FILE", help="MaxMind-format country database")
    group.add_argument(
        "--trusted-proxies",
        metavar="LIST",
        help="comma-separated proxies whose X-Forwarded-For column is believed",
    )


_FLAG_FIELDS = ("ip_mode", "ipv4_prefix", "ipv6_prefix", "geoip_db", "trusted_proxies")


def settings_from_args(args: argparse.Namespace, **extra: Any) -> Settings:
    """``Settings.from_env()`` with ``--config`` and the flags that were given."""
    environ = dict(os.environ)
    if getattr(args, "config", None):
        if not os.path.isfile(args.config):
            raise CLIError(f"--config: no file at {args.config!r}")
        environ["BEACONGUARD_CONFIG"] = args.config
    overrides = {f: getattr(args, f) for f in _FLAG_FIELDS if getattr(args, f, None) is not None}
    overrides.update(extra)
    try:
        return Settings.from_env(environ, **overrides)
    except ValueError as exc:
        raise CLIError(str(exc)) from None


def progress_bar(
    total: int | None, label: str, *, in_bytes: bool = True
) -> tuple[Callable[[int], None], Callable[[], None]]:
    """``(update(position), finish())`` drawing a bar on stderr, or no-ops.

    ``position`` counts bytes of ``total`` (or, with ``in_bytes=False``, plain steps).

    A bar is drawn only when the size is known (a file, not a pipe) and stderr is a
    terminal: piped or captured stderr gets the summary line alone.
    """
    if not total or not sys.stderr.isatty():
        return _noop_update, _noop
    # Imported here: rich takes a while to import and most runs have no terminal.
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn() if in_bytes else TaskProgressColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.start()
    task = progress.add_task(label, total=total)

    def update(position: int) -> None:
        progress.update(task, completed=position)

    def finish() -> None:
        progress.update(task, completed=total)
        progress.stop()

    return update, finish


def _noop_update(position: int) -> None:
    pass


def _noop() -> None:
    pass
