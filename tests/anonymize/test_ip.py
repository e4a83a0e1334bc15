import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaconguard.anonymize import ip as ipmod
from beaconguard.anonymize.ip import make_ip_filter

SECRET = b"k" * 32
T = 1_790_000_000.0  # a fixed moment; the day matters for hash mode


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.77", "203.0.113.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:198.51.100.23", "198.51.100.0"),  # IPv4-mapped
        ("2002:c633:6417::1", "198.51.100.0"),  # 6to4 of 198.51.100.23
        ("64:ff9b::c633:6417", "198.51.100.0"),  # NAT64
        ("[2001:db8::1]", "2001:db8::"),
        ("fe80::1%eth0", "fe80::"),
    ],
)
def test_truncate(raw: str, expected: str) -> None:
    assert make_ip_filter("truncate")(raw, T) == expected


def test_prefixes_are_configurable() -> None:
    f = make_ip_filter("truncate", v4_prefix=16, v6_prefix=32)
    assert f("203.0.113.77", T) == "203.0.0.0"
    assert f("2001:db8:abcd:12::1", T) == "2001:db8::"


def test_teredo_uses_the_client_ipv4() -> None:
    teredo = ipaddress.IPv6Address("2001:0:4136:e378:8000:63bf:3fff:fdd2")
    assert ipmod.parse(str(teredo)) == teredo.teredo[1]


@pytest.mark.parametrize("bad", ["", "not-an-ip", "999.1.1.1", "1.2.3", "x" * 70, "1.2.3.4; rm"])
def test_unparseable_fails_closed(bad: str) -> None:
    for mode in ("truncate", "hash", "drop"):
        assert make_ip_filter(mode, secret=SECRET)(bad, T) is None
    assert make_ip_filter("truncate")(None, T) is None


def test_drop() -> None:
    assert make_ip_filter("drop")("203.0.113.77", T) is None


def test_hash_is_keyed_daily_and_stable() -> None:
    f = make_ip_filter("hash", secret=SECRET)
    a = f("203.0.113.77", T)
    assert a is not None and len(a) == 16
    assert f("203.0.113.77", T + 60) == a  # same day
    assert f("203.0.113.77", T + 86400) != a  # next day
    assert f("203.0.113.78", T) != a
    # The IPv4-mapped form is the same visitor.
    assert f("::ffff:203.0.113.77", T) == a
    other_key = make_ip_filter("hash", secret=b"z" * 32)
    assert other_key("203.0.113.77", T) != a


def test_hash_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="unkeyed"):
        make_ip_filter("hash")


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="ip_mode"):
        make_ip_filter("scramble")


@given(st.text(max_size=80))
def test_never_raises_on_any_text(value: str) -> None:
    for mode in ("truncate", "hash", "drop"):
        make_ip_filter(mode, secret=SECRET)(value, T)


@given(st.ip_addresses(v=4))
def test_ipv4_never_emitted_unchanged(addr: ipaddress.IPv4Address) -> None:
    raw = str(addr)
    out = make_ip_filter("truncate")(raw, T)
    assert out is not None
    if int(addr) & 0xFF:
        assert out != raw
    hashed = make_ip_filter("hash", secret=SECRET)(raw, T)
    assert hashed is not None and raw not in hashed


@given(st.ip_addresses(v=6))
def test_ipv6_never_emitted_unchanged(addr: ipaddress.IPv6Address) -> None:
    raw = str(addr)
    out = make_ip_filter("truncate")(raw, T)
    assert out is not None
    parsed = ipmod.parse(raw)
    host_bits = (int(parsed) & 0xFF) if parsed.version == 4 else (int(parsed) & ((1 << 80) - 1))
    if host_bits:
        assert out != raw
        assert out != str(parsed)
