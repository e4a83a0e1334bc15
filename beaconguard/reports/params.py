"""Report parameters, the same for the CLI and the JSON API.

Both take ``by``, ``filter`` (``dimension=value``, repeatable), ``top``, ``min_visitors``
and a period (``since`` or ``from``/``to``) and turn them into one
:class:`~beaconguard.stats.query.ReportQuery`. Every mistake is a ``ValueError`` with one
sentence a person can act on; the CLI prints it, the API answers 400 with it.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Iterable, Sequence

from beaconguard.settings import Settings
from beaconguard.stats.query import DIMENSIONS, ReportQuery, parse_period

#: The most rows one report returns: enough for any table, small enough to stay cheap.
MAX_TOP = 1000
#: Query-string names the API understands (``min-visitors`` is accepted as a spelling).
API_PARAMS = ("by", "filter", "top", "min_visitors", "since", "from", "to")


def parse_filters(items: Iterable[str]) -> dict[str, str]:
    """``["page=/x", "country=JP"]`` as ``{"page": "/x", "country": "JP"}``."""
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"filter: expected DIM=VALUE, e.g. page=/pricing, got {item!r}")
        if name not in DIMENSIONS:
            raise ValueError(
                f"filter: {name!r} is not a dimension; use one of {', '.join(DIMENSIONS)}"
            )
        if name in out:
            raise ValueError(f"filter: {name} is given twice")
        out[name] = value
    return out


def _whole(name: str, text: str | int) -> int:
    if isinstance(text, int):
        return text
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"{name}: expected a whole number, got {text!r}") from None


def build_query(
    *,
    by: str = "page",
    filters: Iterable[str] = (),
    top: str | int = 20,
    min_visitors: str | int,
    since: str | None = None,
    start: str | None = None,
    end: str | None = None,
    noise_epsilon: float | None = None,
    floor: int = 1,
    today: _dt.date | None = None,
) -> ReportQuery:
    """A validated query; ``floor`` is the smallest k a caller may ask for."""
    if by not in DIMENSIONS:
        raise ValueError(f"by: {by!r} is not a dimension; use one of {', '.join(DIMENSIONS)}")
    n_top = _whole("top", top)
    if not 1 <= n_top <= MAX_TOP:
        raise ValueError(f"top: must be from 1 to {MAX_TOP}, got {n_top}")
    k = _whole("min_visitors", min_visitors)
    if k < floor:
        raise ValueError(
            f"min_visitors: must be at least {floor}, the threshold this site is configured with"
        )
    first, last = parse_period(since, start, end, today=today)
    return ReportQuery(
        start=first,
        end=last,
        by=by,
        filters=parse_filters(filters),
        top=n_top,
        min_visitors=k,
        noise_epsilon=noise_epsilon,
    )


def query_from_params(
    params: Sequence[tuple[str, str]], settings: Settings, *, today: _dt.date | None = None
) -> ReportQuery:
    """The API's query string as a query; k never goes below ``settings.min_visitors``."""
    single: dict[str, str] = {}
    filters: list[str] = []
    for raw_name, value in params:
        name = raw_name.replace("-", "_")
        if name not in API_PARAMS:
            raise ValueError(
                f"unknown parameter {raw_name[:40]!r}; use {', '.join(API_PARAMS)}"
            )
        if name == "filter":
            filters.append(value)
        elif name in single:
            raise ValueError(f"{name}: given more than once")
        else:
            single[name] = value
    try:
        return _api_query(single, filters, settings, today)
    except ValueError as exc:
        raise ValueError(without_dashes(str(exc))) from None


_FLAG_VALUE = re.compile(r"--(by|top|min-visitors) (\S+?)(?=[,;)]|\s|$)")
_FLAG = re.compile(r"--([a-z][a-z-]*)")


def without_dashes(message: str) -> str:
    """An error in the words of a query string: ``by=page`` and ``since``, not CLI flags.

    The query layer and the period parser speak in CLI flags (``--by page``,
    ``--from/--to``); the API and the dashboard have parameters without dashes.
    """
    message = _FLAG_VALUE.sub(lambda m: f"{m.group(1).replace('-', '_')}={m.group(2)}", message)
    return _FLAG.sub(lambda m: m.group(1).replace("-", "_"), message)


def _api_query(
    single: dict[str, str], filters: list[str], settings: Settings, today: _dt.date | None
) -> ReportQuery:
    return build_query(
        by=single.get("by", "page"),
        filters=filters,
        top=single.get("top", "20"),
        min_visitors=single.get("min_visitors", str(settings.min_visitors)),
        since=single.get("since"),
        start=single.get("from"),
        end=single.get("to"),
        noise_epsilon=settings.noise_epsilon,
        floor=settings.min_visitors,
        today=today,
    )
