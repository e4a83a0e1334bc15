"""The block path writes what the line-by-line full pipeline writes, line for line.

Each test reads a file through ``Source.blocks()`` (with small blocks, so lines are split
across reads) into ``Anonymizer.run_blocks`` and compares the bytes and the counts with an
``Anonymizer`` that has no fast path at all, fed by ``Source.lines()``.
"""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from beaconguard.offline import source
from beaconguard.offline.anonymize import Anonymizer, Counts
from beaconguard.offline.source import Source
from tests.offline.planted import FIXTURES, leaks
from tests.offline.test_fastpath import SETTINGS, fixture_lines, random_lines

JSON_LINES = (FIXTURES / "json.log").read_text().splitlines()
EXTRA = [
    "",
    " ",
    "{",
    '{"remote_addr": "203.0.113.9"}',
    "{203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] \"GET / HTTP/1.1\" 200 5",
    '203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "a\\"b"',
    '203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET /\\x22 HTTP/1.1" 200 5',
    '203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "ua',
    '" "x"',
    'more"',
    '2001:db8::7 - - [11/Oct/2023:00:00:01 +0000] "GET /a?b=1 HTTP/2.0" 304 - "-" "curl/8.5.0"',
    '10.0.0.3 - - [11/Oct/2023:23:59:59 +0200] "GET / HTTP/1.1" 200 0 "-" "x" "192.0.2.9, 10.0.0.2"',
    '10.0.0.3 - - [12/Oct/2023:00:00:00 +0000] "GET / HTTP/1.1" 200 0 "-" "x" ""',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "" ""',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 \t ',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5\u2028',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "é\u00a0ü"',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET /\u0663 HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [1\u0660/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/2023:13:5\u0665:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/2023:24:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/2023:13:55:60 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [29/Feb/2024:13:55:36 +1800] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [29/Feb/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +1900] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/0999:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "' + "u" * 3000 + '"',
    '192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET /' + "p" * 3000 + ' HTTP/1.1" 200 5',
    "x" * 3000,
]  # fmt: skip
GARBAGE = [b"\x00\xff\xfe", b"\x1b[31m\xc3(", b"\xe2\x82", b"\r", b"\t\t"]


def reference(settings, path: Path, **options) -> tuple[bytes, Counts]:  # type: ignore[no-untyped-def]
    """The line-by-line full pipeline, no fast path of any kind."""
    anonymizer = Anonymizer(settings, **options)
    anonymizer.fast = anonymizer.block = None
    out: list[bytes] = []
    with Source(str(path)) as src:
        counts = anonymizer.run(src.lines(), out.append)
    return b"".join(out), counts


TAKEN = [0]


def blocked(settings, path: Path, **options) -> tuple[bytes, Counts]:  # type: ignore[no-untyped-def]
    """The block path; ``TAKEN[0]`` counts the lines it took itself."""
    anonymizer = Anonymizer(settings, **options)
    block = anonymizer.block
    if block is not None:

        def counting(*args):  # type: ignore[no-untyped-def]
            found = block(*args)
            TAKEN[0] += found[1]
            return found

        anonymizer.block = counting
    out: list[bytes] = []
    with Source(str(path)) as src:
        counts = anonymizer.run_blocks(src.blocks(), out.append)
    return b"".join(out), counts


def write_log(path: Path, lines: list[bytes], *, crlf: bool, final_newline: bool) -> None:
    newline = b"\r\n" if crlf else b"\n"
    data = newline.join(lines) + (newline if final_newline else b"")
    path.write_bytes(data)


def mixed_lines(seed: int, n: int) -> list[bytes]:
    rng = random.Random(seed)
    pool = [x.encode() for x in fixture_lines() + JSON_LINES + EXTRA]
    generated = [x.encode() for x in random_lines(seed, n)]
    out = []
    for _ in range(n):
        kind = rng.random()
        if kind < 0.5:
            out.append(rng.choice(generated))
        elif kind < 0.9:
            out.append(rng.choice(pool))
        else:
            out.append(rng.choice(GARBAGE) + rng.choice(pool)[: rng.randrange(40)])
    return out


@pytest.mark.parametrize("overrides", SETTINGS)
@pytest.mark.parametrize("fmt", ["auto", "combined", "common"])
@pytest.mark.parametrize("block", [64, 1000, 256 * 1024])
def test_blocks_equal_the_full_pipeline(make_settings, tmp_path, monkeypatch, overrides, fmt, block) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(source, "BLOCK", block)
    monkeypatch.setattr(source, "MAX_LINE", 2048)
    settings = make_settings(**overrides)
    path = tmp_path / "access.log"
    lines = mixed_lines(block + len(overrides) * 13 + len(fmt), 700)
    TAKEN[0] = 0
    for crlf, final_newline in ((False, True), (True, False)):
        write_log(path, lines, crlf=crlf, final_newline=final_newline)
        got = blocked(settings, path, fmt=fmt, site_host="shop.example")
        want = reference(settings, path, fmt=fmt, site_host="shop.example")
        assert got == want
        if not overrides:  # the planted-value check knows the default prefixes only
            assert leaks(got[0].decode()) == []
    assert TAKEN[0] > 30  # the block path does take the plain lines


@pytest.mark.parametrize("options", [{"drop_malformed": True}, {"out_format": "json"}, {"fmt": "json"}])
def test_blocks_equal_the_full_pipeline_with_options(make_settings, tmp_path, monkeypatch, options) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(source, "BLOCK", 300)
    path = tmp_path / "access.log"
    write_log(path, mixed_lines(3, 500), crlf=False, final_newline=True)
    settings = make_settings()
    assert blocked(settings, path, **options) == reference(settings, path, **options)


def test_gzip_input_and_over_long_lines(make_settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(source, "BLOCK", 512)
    monkeypatch.setattr(source, "MAX_LINE", 1024)
    lines = mixed_lines(8, 400)
    lines[10] = lines[11] = b"x" * 5000
    lines[20] = b'192.0.2.1 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "' + b"u" * 1100 + b'"'  # fmt: skip
    path = tmp_path / "access.log"
    path.write_bytes(gzip.compress(b"\n".join(lines)))
    settings = make_settings()
    got = blocked(settings, path)
    assert got == reference(settings, path)
    assert got[1].malformed >= 3


def test_a_quote_left_open_does_not_join_two_lines(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "access.log"
    path.write_bytes(
        b'203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "ua\n'
        b'more"\n'
        b'203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "-"\n'
    )
    text, counts = blocked(make_settings(), path)
    assert (counts.read, counts.written, counts.malformed) == (3, 3, 2)
    assert text.decode().splitlines()[:2] == [
        "# beaconguard: malformed line 1 redacted",
        "# beaconguard: malformed line 2 redacted",
    ]


def test_hash_pseudonyms_change_with_the_day(make_settings, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(source, "BLOCK", 100)
    lines = [
        f'203.0.113.9 - - [{day}/Oct/2023:23:59:59 +0000] "GET / HTTP/1.1" 200 5 "-" "-"'.encode()
        for day in ("10", "10", "11", "11", "10", "12")
    ]
    path = tmp_path / "access.log"
    write_log(path, lines, crlf=False, final_newline=True)
    settings = make_settings(ip_mode="hash")
    text, _ = got = blocked(settings, path)
    assert got == reference(settings, path)
    clients = [line.split(" ", 1)[0] for line in text.decode().splitlines()]
    assert clients[0] == clients[1] == clients[4] != clients[2]
    assert clients[2] == clients[3] != clients[5]


def test_bounded_caches_keep_no_long_keys(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.offline.fastpath import MAX_KEY

    ua = "Mozilla/5.0 " + "z" * (MAX_KEY + 10)
    path = tmp_path / "access.log"
    path.write_text(
        f'203.0.113.9 - - [10/Oct/2023:13:55:36 +0000] "GET / HTTP/1.1" 200 5 "-" "{ua}"\n' * 3
    )
    anonymizer = Anonymizer(make_settings(ua_cache_size=2))
    out: list[bytes] = []
    with Source(str(path)) as src:
        anonymizer.run_blocks(src.blocks(), out.append)
    assert anonymizer.block is not None
    cells = anonymizer.block.__closure__ or ()  # type: ignore[attr-defined]
    caches = [c.cell_contents for c in cells if isinstance(c.cell_contents, dict)]
    assert caches
    for cache in caches:
        assert len(cache) <= 2
        assert all(len(k if isinstance(k, str) else "".join(k)) <= MAX_KEY for k in cache)


_LINE_PARTS = st.sampled_from(
    [x.encode() for x in fixture_lines() + JSON_LINES + EXTRA + random_lines(5, 200)]
)
_ANY_LINE = st.one_of(_LINE_PARTS, _LINE_PARTS.map(lambda b: b[: len(b) // 2]), st.binary(max_size=40))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    lines=st.lists(_ANY_LINE, max_size=40),
    overrides=st.sampled_from(SETTINGS),
    fmt=st.sampled_from(["auto", "combined", "common"]),
    block=st.integers(min_value=1, max_value=400),
    crlf=st.booleans(),
    final_newline=st.booleans(),
)
def test_property_blocks_equal_the_full_pipeline(  # type: ignore[no-untyped-def]
    make_settings, tmp_path, lines, overrides, fmt, block, crlf, final_newline
) -> None:
    # A file that opens with gzip's magic is read as gzip (and refused when it is not):
    # that is Source's job and its own tests'; here both sides must read plain text.
    assume(not (lines and lines[0].startswith(b"\x1f\x8b")))
    path = tmp_path / "property.log"
    write_log(path, lines, crlf=crlf, final_newline=final_newline)
    settings_ = make_settings(**overrides)
    old_block, old_max = source.BLOCK, source.MAX_LINE
    source.BLOCK, source.MAX_LINE = block, 1500
    try:
        got = blocked(settings_, path, fmt=fmt, site_host="shop.example")
        want = reference(settings_, path, fmt=fmt, site_host="shop.example")
    finally:
        source.BLOCK, source.MAX_LINE = old_block, old_max
    assert got == want


def test_time_column_agrees_with_parse_clf_time(make_settings) -> None:  # type: ignore[no-untyped-def]
    import time

    from beaconguard.offline.fastpath import _Columns
    from beaconguard.offline.parse import parse_clf_time
    from beaconguard.offline.writer import _ClfTime

    rng = random.Random(3)
    columns = _Columns(make_settings(), "")
    clf = _ClfTime()
    pieces = {
        "day": ["01", "10", "28", "29", "30", "31", "00", "32", "1", "\u0661\u0660"],
        "month": ["Jan", "Feb", "Oct", "Dec", "oct", "Foo"],
        "year": ["2023", "2024", "1970", "1969", "0999", "0000", "9999"],
        "clock": ["00", "09", "23", "24", "59", "60", "99", "5", "\u0665\u0665"],
        "zone": [" +0000", " -0700", " +1800", " +1801", " +0230", "+0000", " +00", ""],
    }
    for _ in range(5000):
        p = {k: rng.choice(v) for k, v in pieces.items()}
        clock = ":".join(rng.choice(pieces["clock"]) for _ in range(3))
        when = f"{p['day']}/{p['month']}/{p['year']}:{clock}{p['zone']}"
        want = parse_clf_time(when)
        got = columns.time(when)
        if want is None:
            assert got is None, when
        else:
            iso = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(want)))
            assert got == (want, clf(iso)), when


def test_referrers_alike_up_to_the_query_get_one_answer() -> None:
    """What the referrer cache of the fast paths relies on (see fastpath.query_start)."""
    from beaconguard.anonymize.referrer import MAX_REFERRER, anonymize_referrer
    from beaconguard.offline.fastpath import query_start

    rng = random.Random(17)
    parts = [
        "https://", "http://", "ftp://", "HTTPS://", "", "//", "shop.example", "news.example",
        "192.0.2.1", "[2001:db8::1]", "[2001:db8::1", "user@", ":8443", "/", "/a", "/users",
        "/bob@example.com", "/9999", "?", "#", "?q=1", "#frag", "&", " ", "\t", "\n", "\x00",
        "%20", ":", "[", "]", "é", "\u00a0", "\x85", "ab",
    ]  # fmt: skip
    used = 0
    for _ in range(20000):
        # Few parts: long runs of host-name characters make the host check backtrack.
        referer = "".join(rng.choice(parts) for _ in range(rng.randrange(1, 6)))
        if rng.random() < 0.01:
            referer += "x" * (MAX_REFERRER - len(referer) + rng.randrange(-2, 3))
        cut = query_start(referer)
        if not cut:
            continue
        used += 1
        for host in ("", "shop.example", "shop.example:8443"):
            assert anonymize_referrer(referer, host) == anonymize_referrer(
                referer[:cut], host
            ), referer
    assert used > 1500
    long = "https://news.example/a?" + "x" * MAX_REFERRER
    assert query_start(long) == 0  # the filter refuses it whole; its start alone it would not
    assert anonymize_referrer(long, "") is None
    assert anonymize_referrer(long[: long.index("?")], "") == "https://news.example"
