"""``beaconguard geoip build``: a country database from Debian's tor-geoipdb files."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from beaconguard.cli import CLIError
from beaconguard.cli._options import progress_bar
from beaconguard.offline.geoip import GeoIPError, build_mmdb, read_tor_geoip

DEFAULT_V4 = "/usr/share/tor/geoip"
DEFAULT_V6 = "/usr/share/tor/geoip6"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "geoip",
        help="build a country database (MaxMind format) from tor-geoipdb files",
        description="GeoIP databases for the country statistics, without a MaxMind account.",
    )
    sub = parser.add_subparsers(dest="geoip_command", metavar="ACTION", required=True)
    build = sub.add_parser(
        "build",
        help="build a .mmdb country database",
        description=(
            "Build a MaxMind-format country database (usable as BEACONGUARD_GEOIP_DB) from "
            "the tor-geoipdb files Debian installs (apt install tor-geoipdb): IPFire "
            "location data, CC BY-SA 4.0."
        ),
    )
    build.add_argument("--from", dest="source", default=DEFAULT_V4, metavar="FILE",
                       help=f"IPv4 ranges (default: {DEFAULT_V4})")
    build.add_argument("--from6", dest="source6", metavar="FILE",
                       help=f"IPv6 ranges (e.g. {DEFAULT_V6})")
    build.add_argument("--output", "-o", required=True, metavar="FILE", help="the .mmdb to write")
    build.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    for path in filter(None, (args.source, args.source6)):
        if not os.path.isfile(path):
            raise CLIError(f"no file at {path!r} (Debian: apt install tor-geoipdb)")
    try:
        v4 = list(read_tor_geoip(args.source, ipv6=False))
        v6 = list(read_tor_geoip(args.source6, ipv6=True)) if args.source6 else []
        if not v4 and not v6:
            raise CLIError("the input files hold no ranges with a country")
        update, finish = progress_bar(1000, "geoip build", in_bytes=False)
        try:
            data = build_mmdb(
                v4, v6, progress=lambda done, total: update(1000 * done // max(total, 1))
            )
        finally:
            finish()
    except GeoIPError as exc:
        raise CLIError(str(exc)) from None
    out = Path(args.output)
    if out.parent and not out.parent.is_dir():
        raise CLIError(f"--output: no directory {str(out.parent)!r}")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)  # readers never see a half-written database
    countries = len({cc for _, _, cc in v4} | {cc for _, _, cc in v6})
    print(
        f"beaconguard geoip: wrote {out} ({len(data) / 1e6:.1f} MB, {len(v4)} IPv4 and "
        f"{len(v6)} IPv6 ranges, {countries} countries)",
        file=sys.stderr,
    )
    return 0
