"""Build a small MaxMind-format country database for tests; nothing is downloaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def build_country_mmdb(path: Path, networks: Mapping[str, str]) -> Path:
    """Write ``{cidr: ISO country}`` as a GeoIP2-Country-shaped ``.mmdb`` at ``path``."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-Country", ipv4_compatible=True)
    for cidr, country in networks.items():
        writer.insert_network(IPSet([cidr]), {"country": {"iso_code": country}})
    writer.to_db_file(str(path))
    return path
