"""The fast path writes exactly what the full parser and the pipeline write, or declines."""

from __future__ import annotations

import random

import pytest

from beaconguard.anonymize.ip import parse as parse_ip
from beaconguard.anonymize.ip import truncate
from beaconguard.anonymize.pipeline import build_pipeline
from beaconguard.offline.anonymize import Anonymizer
from beaconguard.offline.fastip import make_fast_truncate
from beaconguard.offline.fastpath import make_fast_path
from beaconguard.offline.parse import make_parser
from beaconguard.offline.source import Source
from beaconguard.offline.to_visit import make_converter
from beaconguard.offline.writer import make_formatter
from tests.offline.planted import FIXTURES, leaks

SETTINGS = [
    {},
    {"ip_mode": "hash"},
    {"ip_mode": "drop"},
    {"trusted_proxies": "10.0.0.0/8"},
    {"ipv4_prefix": 16, "ipv6_prefix": 64},
    {"ipv4_prefix": 20, "ipv6_prefix": 56, "query_mode": "redact"},
]

CLIENTS = [
    "203.0.113.7", "10.0.0.3", "0.0.0.0", "255.255.255.255", "01.2.3.4", "1.2.3", "256.1.1.1",
    "2001:db8:85a3::8a2e:370:7334", "2001:DB8:0:0:1::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2002:c000:204::1", "::ffff:192.0.2.1", "64:ff9b::c000:201", "::1", "::", "fe80::1%eth0",
    "[2001:db8::1]", "-", "alice", "1:2:3:4:5:6:7:8:9", "2001:db8::g",
]  # fmt: skip
REQUESTS = [
    "GET / HTTP/1.1", "GET /products/42?utm_source=news&sessionid=abc123def456 HTTP/1.1",
    "POST /users/alice@example.com/orders/1234567 HTTP/2.0", "BREW /pot HTTP/1.1",
    "GET http://shop.example/cart?ref=x HTTP/1.1", "GET /a%20b/%E2%82%AC?q=%ZZ HTTP/1.0",
    "GET /#frag HTTP/1.1", "GET / HTTP/9", "GET /", "-", "GET  / HTTP/1.1", "",
    "GET /eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc HTTP/1.1", "GET /x?ref=a@b.co HTTP/1.1",
]  # fmt: skip
REFERERS = [
    "-", "", "https://news.example/item?id=7", "https://shop.example/users/bob@example.com/cart",
    "http://192.0.2.1/x", "ftp://x.example/", "not a url", "https://shop.example:8443/a/9999",
]  # fmt: skip
AGENTS = [
    "-", "", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5.0",
    "HeadlessChrome/120", "x" * 600,
]  # fmt: skip
TIMES = [
    "10/Oct/2023:13:55:36 +0000", "10/Oct/2023:13:55:36 -0700", "31/Feb/2023:00:00:00 +0000",
    "10/Oct/2023:13:55:36", "10/Foo/2023:13:55:36 +0000", "01/Jan/1970:00:00:00 +0200",
]  # fmt: skip


def random_lines(seed: int, n: int) -> list[str]:
    """Lines close to the common shape, with every column varied, odd ones included."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        head = f"{rng.choice(CLIENTS)} - {rng.choice(['-', 'bob'])} [{rng.choice(TIMES)}]"
        numbers = f"{rng.choice(['200', '404', '099', '1000'])} {rng.choice(['0', '-', '512', '007', 'x'])}"
        line = f'{head} "{rng.choice(REQUESTS)}" {numbers}'
        shape = rng.random()
        if shape > 0.2:
            line += f' "{rng.choice(REFERERS)}" "{rng.choice(AGENTS)}"'
        if shape > 0.8:
            line += f' "{rng.choice(["-", "192.0.2.9, 10.0.0.2", "2001:db8::5"])}"'
        mutate = rng.random()
        if mutate < 0.05:
            line += rng.choice([" ", "\t", " x", '"'])
        elif mutate < 0.1:
            i = rng.randrange(len(line))
            line = line[:i] + rng.choice([" ", "  ", "\\", '"', ""]) + line[i + 1 :]
        out.append(line)
    return out


def slow_text(settings, fmt: str, site_host: str = ""):  # type: ignore[no-untyped-def]
    parse = make_parser(fmt)
    to_visit = make_converter(settings, site_host=site_host)
    pipeline = build_pipeline(settings)
    formatter = make_formatter("same")

    def slow(line: str) -> str | None:
        parsed = parse(line)
        if parsed is None:
            return None
        return formatter(pipeline(to_visit(parsed)), parsed).decode()

    return slow


def fixture_lines() -> list[str]:
    lines: list[str] = []
    for name in ("combined.log", "common.log", "xff.log", "escapes.log", "garbage.log"):
        with Source(str(FIXTURES / name)) as src:
            lines += [x for x in src.lines() if x]
    return lines


@pytest.mark.parametrize("overrides", SETTINGS)
@pytest.mark.parametrize("fmt", ["auto", "combined", "common"])
def test_fast_lines_equal_pipeline_lines(make_settings, overrides, fmt) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(**overrides)
    site = "shop.example"
    fast = make_fast_path(settings, fmt, site_host=site)
    slow = slow_text(settings, fmt, site_host=site)
    assert fast is not None
    taken = 0
    for line in fixture_lines() + random_lines(len(overrides) * 7 + len(fmt), 1500):
        got = fast(line)
        if got is not None:
            taken += 1
            assert got == slow(line), line
    assert taken > 30  # the fast path does take the plain lines


def test_declines_what_it_cannot_take_whole(make_settings) -> None:  # type: ignore[no-untyped-def]
    fast = make_fast_path(make_settings(), "auto")
    assert fast is not None
    good = (FIXTURES / "combined.log").read_text().splitlines()[0]
    assert fast(good) is not None
    for line in (
        good.replace('"GET', '"G\\"ET'),  # an escape: the full parser reads those
        good[:-1],  # an unterminated quote
        good.replace("] ", "]  ", 1),
        good.replace(" 200 ", " 2000 "),
        '{"remote_addr": "203.0.113.9"}',
        "",
    ):
        assert fast(line) is None, line
    assert make_fast_path(make_settings(), "json") is None


def test_anonymizer_output_is_the_same_with_and_without_the_fast_path(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(trusted_proxies="10.0.0.0/8")
    lines: list[str | None] = [*fixture_lines(), *random_lines(99, 800), None]
    outputs = []
    for use_fast in (True, False):
        anonymizer = Anonymizer(settings, site_host="shop.example")
        if not use_fast:
            anonymizer.fast = None
        out: list[bytes] = []
        counts = anonymizer.run(lines, out.append)
        outputs.append((b"".join(out), counts))
    assert outputs[0] == outputs[1]
    assert leaks(outputs[0][0].decode()) == []


@pytest.mark.parametrize(
    ("v4", "v6"), [(24, 48), (8, 80), (16, 64), (32, 128), (0, 0), (23, 47), (25, 56)]
)
def test_fast_truncate_agrees_with_the_full_parser(v4: int, v6: int) -> None:
    rng = random.Random(v4 * 1000 + v6)
    hexdigits = "0123456789abcdefABCDEF:"
    fast = make_fast_truncate(v4, v6)
    values = list(CLIENTS)
    for _ in range(4000):
        kind = rng.random()
        if kind < 0.3:
            values.append(".".join(str(rng.randrange(256)) for _ in range(4)))
        elif kind < 0.4:
            values.append(
                ".".join(rng.choice(["0", "00", "01", "255", "256", "9"]) for _ in range(4))
            )
        elif kind < 0.7:
            groups = [f"{rng.randrange(65536):x}" for _ in range(rng.randrange(1, 9))]
            cut = rng.randrange(len(groups) + 1)
            if len(groups) == 8:
                values.append(":".join(groups))
            else:
                values.append(":".join(groups[:cut]) + "::" + ":".join(groups[cut:]))
        elif kind < 0.85:
            prefix = rng.choice(["2002:", "2001:0:", "64:ff9b::", "::ffff:", "::", "2001::"])
            values.append(prefix + ":".join(f"{rng.randrange(65536):x}" for _ in range(3)))
        else:
            values.append("".join(rng.choice(hexdigits) for _ in range(rng.randrange(1, 40))))
    answered = 0
    for value in values:
        got = fast(value)
        if got is None:
            continue
        answered += 1
        ip = parse_ip(value)
        assert ip is not None, value
        assert got == truncate(ip, v4, v6), value
    assert answered > 1000
