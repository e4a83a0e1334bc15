"""The JSON report API over real stores filled through the real aggregator."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette's note about httpx2
    from starlette.testclient import TestClient

from beaconguard.reports.api import ReportAPI
from beaconguard.stats.query import ReportQuery, run_report
from tests.reports.conftest import DAY0, PLANTED, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
PERIOD = {"from": DAY0, "to": DAY0}


@pytest.fixture
def client(fed_store, make_settings):  # type: ignore[no-untyped-def]
    api = ReportAPI(fed_store, make_settings(report_token=TOKEN, min_visitors=5))
    return TestClient(api)


def test_report_has_the_cli_shape(client, fed_store) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params=PERIOD, headers=AUTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    import datetime as dt

    day = dt.date.fromisoformat(DAY0)
    assert body == run_report(fed_store, ReportQuery(day, day, min_visitors=5))
    assert [row["key"] for row in body["rows"]] == ["/a", "/c"]
    assert body["suppressed"]["rows"] >= 1  # /b (3 visitors) and the planted page


def test_parameters(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params={**PERIOD, "by": "browser", "filter": "page=/c",
                                "min_visitors": "6", "top": "1"}, headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert body["by"] == "browser" and body["min_visitors"] == 6
    assert body["rows"] == [{"key": "Mobile Safari", "pageviews": 6, "visitors": 6, "events": 0}]


def test_no_token_is_401_with_a_challenge(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params=PERIOD)
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in r.json()["error"]


@pytest.mark.parametrize("header", [f"Bearer {TOKEN}x", "Bearer ", f"Bearer {TOKEN[:-1]}"])
def test_wrong_token_is_403(client, header) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params=PERIOD, headers={"Authorization": header})
    assert r.status_code in (401, 403)
    if header.strip() != "Bearer":
        assert r.status_code == 403
    assert "rows" not in r.text


def test_basic_auth_is_not_accepted_by_the_api(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params=PERIOD, auth=("x", TOKEN))
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"by": "colour"}, "is not a dimension"),
        ({"from": "yesterday"}, "not a date"),
        ({"since": "forever"}, "number of days"),
        ({"top": "-3"}, "top"),
        ({"min_visitors": "1"}, "at least 5"),
        ({"filter": "nope"}, "DIM=VALUE"),
        ({"frm": "2026-01-01"}, "unknown parameter"),
    ],
)
def test_bad_parameters_are_400_with_a_reason(client, params, words) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/", params=params, headers=AUTH)
    assert r.status_code == 400
    assert words in r.json()["error"]


def test_period_errors_use_the_api_words(client) -> None:  # type: ignore[no-untyped-def]
    error = client.get("/", params={"since": "week"}, headers=AUTH).json()["error"]
    assert "since 'week'" in error and "--" not in error


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("filter=country=JP&by=browser", "works with by=page or by=country (got by=browser)"),
        ("since=7d&from=2026-01-01", "give either since or from/to, not both"),
        ("to=2026-01-01", "to needs from"),
        ("from=2026-03-05&to=2026-03-01", "from 2026-03-05 is after to 2026-03-01"),
    ],
)
def test_every_error_uses_parameter_names_not_cli_flags(client, query, words) -> None:  # type: ignore[no-untyped-def]
    """The audit: 'works with --by page' in an API answer names a flag the API lacks."""
    r = client.get("/?" + query, headers=AUTH)
    assert r.status_code == 400
    error = r.json()["error"]
    assert words in error and "--" not in error


def test_bad_bytes_and_long_queries_are_400(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/?by=%ff%fe", headers=AUTH).status_code == 400
    assert client.get("/?by=" + "x" * 5000, headers=AUTH).status_code == 400


def test_only_get(client) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/", headers=AUTH)
    assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD"
    r = client.head("/", params=PERIOD, headers=AUTH)
    assert r.status_code == 200 and r.content == b""


def test_api_refuses_to_exist_without_a_token(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="report_token"):
        ReportAPI(fed_store, make_settings())


def test_noise_is_applied_from_settings(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    api = ReportAPI(fed_store, make_settings(report_token=TOKEN, noise_epsilon=0.5,
                                             min_visitors=1))
    c = TestClient(api)
    first = c.get("/", params=PERIOD, headers=AUTH).json()
    again = c.get("/", params=PERIOD, headers=AUTH).json()
    assert first["noise_epsilon"] == 0.5
    assert first == again  # the same question gets the same noise


def test_no_planted_identifier_in_any_answer(fed_store, make_settings) -> None:  # type: ignore[no-untyped-def]
    # k = 1 so that the planted visitor's own rows are shown, not withheld.
    c = TestClient(ReportAPI(fed_store, make_settings(report_token=TOKEN, min_visitors=1)))
    bodies = []
    for by in ("page", "referrer", "country", "browser", "os", "device", "utm_source",
               "utm_medium", "utm_campaign", "event"):
        r = c.get("/", params={**PERIOD, "by": by, "top": "1000"}, headers=AUTH)
        assert r.status_code == 200
        bodies.append(r.text)
    text = "\n".join(bodies)
    assert "mail.example" in text  # the planted visit is in the report, as a bare host
    for name, raw in PLANTED.items():
        assert raw not in text, name
    assert "alice" not in text and "PLANTED" not in text
