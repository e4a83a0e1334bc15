"""Log line parsers: quoted fields with escapes, IPv6, X-Forwarded-For, bad lines."""

from __future__ import annotations

import calendar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from beaconguard.offline.parse import (
    _ANY_TEXT,
    _COMBINED,
    _COMMON,
    _PARTS,
    MAX_LINE,
    make_parser,
    parse_clf_time,
    parse_iso_time,
    parse_json,
    split_plain,
    split_request,
    unescape,
)
from tests.offline.planted import FIREFOX, FIXTURES, IPHONE, IPV6, SESSION


def lines(name: str) -> list[str]:
    return (FIXTURES / name).read_text("utf-8", "replace").splitlines()


def test_combined_fields() -> None:
    parse = make_parser("combined")
    first = parse(lines("combined.log")[0])
    assert first is not None
    assert first.client == "203.0.113.77"
    assert first.remote_user == "mallory"
    assert first.method == "GET"
    assert first.target.startswith("/users/alice.smith@example.com/orders/123456?utm_source=news")
    assert first.protocol == "HTTP/1.1"
    assert (first.status, first.bytes_sent) == (200, 2326)
    assert first.referer == "https://shop.example/cart?email=carol@example.net"
    assert first.user_agent == FIREFOX
    assert first.forwarded_for is None
    assert first.shape == "combined"
    # -0700: 13:55:36 local is 20:55:36 UTC
    assert first.time == calendar.timegm((2023, 10, 10, 20, 55, 36))


def test_ipv6_client_and_dash_size() -> None:
    parse = make_parser("combined")
    second = parse(lines("combined.log")[1])
    assert second is not None and second.client == IPV6 and second.user_agent == IPHONE
    assert second.protocol == "HTTP/2.0"
    fifth = parse(lines("combined.log")[4])
    assert fifth is not None and fifth.client == "::ffff:192.0.2.55" and fifth.bytes_sent == 0


def test_common_format_and_missing_request() -> None:
    parse = make_parser("common")
    parsed = [parse(line) for line in lines("common.log")]
    assert all(p is not None and p.shape == "common" for p in parsed)
    assert parsed[0].user_agent == "" and parsed[0].referer == ""  # type: ignore[union-attr]
    assert parsed[2].method == "" and parsed[2].status == 408  # type: ignore[union-attr]
    # A combined line is not a common line, and the other way round.
    assert parse(lines("combined.log")[0]) is None
    assert make_parser("combined")(lines("common.log")[0]) is None


def test_auto_reads_every_format() -> None:
    parse = make_parser("auto")
    for name in ("combined.log", "common.log", "xff.log", "escapes.log", "json.log"):
        assert all(parse(line) is not None for line in lines(name)), name


def test_x_forwarded_for_column() -> None:
    parse = make_parser("combined")
    first, second, third = (parse(line) for line in lines("xff.log"))
    assert first is not None and first.forwarded_for == "192.0.2.199, 10.0.0.2"
    assert first.target == f"/a?sessionid={SESSION}"
    assert second is not None and second.forwarded_for == IPV6
    assert third is not None and third.forwarded_for == "-"


def test_escaped_quotes_backslashes_and_bytes() -> None:
    parse = make_parser("combined")
    apache, nginx, in_request = (parse(line) for line in lines("escapes.log"))
    assert apache is not None
    assert apache.user_agent == 'Mozilla/5.0 (compatible; "QuotedAgent" 1.0; C:\\agent\\x)'
    assert nginx is not None
    assert nginx.referer == 'https://ref.example/"q"'
    assert nginx.user_agent == 'Weird"Agent\\2.0 café it\u2019s'
    assert in_request is not None and in_request.target == '/with%22quote"s'


def test_unescape() -> None:
    assert unescape("plain") == "plain"
    assert unescape(r"a\"b\\c") == 'a"b\\c'
    assert unescape(r"\x41\x5C\t") == "A\\\t"
    assert unescape(r"\xff") == "\ufffd"  # a lone byte that is not UTF-8 is replaced


@pytest.mark.parametrize(
    "line",
    [
        "",
        "garbage",
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET /a?x=1',  # cut in a quote
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET / HTTP/1.1" 200',  # no size
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua',
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET / HTTP/1.1" 200 1 "-" "ua" junk',
        '203.0.113.77 - - [31/Feb/2023:13:55:36 -0700] "GET / HTTP/1.1" 200 1',  # no such day
        '203.0.113.77 - - [10/Oct/2023:13:55:36 +9900] "GET / HTTP/1.1" 200 1',  # no such zone
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "\\x16\\x03\\x01" 400 1',  # TLS on :80
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET / HTTP/1.1 extra" 200 1',
        '203.0.113.77 - - [10/Oct/2023:13:55:36 -0700] "GET / SPDY/3" 200 1',
        "\x00\xff\xfe 203.0.113.77 alice@example.com",
    ],
)
def test_bad_lines_do_not_parse(line: str) -> None:
    assert make_parser("auto")(line) is None


def test_garbage_fixture_only_good_lines_parse() -> None:
    parse = make_parser("auto")
    parsed = [parse(line) for line in lines("garbage.log")]
    good = [p.target for p in parsed if p is not None]
    assert good == ["/", "/ok"]


def test_json_nginx_caddy_and_strings() -> None:
    nginx, caddy, plain = (parse_json(line) for line in lines("json.log"))
    assert nginx is not None
    assert (nginx.client, nginx.method, nginx.protocol) == ("203.0.113.77", "GET", "HTTP/1.1")
    assert nginx.host == "shop.example" and nginx.duration_ms == pytest.approx(12.0)
    assert nginx.user_agent == FIREFOX and nginx.forwarded_for is None
    assert caddy is not None
    assert (caddy.client, caddy.host, caddy.user_agent) == (IPV6, "shop.example", IPHONE)
    assert caddy.content_type.startswith("text/html") and caddy.time == 1696946137.5
    assert caddy.referer == "https://news.example/a?b=c"
    assert plain is not None and (plain.status, plain.method) == (302, "POST")


@pytest.mark.parametrize(
    "line",
    [
        "[1, 2]",
        '"just a string"',
        "{not json",
        '{"remote_addr": "1.2.3.4", "request": "GET / HTTP/1.1"}',  # no time, no status
        '{"time": "2023-10-10T00:00:00Z", "status": 200}',  # no request at all
        '{"time": "yesterday", "status": 200, "request": "GET / HTTP/1.1"}',
        '{"time": "2023-10-10T00:00:00Z", "status": true, "request": "GET / HTTP/1.1"}',
        '{"time": "2023-10-10T00:00:00Z", "status": 200, "request": "NOT A REQUEST LINE X"}',
    ],
)
def test_bad_json_does_not_parse(line: str) -> None:
    assert parse_json(line) is None


def test_times() -> None:
    assert parse_clf_time("01/Jan/1970:00:00:00 +0000") == 0
    assert parse_clf_time("01/Jan/1970:01:00:00 +0100") == 0
    assert parse_clf_time("01/Foo/1970:00:00:00 +0000") is None
    assert parse_iso_time("1970-01-01T00:00:10Z") == 10
    assert parse_iso_time("1970-01-01T00:00:10") == 10  # naive: UTC
    assert parse_iso_time(12.5) == 12.5
    assert parse_iso_time("12.5") == 12.5
    assert parse_iso_time(True) is None and parse_iso_time(-1) is None


def test_split_request() -> None:
    assert split_request("GET /a?b HTTP/1.1") == ("GET", "/a?b", "HTTP/1.1")
    assert split_request("GET /") == ("GET", "/", "")
    assert split_request("-") == ("", "", "")
    assert split_request("GET  HTTP/1.1") is None


def test_max_line_is_generous_but_bounded() -> None:
    assert 8 * 1024 <= MAX_LINE <= 1024 * 1024


_FIELD = st.text(alphabet=st.sampled_from(list('ab -"[]\\/?=:1\t')), max_size=12)


@given(
    client=_FIELD, user=_FIELD, request=_FIELD, referer=_FIELD, ua=_FIELD, xff=_FIELD,
    status=st.sampled_from(["200", "2000", "20", "abc"]), size=st.sampled_from(["1", "-", "x"]),
    shape=st.sampled_from(["common", "combined", "xff"]),
)
@settings(max_examples=400, deadline=None)
def test_quote_split_fast_path_agrees_with_the_regex(  # type: ignore[no-untyped-def]
    client, user, request, referer, ua, xff, status, size, shape
) -> None:
    line = f'{client} - {user} [10/Oct/2023:13:55:36 +0000] "{request}" {status} {size}'
    if shape != "common":
        line += f' "{referer}" "{ua}"'
    if shape == "xff":
        line += f' "{xff}"'
    if "\\" in line:
        return  # lines with escapes always go to the regular expression
    for fmt in ("auto", "combined", "common"):
        fast = split_plain(line, _PARTS[fmt])
        if fast is None:
            continue
        m = {"auto": _ANY_TEXT, "combined": _COMBINED, "common": _COMMON}[fmt].fullmatch(line)
        assert m is not None
        groups = m.groups()
        assert fast == ((*groups, None, None, None) if len(groups) == 7 else groups)
