"""Audit finds what raw logs leak, and passes what anonymize writes."""

from __future__ import annotations

import pytest

from beaconguard.offline.anonymize import Anonymizer
from beaconguard.offline.audit import Auditor
from beaconguard.offline.source import Source
from tests.offline.planted import FIXTURES, FORMATS


def audit(settings, lines):  # type: ignore[no-untyped-def]
    return Auditor(settings).feed_all(lines)


def fixture_lines(name: str) -> list[str | None]:
    with Source(str(FIXTURES / name)) as src:
        return list(src.lines())


def test_raw_combined_log(make_settings) -> None:  # type: ignore[no-untyped-def]
    report = audit(make_settings(), fixture_lines("combined.log"))
    assert not report.clean
    assert report.examples["ipv4"] == [1, 3, 4, 5, 6]
    assert report.examples["ipv6"] == [2]
    assert report.examples["email"] == [1, 2, 5]  # path, %40 decoded query, referrer
    assert report.examples["token"] == [1, 2, 3]  # a JWT is a long token too
    assert report.examples["jwt"] == [3]
    assert report.examples["cookie"] == [1, 2, 3]
    assert report.examples["phone"] == [4]
    assert report.examples["user"] == [1]
    assert report.parsed == 6


def test_raw_json_log(make_settings) -> None:  # type: ignore[no-untyped-def]
    report = audit(make_settings(), fixture_lines("json.log"))
    assert report.examples["cookie"] == [1, 2, 3]  # cookie column, header, ?jwt=
    assert report.examples["ipv4"] == [1, 3]
    assert report.examples["ipv6"] == [2]
    assert report.examples["user"] == [1]
    assert report.examples["jwt"] == [3]


def test_unparsed_lines_are_scanned_whole(make_settings) -> None:  # type: ignore[no-untyped-def]
    report = audit(make_settings(), fixture_lines("garbage.log"))
    assert 3 in report.examples["ipv4"] and 3 in report.examples["email"]
    assert 2 in report.examples["token"]  # the truncated line still holds the token


def test_prefix_groups(make_settings) -> None:  # type: ignore[no-untyped-def]
    lines = [
        f'203.0.113.{n} - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 1' for n in range(1, 8)
    ] + ['198.51.100.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 1'] * 3
    report = audit(make_settings(), lines)
    assert {p: len(m) for p, m in report.groups.items()} == {"203.0.113.0": 7, "198.51.100.0": 1}
    assert report.small_groups(5) == 1
    summary = report.as_dict(5)["prefixes"]
    assert (summary["prefixes"], summary["addresses"], summary["small_groups"]) == (2, 8, 1)


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("out_format", ["same", "json"])
@pytest.mark.parametrize("ip_mode", ["truncate", "hash", "drop"])
def test_anonymized_output_is_clean(make_settings, name, out_format, ip_mode) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(ip_mode=ip_mode, trusted_proxies="10.0.0.0/8")
    out: list[bytes] = []
    with Source(str(FIXTURES / name)) as src:
        Anonymizer(settings, out_format=out_format, site_host="shop.example").run(
            src.lines(), out.append
        )
    report = audit(settings, b"".join(out).decode().splitlines())
    assert report.clean, report.as_dict(5)["findings"]


def test_prefix_setting_decides_what_is_too_precise(make_settings) -> None:  # type: ignore[no-untyped-def]
    line = '203.0.113.0 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 1'
    assert audit(make_settings(ipv4_prefix=24), [line]).clean
    assert not audit(make_settings(ipv4_prefix=16), [line]).clean


@pytest.mark.parametrize(
    "text",
    [
        "version 1.2.3 of Chrome/124.0.6367.91",
        "https://www.google.com/search",
        "/blog/2023-10-10/a-long-but-harmless-slug-of-words",
        "/static/app.3f9a2c.js",
        "/users/{email}/orders/{int}?utm_source=news&sessionid={redacted}",
        "203.0.113.0 and 2001:db8:85a3::",
    ],
)
def test_no_false_alarm(make_settings, text: str) -> None:  # type: ignore[no-untyped-def]
    kinds: set[str] = set()
    Auditor(make_settings()).scan_text(text, kinds)
    assert kinds == set()


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("mail me: someone@example.com", "email"),
        ("call +44 20 7946 0958 now", "phone"),
        ("key=AKIAIOSFODNN7EXAMPLE1234", "token"),
        ("id 123e4567-e89b-12d3-a456-426614174000", "token"),
        ("Cookie: PHPSESSID=abcdef123456", "cookie"),
        ("from 10.1.2.3", "ipv4"),
        ("from fe80::1ff:fe23:4567:890a", "ipv6"),
    ],
)
def test_finds(make_settings, text: str, kind: str) -> None:  # type: ignore[no-untyped-def]
    kinds: set[str] = set()
    Auditor(make_settings()).scan_text(text, kinds)
    assert kind in kinds
