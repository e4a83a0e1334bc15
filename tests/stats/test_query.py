"""The report query layer, against every store backend."""

from __future__ import annotations

import datetime as dt

import pytest

from beaconguard.stats.query import (
    DIMENSIONS,
    ReportQuery,
    bot_counts,
    consent_counts,
    daily_series,
    parse_period,
    run_report,
)
from tests.stats.helpers import CHROME, FIREFOX, IPHONE, NOON, Feeder

DAY0 = dt.date(2026, 3, 10)


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """Exact small counts need the sparse high-precision sketch of memory and SQLite.

    Redis' own HyperLogLog has 16384 registers at every size, so ten visitors collide one
    time in 400: Redis reports are checked within that error below.
    """
    if request.param == "memory":
        return "memory://"
    return f"sqlite:///{tmp_path / 'stats.db'}"
SECRET = b"report-secret-0123456789"


@pytest.fixture
def fed(store, make_settings):  # type: ignore[no-untyped-def]
    """/a: 10 visitors x 2 views; /b: 3 visitors; /c: 6 visitors; some from JP via a ref."""
    f = Feeder(store, make_settings())
    for i in range(10):
        ua = CHROME if i % 2 else FIREFOX
        for _ in range(2):
            f.visit("/a", client=f"198.51.100.{i}", ua=ua, referer="https://news.example/x",
                    query=b"utm_source=newsletter&utm_medium=email&session=abc")
    for i in range(3):
        f.visit("/b", client=f"192.0.2.{i}", ua=IPHONE)
    for i in range(6):
        f.visit("/c", client=f"192.0.2.{100 + i}", ua=IPHONE)
    f.visit("/c", client="192.0.2.100", ua=IPHONE, at=NOON + 86400)  # next day, same person
    f.flush()
    return store


def q(**kw):  # type: ignore[no-untyped-def]
    kw.setdefault("start", DAY0)
    kw.setdefault("end", DAY0)
    return ReportQuery(**kw)


def test_by_page_rows_totals_and_suppression(fed) -> None:  # type: ignore[no-untyped-def]
    r = run_report(fed, q(by="page", min_visitors=5))
    assert r["by"] == "page" and r["from"] == r["to"] == "2026-03-10"
    assert r["rows"] == [
        {"key": "/a", "pageviews": 20, "visitors": 10, "events": 0},
        {"key": "/c", "pageviews": 6, "visitors": 6, "events": 0},
    ]
    # one withheld row: its numbers would be the row itself, so only the count is given
    assert r["suppressed"] == {"rows": 1, "pageviews": None, "visitors": None}
    assert r["totals"] == {"pageviews": 29, "visitors": 19, "events": 0}
    assert r["totals_withheld"] is False
    assert r["min_visitors"] == 5 and r["noise_epsilon"] is None


@pytest.fixture
def one_secret_visit(store, make_settings):  # type: ignore[no-untyped-def]
    """20 visitors on /, one on /secret-page (the audit's probe)."""
    f = Feeder(store, make_settings())
    for i in range(20):
        f.visit("/", client=f"10.0.0.{i}", ua=FIREFOX)
    f.visit("/secret-page", client="10.9.9.9", ua=FIREFOX)
    f.flush()
    return store


@pytest.mark.parametrize("by", DIMENSIONS)
def test_a_filter_cannot_narrow_a_report_below_k(one_secret_visit, by) -> None:  # type: ignore[no-untyped-def]
    r = run_report(one_secret_visit, q(by=by, filters={"page": "/secret-page"}, min_visitors=5))
    assert r["rows"] == []
    assert r["totals_withheld"] is True
    assert r["totals"] == {"pageviews": None, "visitors": None, "events": None}
    assert r["suppressed"]["pageviews"] is None and r["suppressed"]["visitors"] is None
    assert r["suppressed"]["rows"] <= 1  # counted, never silently dropped
    # The same through a non-page filter: one visitor from one browser is still one.
    r = run_report(one_secret_visit, q(by="page", filters={"browser": "Firefox"},
                                       min_visitors=5))
    assert r["rows"] == [{"key": "/", "pageviews": 20, "visitors": 20, "events": 0}]
    assert r["suppressed"] == {"rows": 1, "pageviews": None, "visitors": None}
    assert r["totals"] == {"pageviews": 21, "visitors": 21, "events": 0}  # 21 >= k: shown


def test_suppressed_sums_are_shown_for_a_group_of_k(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    f = Feeder(store, make_settings())
    for i in range(3):
        f.visit("/b", client=f"192.0.2.{i}")
    for i in range(2):
        f.visit("/c", client=f"192.0.2.{10 + i}")
    f.visit("/d", client="192.0.2.20")
    f.flush()
    r = run_report(store, q(by="page", min_visitors=5))
    assert r["rows"] == []
    assert r["suppressed"] == {"rows": 3, "pageviews": 6, "visitors": 6}
    assert r["totals"] == {"pageviews": 6, "visitors": 6, "events": 0}
    # two rows, but together still fewer than k visitors: nothing but their count
    r = run_report(store, q(by="page", min_visitors=10))
    assert r["suppressed"] == {"rows": 3, "pageviews": None, "visitors": None}
    assert r["totals_withheld"] is True and r["totals"]["pageviews"] is None


def test_an_empty_period_reports_zeros(store) -> None:  # type: ignore[no-untyped-def]
    r = run_report(store, q(by="page", min_visitors=5))
    assert r["totals"] == {"pageviews": 0, "visitors": 0, "events": 0}
    assert r["totals_withheld"] is False


def test_other_dimensions(fed) -> None:  # type: ignore[no-untyped-def]
    rows = {r["key"]: r for r in run_report(fed, q(by="browser", min_visitors=1))["rows"]}
    assert rows["Chrome"]["visitors"] == 5 and rows["Firefox"]["pageviews"] == 10
    assert rows["Mobile Safari"]["visitors"] == 9
    ref = run_report(fed, q(by="referrer", min_visitors=1))["rows"]
    assert {"key": "news.example", "pageviews": 20, "visitors": 10, "events": 0} in ref
    assert {"key": None, "pageviews": 9, "visitors": 9, "events": 0} in ref
    utm = run_report(fed, q(by="utm_source", min_visitors=1))["rows"]
    assert utm[0] == {"key": "newsletter", "pageviews": 20, "visitors": 10, "events": 0}
    dev = {r["key"]: r["visitors"] for r in run_report(fed, q(by="device", min_visitors=1))["rows"]}
    assert dev == {"desktop": 10, "mobile": 9}


def test_page_filter_with_any_dimension(fed) -> None:  # type: ignore[no-untyped-def]
    r = run_report(fed, q(by="browser", filters={"page": "/c"}, min_visitors=1))
    assert r["rows"] == [{"key": "Mobile Safari", "pageviews": 6, "visitors": 6, "events": 0}]
    assert r["totals"] == {"pageviews": 6, "visitors": 6, "events": 0}
    r = run_report(fed, q(by="page", filters={"page": "/a"}, min_visitors=1))
    assert [row["key"] for row in r["rows"]] == ["/a"]
    # another dimension's filter, grouped by page
    r = run_report(fed, q(by="page", filters={"browser": "Chrome"}, min_visitors=1))
    assert r["rows"] == [{"key": "/a", "pageviews": 10, "visitors": 5, "events": 0}]
    r = run_report(fed, q(by="browser", filters={"page": "/a", "browser": "Firefox"},
                         min_visitors=1))
    assert r["rows"] == [{"key": "Firefox", "pageviews": 10, "visitors": 5, "events": 0}]


def test_multi_day_visitors_are_the_sum_of_daily_uniques(fed) -> None:  # type: ignore[no-untyped-def]
    r = run_report(fed, q(end=DAY0 + dt.timedelta(days=1), by="page", min_visitors=1))
    rows = {row["key"]: row for row in r["rows"]}
    assert rows["/c"] == {"key": "/c", "pageviews": 7, "visitors": 7, "events": 0}
    series = daily_series(fed, DAY0 - dt.timedelta(days=1), DAY0 + dt.timedelta(days=2))
    assert series == [
        {"day": "2026-03-09", "pageviews": 0, "visitors": 0},
        {"day": "2026-03-10", "pageviews": 29, "visitors": 19},
        {"day": "2026-03-11", "pageviews": 1, "visitors": 1},
        {"day": "2026-03-12", "pageviews": 0, "visitors": 0},
    ]


def test_top_n_and_ordering(fed) -> None:  # type: ignore[no-untyped-def]
    r = run_report(fed, q(by="page", min_visitors=1, top=2))
    assert [row["key"] for row in r["rows"]] == ["/a", "/c"]
    assert r["suppressed"]["rows"] == 0  # cut by top N is not suppression


def test_noise_is_deterministic_keyed_and_needs_a_secret(fed) -> None:  # type: ignore[no-untyped-def]
    query = q(by="page", min_visitors=1, noise_epsilon=0.5)
    first = run_report(fed, query, secret=SECRET)
    assert first == run_report(fed, query, secret=SECRET)
    assert first["noise_epsilon"] == 0.5
    other = run_report(fed, query, secret=b"another-secret-0123456")
    exact = run_report(fed, q(by="page", min_visitors=1))
    assert first != exact or other != exact  # noise really changes numbers
    for row in first["rows"]:
        assert row["pageviews"] >= 0 and row["visitors"] >= 0
    with pytest.raises(ValueError, match="secret"):
        run_report(fed, query)


def test_noise_is_keyed_on_the_cell_not_the_query(one_secret_visit) -> None:  # type: ignore[no-untyped-def]
    """The audit: the total of ``filter page=/`` by every dimension were 10 fresh draws."""
    store, eps = one_secret_visit, 0.5
    reads = []
    for by in DIMENSIONS:
        r = run_report(store, q(by=by, filters={"page": "/"}, min_visitors=1,
                                noise_epsilon=eps), secret=SECRET)
        reads.append((r["totals"]["pageviews"], r["totals"]["visitors"]))
    row = next(x for x in run_report(store, q(by="page", min_visitors=1, noise_epsilon=eps),
                                     secret=SECRET)["rows"] if x["key"] == "/")
    reads.append((row["pageviews"], row["visitors"]))
    assert len(set(reads)) == 1  # one cell, one noisy value, however it is reached
    # ... and it is noise: over many cells the draws are not all zero
    one_day = [
        run_report(store, q(start=DAY0 - dt.timedelta(days=i), end=DAY0, by="page",
                            filters={"page": "/"}, min_visitors=1, noise_epsilon=eps),
                   secret=SECRET)["totals"]["pageviews"]
        for i in range(10)
    ]
    assert any(v != 20 for v in one_day)
    # the whole-site total of one day is the same cell as that day's daily series point
    total = run_report(store, q(min_visitors=1, noise_epsilon=eps), secret=SECRET)["totals"]
    point = daily_series(store, DAY0, DAY0, noise_epsilon=eps, secret=SECRET)[0]
    assert (point["pageviews"], point["visitors"]) == (total["pageviews"], total["visitors"])


def test_daily_series_applies_k_and_noise(fed) -> None:  # type: ignore[no-untyped-def]
    days = (DAY0 - dt.timedelta(days=1), DAY0 + dt.timedelta(days=1))
    series = daily_series(fed, *days, min_visitors=5)
    assert series == [
        {"day": "2026-03-09", "pageviews": 0, "visitors": 0},  # nothing counted: zeros
        {"day": "2026-03-10", "pageviews": 29, "visitors": 19},
        {"day": "2026-03-11", "pageviews": None, "visitors": None},  # one visitor: withheld
    ]
    with pytest.raises(ValueError, match="secret"):
        daily_series(fed, *days, noise_epsilon=1.0)


def test_noise_has_the_stated_scale(store) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.stats.query import _noise

    draws = [_noise(SECRET, 2.0, "cell", i) for i in range(4000)]
    mean_abs = sum(abs(d) for d in draws) / len(draws)
    assert abs(mean_abs - 0.5) < 0.05  # E|Laplace(b)| = b = 1/epsilon


def test_bots_and_consent_counts(store, make_settings) -> None:  # type: ignore[no-untyped-def]
    f = Feeder(store, make_settings())
    f.visit("/", ua="Googlebot/2.1 (+http://www.google.com/bot.html)")
    f.visit("/", ua="")
    f.visit("/", ua="")
    f.agg.add_consent({"statistics": True, "marketing": False}, "banner")
    f.agg.add_consent({"statistics": False}, "gpc")
    f.flush()
    bots = bot_counts(store, DAY0, DAY0)
    assert bots["empty"] == 2 and sum(bots.values()) == 3
    assert run_report(store, q(min_visitors=1))["totals"]["pageviews"] == 0
    assert consent_counts(store, DAY0, DAY0) == {
        "marketing": {
            "granted": 0,
            "denied": 1,
            "by_source": {"banner": {"granted": 0, "denied": 1}},
        },
        "statistics": {
            "granted": 1,
            "denied": 1,
            "by_source": {
                "banner": {"granted": 1, "denied": 0},
                "gpc": {"granted": 0, "denied": 1},
            },
        },
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"by": "email"}, "not a dimension"),
        ({"filters": {"cookie": "x"}}, "not a dimension"),
        ({"start": DAY0, "end": DAY0 - dt.timedelta(days=1)}, "after"),
        ({"top": 0}, "top"),
        ({"min_visitors": 0}, "min_visitors"),
        ({"noise_epsilon": -1.0}, "noise_epsilon"),
        ({"by": "os", "filters": {"country": "JP"}}, "--by page or --by country"),
        ({"filters": {"country": "JP", "os": "iOS"}}, "at most one"),
    ],
)
def test_bad_queries_raise_helpful_errors(kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=message):
        q(**kwargs)


def test_parse_period() -> None:
    today = dt.date(2026, 3, 10)
    assert parse_period("7d", None, None, today) == (dt.date(2026, 3, 4), today)
    assert parse_period("1d", None, None, today) == (today, today)
    assert parse_period(None, None, None, today) == (dt.date(2026, 3, 4), today)
    assert parse_period(None, "2026-01-01", "2026-01-31", today) == (
        dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert parse_period(None, "2026-03-01", None, today) == (dt.date(2026, 3, 1), today)
    for args, msg in [
        (("week", None, None), "number of days"),
        (("0d", None, None), "number of days"),
        (("7d", "2026-01-01", None), "not both"),
        ((None, "yesterday", None), "not a date"),
        ((None, "2026-02-01", "2026-01-01"), "after"),
        ((None, None, "2026-01-01"), "needs --from"),
    ]:
        with pytest.raises(ValueError, match=msg):
            parse_period(*args, today=today)


@pytest.mark.redis
def test_reports_on_redis(redis_url, make_settings) -> None:  # type: ignore[no-untyped-def]
    from beaconguard.stats.store import open_store

    store = open_store(redis_url)
    try:
        f = Feeder(store, make_settings())
        for i in range(300):
            f.visit("/a" if i % 3 else "/b", client=f"10.0.{i // 250}.{i % 250}",
                    query=b"utm_source=ads")
        f.flush()
        r = run_report(store, q(by="page", min_visitors=1))
        rows = {row["key"]: row for row in r["rows"]}
        assert rows["/a"]["pageviews"] == 200 and rows["/b"]["pageviews"] == 100
        assert abs(rows["/a"]["visitors"] - 200) <= 4 and abs(rows["/b"]["visitors"] - 100) <= 2
        r = run_report(store, q(by="utm_source", filters={"page": "/b"}, min_visitors=1))
        assert r["rows"][0]["key"] == "ads" and r["rows"][0]["pageviews"] == 100
        assert r["totals"]["pageviews"] == 100
        assert daily_series(store, DAY0, DAY0)[0]["pageviews"] == 300
    finally:
        store.close()
