"""The report token check: bearer for scripts, Basic password for browsers."""

from __future__ import annotations

import base64

import pytest

from beaconguard.reports.auth import TokenCheck, Verdict, authorization_header

TOKEN = "report-token-0123456789"


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_bearer() -> None:
    check = TokenCheck(TOKEN)
    assert check(f"Bearer {TOKEN}") is Verdict.OK
    assert check(f"bearer  {TOKEN} ") is Verdict.OK
    assert check("Bearer nope") is Verdict.WRONG
    assert check(f"Bearer {TOKEN}x") is Verdict.WRONG
    assert check(None) is Verdict.MISSING
    assert check("") is Verdict.MISSING
    assert check("Token abc") is Verdict.MISSING


def test_basic_only_when_allowed() -> None:
    assert TokenCheck(TOKEN)(basic("x", TOKEN)) is Verdict.MISSING
    check = TokenCheck(TOKEN, allow_basic=True)
    assert check(basic("anyone", TOKEN)) is Verdict.OK
    assert check(basic("anyone", "wrong")) is Verdict.WRONG
    assert check("Basic !!!notbase64") is Verdict.WRONG


def test_empty_token_is_refused() -> None:
    with pytest.raises(ValueError, match="report_token"):
        TokenCheck("")


def test_authorization_header() -> None:
    assert authorization_header([(b"host", b"x"), (b"authorization", b"Bearer t")]) == "Bearer t"
    assert authorization_header([(b"host", b"x")]) is None
