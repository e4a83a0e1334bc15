"""Report queries over a store: rows per dimension value, with small cells suppressed.

Every report is one dict with a ``rows`` list. The k-threshold (``min_visitors``) works
on everything a report shows:

- A row whose visitors are fewer than k is not shown but counted under
  ``suppressed["rows"]``, never silently dropped.
- ``suppressed["pageviews"]`` and ``suppressed["visitors"]`` (the withheld rows' sums) are
  given only when at least two rows were withheld and together they have at least k
  visitors; otherwise they are ``None``, since one withheld row's numbers, or a few rows'
  adding up to fewer than k visitors, are exactly what the threshold hides.
- ``totals`` with fewer than k visitors are withheld too: all three numbers ``None`` and
  ``totals_withheld`` true. Without this a filter (``page=/secret``) narrows a report to
  one small cell and its totals show it. A period in which nothing at all was counted
  reports zeros.

The keys of withheld rows are never shown, so what the totals minus the shown rows leave
over cannot be pinned to one value.

With ``noise_epsilon`` set, Laplace noise of scale 1/epsilon is added to each number. The
noise is drawn from an HMAC of the secret, the stored cell the number comes from
(dimension, page, value), the period and the metric; not of the query. Every query that
reaches the same cell (the ``/x`` row of a page report, the totals of ``filter page=/x``
grouped by any dimension) gets the same noisy number, so neither repeating a query nor
rephrasing it averages the noise away. The k-threshold is applied to the noisy numbers.

"visitors" are daily unique visitors; over a range of days a row reports the sum of its
daily uniques (the same person on two days counts twice), because the key that would link
one day's visitors to the next is destroyed with the day.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import hmac
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beaconguard.stats.store.base import Store

DIMENSIONS = (
    "page",
    "referrer",
    "country",
    "browser",
    "os",
    "device",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "event",
)
#: The longest period a report covers (ten years): a typo like 2205-01-01 fails clearly.
MAX_DAYS = 3660
_SINCE = re.compile(r"(\d{1,4})d")
_METRICS = ("pageviews", "visitors", "events")


@dataclass(frozen=True)
class ReportQuery:
    """One report: UTC days ``start..end`` (inclusive), grouped ``by`` a dimension.

    ``filters`` maps a dimension to an exact value. Supported: ``page`` with any ``by``;
    any other dimension when ``by`` is ``page`` or that same dimension; and ``page``
    together with one other dimension when ``by`` is one of the two.
    """

    start: _dt.date
    end: _dt.date
    by: str = "page"
    filters: Mapping[str, str] = field(default_factory=dict)
    top: int = 20
    min_visitors: int = 5
    noise_epsilon: float | None = None

    def __post_init__(self) -> None:
        if self.by not in DIMENSIONS:
            raise ValueError(
                f"by: {self.by!r} is not a dimension; use one of {', '.join(DIMENSIONS)}"
            )
        if not isinstance(self.start, _dt.date) or not isinstance(self.end, _dt.date):
            raise ValueError("start and end must be dates")
        if self.start > self.end:
            raise ValueError(f"period: start {self.start} is after end {self.end}")
        if (self.end - self.start).days + 1 > MAX_DAYS:
            raise ValueError(f"period: at most {MAX_DAYS} days, got {self.start}..{self.end}")
        for name, value in self.filters.items():
            if name not in DIMENSIONS:
                raise ValueError(
                    f"filter: {name!r} is not a dimension; use one of {', '.join(DIMENSIONS)}"
                )
            if not isinstance(value, str):
                raise ValueError(f"filter: the value of {name!r} must be a string")
        object.__setattr__(self, "filters", dict(self.filters))
        _plan(self)  # unsupported combinations fail here, not at run time
        if isinstance(self.top, bool) or not isinstance(self.top, int) or self.top < 1:
            raise ValueError(f"top: must be a whole number >= 1, got {self.top!r}")
        if (
            isinstance(self.min_visitors, bool)
            or not isinstance(self.min_visitors, int)
            or self.min_visitors < 1
        ):
            raise ValueError(
                f"min_visitors: must be a whole number >= 1, got {self.min_visitors!r}"
            )
        if self.noise_epsilon is not None and not (
            isinstance(self.noise_epsilon, (int, float)) and self.noise_epsilon > 0
        ):
            raise ValueError(f"noise_epsilon: must be > 0 or None, got {self.noise_epsilon!r}")


@dataclass(frozen=True)
class _Plan:
    dim: str  # which cells to read
    page: str | None  # "" = all pages together, None = each page
    value: str | None
    key_is_page: bool  # the row key is the cell's page rather than its value
    total: tuple[str, str, str]  # (dim, page, value) of the cell holding the totals


def _plan(q: ReportQuery) -> _Plan:
    f = dict(q.filters)
    page = f.pop("page", None)
    if len(f) > 1:
        raise ValueError("filter: at most one dimension besides page can be filtered")
    other = next(iter(f.items()), None)
    if other is None:
        if page is None:
            return _Plan(q.by, "", None, False, ("", "", ""))
        if q.by == "page":
            return _Plan("page", "", page, False, ("page", "", page))
        return _Plan(q.by, page, None, False, ("page", "", page))
    dim, value = other
    if page is not None:
        if q.by not in ("page", dim):
            raise ValueError(
                f"filter: with page and {dim} both filtered, group by page or {dim}"
            )
        return _Plan(dim, page, value, q.by == "page", (dim, page, value))
    if q.by == "page":
        return _Plan(dim, None, value, True, (dim, "", value))
    if q.by == dim:
        return _Plan(dim, "", value, False, (dim, "", value))
    raise ValueError(
        f"filter: a {dim} filter works with --by page or --by {dim} (got --by {q.by}); "
        "only page filters combine with any dimension"
    )


def _noise(secret: bytes, epsilon: float, *parts: object) -> float:
    """Laplace(0, 1/epsilon) drawn from an HMAC of ``parts``: same question, same noise."""
    digest = hmac.new(secret, repr(parts).encode(), hashlib.sha256).digest()
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64 - 0.5  # in (-0.5, 0.5)
    return -math.copysign(1.0, u) * math.log(1.0 - 2.0 * abs(u)) / epsilon


def _noisy(
    values: list[int], secret: bytes | None, eps: float | None, cell: tuple[str, str, str],
    start: str, end: str,
) -> list[int]:
    """``values`` (one per metric) of the cell ``(dim, page, value)`` over ``start..end``.

    The noise is keyed on the cell and the period only, never on the query that reached
    it: ``filter page=/x`` grouped by any dimension, and the ``/x`` row of a page report,
    all read the cell ``("page", "", "/x")`` and all get the same noisy numbers.
    """
    if eps is None:
        return values
    assert secret is not None
    return [
        max(0, round(v + _noise(secret, eps, *cell, start, end, metric)))
        for v, metric in zip(values, _METRICS, strict=True)
    ]


def run_report(store: Store, query: ReportQuery, *, secret: bytes | None = None) -> dict[str, Any]:
    """The report ``query`` asks for (see the module docstring for its shape)."""
    eps = query.noise_epsilon
    if eps is not None and not secret:
        raise ValueError("noise_epsilon: noise needs the secret key (it keys the noise)")
    plan = _plan(query)
    start, end = query.start.isoformat(), query.end.isoformat()
    grouped: dict[str, list[int]] = {}
    for row in store.cell_rows(start, end, plan.dim, page=plan.page, value=plan.value):
        key = row.page if plan.key_is_page else row.value
        acc = grouped.setdefault(key, [0, 0, 0])
        acc[0] += row.pageviews
        acc[1] += row.visitors
        acc[2] += row.events
    tdim, tpage, tvalue = plan.total
    totals = [0, 0, 0]
    for row in store.cell_rows(start, end, tdim, page=tpage, value=tvalue):
        totals[0] += row.pageviews
        totals[1] += row.visitors
        totals[2] += row.events

    def cell_of(key: str) -> tuple[str, str, str]:
        # The stored cell a row is read from, whatever query shape asked for it.
        if plan.key_is_page:
            return (plan.dim, key, plan.value or "")
        return (plan.dim, plan.page or "", key)

    shown: list[dict[str, Any]] = []
    k = query.min_visitors
    n_suppressed, sup_pv, sup_vis = 0, 0, 0
    for key, values in grouped.items():
        pv, vis, ev = _noisy(values, secret, eps, cell_of(key), start, end)
        if vis < k:
            n_suppressed += 1
            sup_pv += pv
            sup_vis += vis
            continue
        shown.append({"key": key or None, "pageviews": pv, "visitors": vis, "events": ev})
    shown.sort(key=lambda r: (-r["pageviews"], -r["events"], -r["visitors"], r["key"] or ""))
    # The withheld rows' sums only when they describe a group, not one row in disguise.
    sums_shown = n_suppressed >= 2 and sup_vis >= k
    suppressed = {
        "rows": n_suppressed,
        "pageviews": sup_pv if sums_shown else None,
        "visitors": sup_vis if sums_shown else None,
    }
    tpv, tvis, tev = _noisy(totals, secret, eps, (tdim, tpage, tvalue), start, end)
    # A filter can narrow the report to fewer than k visitors (one page, one country):
    # its totals would then show exactly what the threshold withholds from its rows.
    totals_withheld = any(totals) and tvis < k
    return {
        "by": query.by,
        "from": start,
        "to": end,
        "min_visitors": k,
        "noise_epsilon": eps,
        "rows": shown[: query.top],
        "suppressed": suppressed,
        "totals": (
            {"pageviews": None, "visitors": None, "events": None}
            if totals_withheld
            else {"pageviews": tpv, "visitors": tvis, "events": tev}
        ),
        "totals_withheld": totals_withheld,
    }


def _days(start: _dt.date, end: _dt.date) -> list[str]:
    return [(start + _dt.timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


def daily_series(
    store: Store,
    start: _dt.date,
    end: _dt.date,
    *,
    min_visitors: int | None = None,
    noise_epsilon: float | None = None,
    secret: bytes | None = None,
) -> list[dict[str, Any]]:
    """Pageviews and visitors of every day in ``start..end``, zeros included.

    With ``min_visitors`` (k), a day on which something was counted but fewer than k
    visitors came reads ``None`` for both numbers, as a report's totals would: otherwise
    the days would add up to a total the report withholds. With ``noise_epsilon``, each
    day gets the noise of a one-day report's totals (the same cell, the same draw).
    """
    if start > end:
        raise ValueError(f"period: start {start} is after end {end}")
    if noise_epsilon is not None and not secret:
        raise ValueError("noise_epsilon: noise needs the secret key (it keys the noise)")
    by_day = {d: [0, 0, 0] for d in _days(start, end)}
    for row in store.cell_rows(start.isoformat(), end.isoformat(), "", page="", value=""):
        entry = by_day.get(row.day)
        if entry is not None:
            entry[0] += row.pageviews
            entry[1] += row.visitors
            entry[2] += row.events
    out: list[dict[str, Any]] = []
    for day, values in by_day.items():
        pv, vis, _ev = _noisy(values, secret, noise_epsilon, ("", "", ""), day, day)
        if min_visitors is not None and any(values) and vis < min_visitors:
            out.append({"day": day, "pageviews": None, "visitors": None})
        else:
            out.append({"day": day, "pageviews": pv, "visitors": vis})
    return out


def bot_counts(store: Store, start: _dt.date, end: _dt.date) -> dict[str, int]:
    """Requests filtered out as bots, per reason, on days ``start..end``."""
    out: dict[str, int] = {}
    for _day, reason, n in store.bot_rows(start.isoformat(), end.isoformat()):
        out[reason] = out.get(reason, 0) + n
    return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


def consent_counts(store: Store, start: _dt.date, end: _dt.date) -> dict[str, dict[str, Any]]:
    """Consent decisions per category: granted, denied, and both per source."""
    out: dict[str, dict[str, Any]] = {}
    for _day, category, granted, source, n in store.consent_rows(
        start.isoformat(), end.isoformat()
    ):
        entry = out.setdefault(category, {"granted": 0, "denied": 0, "by_source": {}})
        which = "granted" if granted else "denied"
        entry[which] += n
        per = entry["by_source"].setdefault(source, {"granted": 0, "denied": 0})
        per[which] += n
    return dict(sorted(out.items()))


def event_properties(
    store: Store, start: _dt.date, end: _dt.date, event: str, *, min_visitors: int = 5
) -> dict[str, Any]:
    """Allowlisted properties of ``event``: ``{name: {value: events}}``, small cells suppressed.

    ``suppressed`` counts the (name, value) cells with fewer than ``min_visitors`` visitors.
    """
    grouped: dict[tuple[str, str], list[int]] = {}
    for row in store.cell_rows(start.isoformat(), end.isoformat(), "prop", page="", value=None):
        ev, _, rest = row.value.partition("\x1e")
        name, _, value = rest.partition("\x1e")
        if ev != event:
            continue
        acc = grouped.setdefault((name, value), [0, 0])
        acc[0] += row.events
        acc[1] += row.visitors
    props: dict[str, dict[str, int]] = {}
    suppressed = 0
    for (name, value), (events, visitors) in sorted(grouped.items()):
        if visitors < min_visitors:
            suppressed += 1
            continue
        props.setdefault(name, {})[value] = events
    return {"event": event, "properties": props, "suppressed": suppressed}


def parse_period(
    since: str | None,
    start: str | None,
    end: str | None,
    today: _dt.date | None = None,
) -> tuple[_dt.date, _dt.date]:
    """The (start, end) days a report covers.

    ``since="7d"`` means the last seven days including today; ``start``/``end`` are ISO
    dates (``end`` defaults to today). Nothing given means the last 7 days.
    """
    today = today or _dt.datetime.now(_dt.UTC).date()
    if since is not None and (start is not None or end is not None):
        raise ValueError("period: give either --since or --from/--to, not both")
    if since is None and start is None:
        if end is not None:
            raise ValueError("period: --to needs --from")
        since = "7d"
    if since is not None:
        m = _SINCE.fullmatch(since.strip())
        if not m or not 1 <= int(m.group(1)) <= MAX_DAYS:
            raise ValueError(
                f"period: --since {since!r} is not a number of days like 7d or 30d "
                f"(1d to {MAX_DAYS}d)"
            )
        return today - _dt.timedelta(days=int(m.group(1)) - 1), today
    assert start is not None
    first = _date(start, "--from")
    last = _date(end, "--to") if end is not None else today
    if first > last:
        raise ValueError(f"period: --from {first} is after --to {last}")
    if (last - first).days + 1 > MAX_DAYS:
        raise ValueError(f"period: at most {MAX_DAYS} days, got {first}..{last}")
    return first, last


def _date(text: str, flag: str) -> _dt.date:
    try:
        return _dt.date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"period: {flag} {text!r} is not a date like 2026-01-31") from None
