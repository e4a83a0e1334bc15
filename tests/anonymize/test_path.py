import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaconguard.anonymize.path import anonymize_path, from_raw_target, route_path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/", "/"),
        ("/products/8812", "/products/{int}"),
        ("/u/alice@example.com/cart", "/u/{email}/cart"),
        ("/o/123e4567-e89b-12d3-a456-426614174000", "/o/{uuid}"),
        ("/t/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b", "/t/{hex}"),
        ("/r/aB3dE5fG7hJ9kL1mN3pQ5rS7", "/r/{token}"),
        ("/j/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "/j/{jwt}"),
        ("/ip/203.0.113.9", "/ip/{ip}"),
        ("/order/INV-2024-000123", "/order/{id}"),
        ("/blog/privacy-by-default", "/blog/privacy-by-default"),
        ("/" + "z" * 100, "/{long}"),
        ("/bad/\ufffd\ufffd", "/bad/{invalid}"),
        ("/ctl/a\x00b", "/ctl/{invalid}"),
        ("relative", "/{invalid}"),
    ],
)
def test_segments(raw: str, expected: str) -> None:
    assert anonymize_path(raw) == expected


def test_raw_target_is_decoded_first() -> None:
    assert from_raw_target("/u/alice%40example.com?x=1#f") == "/u/{email}"
    assert from_raw_target("/bad/%ff%fe") == "/bad/{invalid}"


def test_route_template_wins() -> None:
    assert route_path("/products/{id}", "", "/products/8812") == "/products/{id}"
    assert route_path("/items/{id}", "/shop/42", "/shop/42/items/7") == "/shop/{int}/items/{id}"
    assert route_path(None, "", "/products/8812") == "/products/{int}"


identifiers = st.one_of(
    st.emails(),
    st.uuids().map(str),
    st.integers(min_value=0, max_value=10**12).map(str),
    st.binary(min_size=8, max_size=32).map(lambda b: b.hex()),
    st.from_regex(r"[A-Za-z]{10}[0-9]{10}[A-Za-z0-9_-]{4,20}", fullmatch=True),
    st.ip_addresses().map(str),
)
safe_segments = st.from_regex(r"[a-z]{1,12}(-[a-z]{1,8}){0,2}", fullmatch=True)


@given(st.lists(safe_segments, max_size=3), identifiers, st.lists(safe_segments, max_size=3))
def test_identifier_segments_never_survive(before: list, ident: str, after: list) -> None:
    path = "/" + "/".join([*before, ident, *after])
    out = anonymize_path(path)
    assert ident not in out.split("/")
    if len(ident) >= 6:
        assert ident not in out


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    out = anonymize_path("/" + text)
    assert out.startswith("/")
    from_raw_target(text)
