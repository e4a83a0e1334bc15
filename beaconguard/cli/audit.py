"""``beaconguard audit``: scan a log for leftover identifiers; exit status 1 if any."""

from __future__ import annotations

import argparse
import gzip
import sys
import zlib

import orjson

from beaconguard.cli import CLIError
from beaconguard.cli._options import progress_bar, settings_from_args
from beaconguard.offline.audit import KINDS, Auditor, AuditReport
from beaconguard.offline.source import Source


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="scan a log for leftover identifiers (exit status 1 if any)",
        description=(
            "Scan any log, raw or anonymized (gzip accepted, - for stdin), for IP addresses "
            "more precise than the configured prefix, emails, phone numbers, long tokens, "
            "JWTs, cookie values and user names; report them by kind with line numbers and "
            "count distinct clients per truncated prefix. Exit status 1 when anything is found."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--lines", type=int, default=20, metavar="N", help="line numbers listed per kind"
    )
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    parser.add_argument("--ipv4-prefix", type=int, metavar="BITS")
    parser.add_argument("--ipv6-prefix", type=int, metavar="BITS")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    found = False
    for path in args.files:
        auditor = Auditor(settings, keep=max(0, args.lines))
        report = _audit(path, auditor)
        found = found or not report.clean
        if args.format == "json":
            doc = {"file": path, **report.as_dict(settings.min_visitors)}
            sys.stdout.write(orjson.dumps(doc).decode() + "\n")
        else:
            sys.stdout.write(render(path, report, settings.min_visitors, settings))
    sys.stdout.flush()
    return 1 if found else 0


def _audit(path: str, auditor: Auditor) -> AuditReport:
    try:
        source = Source(path)
    except IsADirectoryError:
        raise CLIError(f"{path} is a directory") from None
    except FileNotFoundError:
        raise CLIError(f"no file at {path!r}") from None
    with source:
        update, finish = progress_bar(source.size, "audit")
        try:
            for number, line in enumerate(source.lines(), 1):
                auditor.feed(number, line)
                if not number % 8192:
                    update(source.position())
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise CLIError(f"{source.name}: not a complete gzip stream ({exc})") from None
        finally:
            finish()
    return auditor.report


def render(path: str, report: AuditReport, k: int, settings: object) -> str:
    """The human summary: one line per kind found, then the prefix groups."""
    out = [f"{path}: {report.lines} lines, {report.parsed} parsed as access-log lines"]
    if report.clean:
        out.append("  no identifiers found")
    for kind in KINDS:
        if kind in report.counts:
            first = ", ".join(map(str, report.examples[kind]))
            more = " ..." if report.counts[kind] > len(report.examples[kind]) else ""
            out.append(f"  {kind:<7} {report.counts[kind]:>8} lines: {first}{more}")
    v4 = getattr(settings, "ipv4_prefix", 24)
    v6 = getattr(settings, "ipv6_prefix", 48)
    if report.groups:
        sizes = sorted(len(m) for m in report.groups.values())
        small = report.small_groups(k)
        out.append(
            f"  clients per /{v4} (IPv4) or /{v6} (IPv6) prefix: {len(sizes)} prefixes, "
            f"median {sizes[len(sizes) // 2]} distinct clients; {small} prefixes have fewer "
            f"than {k} (re-identification risk)"
        )
    if report.truncated_clients:
        out.append(
            f"  {report.truncated_clients} client values already truncated to the prefix"
        )
    return "\n".join(out) + "\n"
