"""Log lines become Visits the way an ASGI server fills a scope."""

from __future__ import annotations

from beaconguard.offline.parse import make_parser
from beaconguard.offline.to_visit import guess_content_type, make_converter, split_target
from tests.offline.planted import FIXTURES


def test_split_target_decodes_path_and_keeps_query_raw() -> None:
    assert split_target("/a%20b/c?x=%41&y=1#frag") == ("/a b/c", b"x=%41&y=1", "")
    assert split_target("/a#f?not-a-query") == ("/a", b"", "")
    assert split_target("/%ff") == ("/\ufffd", b"", "")


def test_split_target_absolute_form_drops_userinfo() -> None:
    path, query, host = split_target("http://user:pw@shop.example:8080/p?q=1")
    assert (path, query, host) == ("/p", b"q=1", "shop.example:8080")
    assert split_target("https://shop.example") == ("/", b"", "shop.example")


def test_guess_content_type() -> None:
    assert guess_content_type("/") == "text/html"
    assert guess_content_type("/about") == "text/html"
    assert guess_content_type("/blog/post.html") == "text/html"
    assert guess_content_type("/v1.2/docs") == "text/html"
    for asset in ("/static/app.css", "/app.min.js", "/logo.PNG", "/font.woff2", "/feed.xml"):
        assert guess_content_type(asset) == "", asset


def test_forwarded_for_column_believed_only_from_trusted_proxies(make_settings) -> None:  # type: ignore[no-untyped-def]
    parse = make_parser("combined")
    lines = [parse(x) for x in (FIXTURES / "xff.log").read_text().splitlines()]
    trusting = make_converter(make_settings(trusted_proxies="10.0.0.0/8"))
    clients = [trusting(line).client for line in lines if line is not None]
    assert clients == ["192.0.2.199", "2001:db8:85a3:1234:5678:8a2e:370:7334", "198.51.100.23"]
    direct = make_converter(make_settings())
    assert [direct(x).client for x in lines if x is not None][:2] == ["10.0.0.1", "10.0.0.1"]


def test_visit_fields(make_settings) -> None:  # type: ignore[no-untyped-def]
    line = make_parser("auto")((FIXTURES / "combined.log").read_text().splitlines()[1])
    assert line is not None
    visit = make_converter(make_settings(), site_host="Shop.Example")(line)
    assert visit.path == "/search"
    assert visit.query.startswith(b"q=bob%40example.org")
    assert visit.host == "shop.example"
    assert visit.status == 200 and visit.bytes_sent == 512
    assert visit.content_type == "text/html"
    assert visit.time == line.time
