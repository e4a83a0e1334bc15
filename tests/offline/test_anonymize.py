"""The offline anonymize loop: same pipeline as the middleware, nothing raw gets out."""

from __future__ import annotations

import orjson
import pytest

from beaconguard.anonymize.pipeline import build_pipeline
from beaconguard.offline.anonymize import Anonymizer
from beaconguard.offline.parse import make_parser
from beaconguard.offline.source import Source
from beaconguard.offline.to_visit import make_converter
from tests.offline.planted import FIXTURES, FORMATS, leaks


def run(settings, name: str, **options) -> tuple[str, object]:  # type: ignore[no-untyped-def]
    out: list[bytes] = []
    with Source(str(FIXTURES / name)) as src:
        counts = Anonymizer(settings, **options).run(src.lines(), out.append)
    return b"".join(out).decode(), counts


@pytest.mark.parametrize("name", FORMATS)
@pytest.mark.parametrize("out_format", ["same", "json"])
@pytest.mark.parametrize("ip_mode", ["truncate", "hash", "drop"])
def test_no_planted_identifier_survives(make_settings, name, out_format, ip_mode) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings(ip_mode=ip_mode, trusted_proxies="10.0.0.0/8")
    text, counts = run(settings, name, out_format=out_format, site_host="shop.example")
    assert text
    assert leaks(text) == []
    assert counts.written == counts.read  # type: ignore[attr-defined]


def test_records_are_the_middleware_pipeline_records(make_settings) -> None:  # type: ignore[no-untyped-def]
    settings = make_settings()
    text, _ = run(settings, "combined.log", out_format="json", site_host="shop.example")
    parse, to_visit = make_parser("auto"), make_converter(settings, site_host="shop.example")
    pipeline = build_pipeline(settings)
    expected = [
        pipeline(to_visit(parse(line)))  # type: ignore[arg-type]
        for line in (FIXTURES / "combined.log").read_text().splitlines()
    ]
    assert [orjson.loads(x) for x in text.splitlines()] == expected
    first = expected[0]
    assert first["path"] == "/users/{email}/orders/{int}"
    assert first["query"] == "utm_source=news"
    assert first["client"] == "203.0.113.0"
    assert first["referrer"] == "/cart"  # same site: its anonymized path
    assert (first["browser"], first["os"], first["device"]) == ("Firefox", "Linux", "desktop")
    assert expected[1]["client"] == "2001:db8:85a3::"
    assert expected[2]["is_bot"] is True


def test_same_format_keeps_the_shape(make_settings) -> None:  # type: ignore[no-untyped-def]
    text, _ = run(make_settings(), "combined.log", site_host="shop.example")
    first = text.splitlines()[0]
    assert first == (
        '203.0.113.0 - - [10/Oct/2023:20:55:36 +0000] "GET /users/{email}/orders/{int}'
        '?utm_source=news HTTP/1.1" 200 2326 "/cart" "Firefox/125 (Linux; desktop)"'
    )
    common, _ = run(make_settings(), "common.log")
    assert common.splitlines()[2] == (
        '198.51.100.0 - - [10/Oct/2023:13:55:38 +0000] "OTHER /{invalid} HTTP/1.1" 408 0'
    )
    xff, _ = run(make_settings(trusted_proxies="10.0.0.0/8"), "xff.log")
    assert xff.splitlines()[0].startswith("192.0.2.0 - - ")
    assert xff.splitlines()[0].endswith('"Firefox/125 (Linux; desktop)" "-"')
    bots, _ = run(make_settings(), "combined.log")
    assert '"Googlebot/2 (Other; bot; bot=crawler)"' in bots


def test_cleaned_text_log_parses_again(make_settings) -> None:  # type: ignore[no-untyped-def]
    parse = make_parser("auto")
    for name in ("combined.log", "common.log", "xff.log", "escapes.log"):
        text, _ = run(make_settings(), name)
        assert all(parse(line) is not None for line in text.splitlines()), name


def test_malformed_lines_are_replaced_and_counted(make_settings) -> None:  # type: ignore[no-untyped-def]
    text, counts = run(make_settings(), "garbage.log")
    out = text.splitlines()
    assert (counts.read, counts.malformed, counts.written) == (8, 6, 8)  # type: ignore[attr-defined]
    assert out[1] == "# beaconguard: malformed line 2 redacted"
    assert out[0].startswith("203.0.113.0 ") and out[7].startswith("203.0.113.0 ")
    dropped, counts = run(make_settings(), "garbage.log", drop_malformed=True)
    assert len(dropped.splitlines()) == 2 and counts.written == 2  # type: ignore[attr-defined]
    as_json, _ = run(make_settings(), "garbage.log", out_format="json")
    assert orjson.loads(as_json.splitlines()[1]) == {"malformed": True, "line": 2}


def test_too_long_line_is_malformed(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = (FIXTURES / "combined.log").read_text().splitlines()[5]
    path = tmp_path / "long.log"
    path.write_text(good + "\n" + "203.0.113.77 " + "x" * 200_000 + "\n" + good + "\n")
    out: list[bytes] = []
    with Source(str(path)) as src:
        counts = Anonymizer(make_settings()).run(src.lines(), out.append)
    assert (counts.read, counts.malformed) == (3, 1)
    assert b"203.0.113.77" not in b"".join(out)


def test_marker_follows_the_shape_of_a_json_log(make_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines = (FIXTURES / "json.log").read_text().splitlines()
    out: list[bytes] = []
    Anonymizer(make_settings()).run([lines[0], "{broken", lines[1]], out.append)
    assert [orjson.loads(x) for x in b"".join(out).splitlines()][1] == {
        "malformed": True,
        "line": 2,
    }
