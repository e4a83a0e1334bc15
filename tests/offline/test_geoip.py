"""The MaxMind DB writer and the tor-geoipdb reader."""

from __future__ import annotations

import ipaddress
import random
from pathlib import Path

import maxminddb
import pytest

from beaconguard.anonymize.geo import make_country_lookup
from beaconguard.offline.geoip import (
    GeoIPError,
    build_mmdb,
    encode,
    merge_ranges,
    range_to_networks,
    read_tor_geoip,
)

TOR_V4 = Path("/usr/share/tor/geoip")
TOR_V6 = Path("/usr/share/tor/geoip6")


def v4(text: str) -> int:
    return int(ipaddress.IPv4Address(text))


def write_tor_files(tmp_path: Path) -> tuple[Path, Path]:
    four = tmp_path / "geoip"
    four.write_text(
        "# comment lines are skipped\n"
        f"{v4('1.0.0.0')},{v4('1.0.0.255')},AU\n"
        f"{v4('1.0.1.0')},{v4('1.0.3.255')},CN\n"
        f"{v4('5.5.5.0')},{v4('5.5.5.127')},??\n"
        f"{v4('8.8.8.0')},{v4('8.8.8.255')},US\n"
        f"{v4('81.2.69.142')},{v4('81.2.69.199')},GB\n"
        f"{v4('255.255.255.0')},{v4('255.255.255.255')},ZZ\n"
    )
    six = tmp_path / "geoip6"
    six.write_text(
        "2001:200::,2001:200:ffff:ffff:ffff:ffff:ffff:ffff,JP\n"
        "2001:4860::,2001:4860:ffff:ffff:ffff:ffff:ffff:ffff,US\n"
        "2a00:1450:4001::,2a00:1450:4001:7ff:ffff:ffff:ffff:ffff,DE\n"
        "2c0f:f000::,2c0f:f000:ffff:ffff:ffff:ffff:ffff:ffff,??\n"
    )
    return four, six


def build(tmp_path: Path, four: Path, six: Path | None) -> Path:
    data = build_mmdb(
        read_tor_geoip(four, ipv6=False), read_tor_geoip(six, ipv6=True) if six else []
    )
    out = tmp_path / "country.mmdb"
    out.write_bytes(data)
    return out


def test_built_database_answers_with_countries(tmp_path: Path) -> None:
    out = build(tmp_path, *write_tor_files(tmp_path))
    with maxminddb.open_database(str(out)) as reader:
        meta = reader.metadata()
        assert (meta.ip_version, meta.binary_format_major_version) == (6, 2)
        assert "Country" in meta.database_type
        expect = {
            "1.0.0.1": "AU",
            "1.0.2.77": "CN",
            "1.0.3.255": "CN",
            "8.8.8.8": "US",
            "81.2.69.142": "GB",
            "81.2.69.199": "GB",
            "255.255.255.255": "ZZ",
            "2001:200:1::1": "JP",
            "2001:4860:4860::8888": "US",
            "2a00:1450:4001:7ff::1": "DE",
        }
        for address, country in expect.items():
            assert reader.get(address) == {"country": {"iso_code": country}}, address
        for nowhere in ("1.0.4.0", "5.5.5.5", "81.2.69.141", "81.2.69.200", "2c0f:f000::1",
                        "2a00:1450:4001:800::", "::1", "0.0.0.0"):
            assert reader.get(nowhere) is None, nowhere
    # The middleware's own lookup reads it too (and maps ::ffff:a.b.c.d to IPv4).
    lookup = make_country_lookup(str(out))
    assert lookup("8.8.4.4") is None
    assert lookup("::ffff:8.8.8.8") == "US"
    assert lookup("2001:4860::1") == "US"


def test_ipv4_only(tmp_path: Path) -> None:
    four, _ = write_tor_files(tmp_path)
    with maxminddb.open_database(str(build(tmp_path, four, None))) as reader:
        assert reader.get("8.8.8.8") == {"country": {"iso_code": "US"}}
        assert reader.get("2001:4860::1") is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("1,2\n", "expected FIRST,LAST,COUNTRY"),
        ("1,2,usa\n", "'usa' is not a country code"),
        ("a,b,US\n", "expected IPv4 addresses"),
        ("5,1,US\n", "range ends before it starts"),
        (f"1,{1 << 33},US\n", "expected IPv4 addresses"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "geoip"
    bad.write_text("# header\n" + content)
    with pytest.raises(GeoIPError, match=f"geoip:2: {message}"):
        list(read_tor_geoip(bad, ipv6=False))


def test_overlap_is_an_error() -> None:
    with pytest.raises(GeoIPError, match="overlapping"):
        merge_ranges([(0, 10, "US"), (5, 20, "CA")])


def test_merge_and_split() -> None:
    assert merge_ranges([(4, 7, "US"), (0, 3, "US"), (9, 9, "US")]) == [(0, 7, "US"), (9, 9, "US")]
    assert list(range_to_networks(0, 255, 32)) == [(0, 24)]
    assert list(range_to_networks(1, 6, 8)) == [(1, 8), (2, 7), (4, 7), (6, 8)]


def test_encode_sizes() -> None:
    assert encode("a") == b"\x41a"
    assert encode("x" * 29)[:2] == bytes((0x40 | 29, 0))
    assert encode("x" * 300)[:3] == bytes((0x40 | 30,)) + (300 - 285).to_bytes(2, "big")
    assert encode(True) == bytes((0x01, 0x07))
    assert encode({"a": 1}) == b"\xe1\x41a\xa1\x01"
    assert encode(["a"]) == bytes((0x01, 0x04)) + b"\x41a"


@pytest.mark.skipif(not TOR_V4.is_file() or not TOR_V6.is_file(), reason="tor-geoipdb")
def test_real_tor_geoipdb_files(tmp_path: Path) -> None:
    out = build(tmp_path, TOR_V4, TOR_V6)
    rng = random.Random(7)
    v4_ranges = list(read_tor_geoip(TOR_V4, ipv6=False))
    v6_ranges = list(read_tor_geoip(TOR_V6, ipv6=True))
    with maxminddb.open_database(str(out)) as reader:
        for first, last, cc in rng.sample(v4_ranges, 200):
            for address in (first, last, rng.randint(first, last)):
                got = reader.get(str(ipaddress.IPv4Address(address)))
                assert got == {"country": {"iso_code": cc}}
        for first, last, cc in rng.sample(v6_ranges, 200):
            for address in (first, last, rng.randint(first, last)):
                got = reader.get(str(ipaddress.IPv6Address(address)))
                assert got == {"country": {"iso_code": cc}}
