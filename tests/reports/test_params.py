"""Report parameters shared by the CLI and the API."""

from __future__ import annotations

import datetime as dt

import pytest

from beaconguard.reports.params import MAX_TOP, build_query, parse_filters, query_from_params

TODAY = dt.date(2026, 3, 10)


def test_filters() -> None:
    assert parse_filters(["page=/x", "country=JP"]) == {"page": "/x", "country": "JP"}
    assert parse_filters(["page=/a=b"]) == {"page": "/a=b"}
    for bad, words in (("page", "DIM=VALUE"), ("=x", "DIM=VALUE"),
                       ("colour=red", "not a dimension")):
        with pytest.raises(ValueError, match=words):
            parse_filters([bad])
    with pytest.raises(ValueError, match="twice"):
        parse_filters(["page=/a", "page=/b"])


def test_build_query_defaults_and_period() -> None:
    q = build_query(min_visitors=5, today=TODAY)
    assert (q.start, q.end, q.by, q.top, q.min_visitors) == (
        dt.date(2026, 3, 4), TODAY, "page", 20, 5)
    q = build_query(min_visitors="3", start="2026-03-01", end="2026-03-02", by="country",
                    top="7", filters=["page=/a"], today=TODAY)
    assert (q.start, q.end, q.by, q.top, q.min_visitors, dict(q.filters)) == (
        dt.date(2026, 3, 1), dt.date(2026, 3, 2), "country", 7, 3, {"page": "/a"})


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"by": "colour"}, "by: 'colour' is not a dimension"),
        ({"top": "0"}, "top: must be from 1"),
        ({"top": str(MAX_TOP + 1)}, "top: must be from 1"),
        ({"top": "ten"}, "top: expected a whole number"),
        ({"min_visitors": "x"}, "min_visitors: expected a whole number"),
        ({"min_visitors": "0"}, "min_visitors: must be at least 1"),
        ({"since": "7 days"}, "not a number of days"),
        ({"start": "2026-13-01"}, "not a date"),
        ({"start": "2026-03-05", "end": "2026-03-01"}, "after"),
        ({"since": "7d", "start": "2026-03-01"}, "not both"),
        ({"filters": ["browser=Chrome"], "by": "country"}, "filter"),
    ],
)
def test_build_query_errors_are_one_readable_sentence(kwargs, words) -> None:  # type: ignore[no-untyped-def]
    kwargs.setdefault("min_visitors", 5)
    with pytest.raises(ValueError, match=words) as info:
        build_query(today=TODAY, **kwargs)
    assert "\n" not in str(info.value)


def test_api_params(make_settings) -> None:  # type: ignore[no-untyped-def]
    s = make_settings(min_visitors=5)
    q = query_from_params(
        [("by", "referrer"), ("filter", "page=/a"), ("since", "30d"), ("min-visitors", "8")],
        s, today=TODAY,
    )
    assert (q.by, dict(q.filters), q.min_visitors, q.end) == ("referrer", {"page": "/a"}, 8, TODAY)
    assert query_from_params([], s, today=TODAY).min_visitors == 5


def test_api_params_never_lower_the_configured_threshold(make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="at least 5"):
        query_from_params([("min_visitors", "1")], make_settings(min_visitors=5), today=TODAY)


def test_api_params_reject_unknown_and_repeated(make_settings) -> None:  # type: ignore[no-untyped-def]
    s = make_settings()
    with pytest.raises(ValueError, match="unknown parameter 'format'"):
        query_from_params([("format", "csv")], s, today=TODAY)
    with pytest.raises(ValueError, match="by: given more than once"):
        query_from_params([("by", "page"), ("by", "country")], s, today=TODAY)


def test_api_params_carry_the_configured_noise(make_settings) -> None:  # type: ignore[no-untyped-def]
    q = query_from_params([], make_settings(noise_epsilon=0.5), today=TODAY)
    assert q.noise_epsilon == 0.5
