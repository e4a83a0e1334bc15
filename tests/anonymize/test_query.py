from hypothesis import given
from hypothesis import strategies as st

from beaconguard.anonymize.query import REDACTED, make_query_filter
from beaconguard.settings import DEFAULT_QUERY_ALLOWLIST

drop = make_query_filter(DEFAULT_QUERY_ALLOWLIST)
redact = make_query_filter(DEFAULT_QUERY_ALLOWLIST, "redact")


def test_allowlist_kept_others_dropped() -> None:
    q = b"utm_source=news&email=alice%40example.com&token=abc123&utm_medium=mail"
    assert drop(q) == "utm_source=news&utm_medium=mail"


def test_redact_mode_keeps_names_only() -> None:
    q = b"utm_source=news&page=2&alice%40example.com=1"
    assert redact(q) == f"utm_source=news&page={REDACTED}"


def test_identifier_values_redacted_even_when_allowlisted() -> None:
    out = drop(b"utm_term=alice%40example.com&ref=9f86d081884c7d659a2f")
    assert out == "utm_term=%7Bredacted%7D&ref=%7Bredacted%7D".replace("%7B", "{").replace("%7D", "}")


def test_empty_and_garbage() -> None:
    assert drop(b"") is None
    assert drop(b"&&&") is None
    assert drop(b"utm_source=%ff%fe") == f"utm_source={REDACTED}"
    assert drop(b"x" * 5000) is None


@given(st.binary(max_size=400))
def test_never_raises(raw: bytes) -> None:
    drop(raw)
    redact(raw)


@given(
    st.from_regex(r"[a-z]{3,10}", fullmatch=True).filter(lambda n: n not in DEFAULT_QUERY_ALLOWLIST),
    st.one_of(st.emails(), st.from_regex(r"[A-Za-z0-9]{12,30}", fullmatch=True)),
)
def test_unlisted_values_never_emitted(name: str, value: str) -> None:
    from urllib.parse import quote

    raw = f"{name}={quote(value)}&utm_source=x".encode()
    for f in (drop, redact):
        out = f(raw) or ""
        assert value not in out
        assert quote(value) not in out


@given(st.emails())
def test_allowlisted_emails_never_emitted(email: str) -> None:
    from urllib.parse import quote

    out = drop(f"utm_term={quote(email)}".encode()) or ""
    assert email not in out and quote(email, safe="") not in out
