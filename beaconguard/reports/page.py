"""The dashboard's HTML, rendered on the server from report dicts.

One self-contained page: inline SVG chart, one ``<style>`` block whose hash goes into the
Content-Security-Policy, no script, no external request, no cookie. Bars are ``<span>``s
sized by class (5 % steps) rather than by ``style=`` attributes, so the policy can stay
strict. The layout is a grid of cards that collapses to one column on a phone.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from beaconguard.consent.categories import NECESSARY
from beaconguard.reports.render import key_label
from beaconguard.reports.svg import daily_chart

Report = Mapping[str, Any]

#: Period links offered above the chart (value of ``since``, label).
PERIODS = (("7d", "7 days"), ("30d", "30 days"), ("90d", "90 days"))

_BAR_CLASSES = "".join(f".w{i}{{width:{i * 5}%}}" for i in range(21))

CSS = (
    "*{box-sizing:border-box}"
    "body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1b1b1b;background:#f6f6f3}"
    "header,main,footer{max-width:72rem;margin:0 auto;padding:.75rem 1rem}"
    "h1{font-size:1.4rem;margin:.2rem 0}h2{font-size:1.05rem;margin:0 0 .5rem}"
    "nav a{display:inline-block;margin:0 .4rem .3rem 0;padding:.15rem .6rem;border-radius:1rem;"
    "border:1px solid #9aa;color:#124;text-decoration:none}"
    "nav a[aria-current]{background:#124;color:#fff;border-color:#124}"
    ".totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem;"
    "margin:.5rem 0 1rem;padding:0;list-style:none}"
    ".totals li{background:#fff;border-radius:.5rem;padding:.6rem .8rem;"
    "box-shadow:0 1px 2px #0002}"
    ".totals b{display:block;font-size:1.5rem}"
    ".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(24rem,100%),1fr));"
    "gap:1rem}"
    "section,figure{background:#fff;border-radius:.5rem;padding:.8rem;margin:0;"
    "box-shadow:0 1px 2px #0002;min-width:0}"
    "figure{margin-bottom:1rem}svg.chart{width:100%;height:auto;display:block}"
    "table{width:100%;border-collapse:collapse;font-variant-numeric:tabular-nums}"
    "th,td{padding:.25rem .3rem;text-align:right;vertical-align:top;white-space:nowrap;"
    "width:1%}"
    "th{font-weight:600;border-bottom:1px solid #ccc}"
    "th:first-child,td:first-child{text-align:left;white-space:normal;width:auto;"
    "overflow-wrap:break-word;word-break:break-word}"
    "td.k{position:relative}"
    "td.k .bar{position:absolute;left:0;top:.15rem;bottom:.15rem;background:#dce8f6;"
    "border-radius:3px}"
    "td.k .label{position:relative;padding-left:.25rem}"
    ".note{color:#555;font-size:.85rem;margin:.4rem 0 0}"
    ".empty{color:#555}"
    "details{margin-top:.5rem}summary{cursor:pointer}"
    "footer{color:#555;font-size:.85rem}"
    "@media (max-width:30rem){body{font-size:14px}th,td{padding:.25rem .15rem}"
    "th{font-size:.8rem}section,figure{padding:.6rem}}"
    "@media (max-width:40rem){.wide{display:none}}"
    "@media (min-width:40.01rem){.narrow{display:none}}" + _BAR_CLASSES
)

#: The ``style-src`` source that allows exactly :data:`CSS` and nothing else.
CSS_HASH = "'sha256-" + base64.b64encode(hashlib.sha256(CSS.encode()).digest()).decode() + "'"

#: Content-Security-Policy for the page: no script at all, only our own stylesheet.
CSP = (
    f"default-src 'none'; style-src {CSS_HASH}; img-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


@dataclass(frozen=True)
class DashboardView:
    """Everything the page shows, already computed (and already k-thresholded)."""

    start: str
    end: str
    min_visitors: int
    noise_epsilon: float | None
    totals: Mapping[str, Any]
    series: Sequence[Mapping[str, Any]]
    #: (heading, dimension name, report) per table card, in page order.
    sections: Sequence[tuple[str, str, Report]]
    consent: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    bots: Mapping[str, int] = field(default_factory=dict)
    since: str | None = None
    title: str = "Statistics"


#: How a withheld number (None: fewer than k visitors) reads on the page.
WITHHELD = "\N{EN DASH}"


def _n(value: Any) -> str:
    if value is None:
        return WITHHELD
    try:
        return f"{int(value or 0):,}"
    except (TypeError, ValueError):
        return "0"


def _bar_class(value: float, maximum: float) -> str:
    if maximum <= 0 or value <= 0:
        return "w0"
    return f"w{max(1, round(min(value / maximum, 1.0) * 20))}"


def _withheld(report: Report) -> int:
    return int((report.get("suppressed") or {}).get("rows", 0) or 0)


def _key_cell(label: str, value: float, maximum: float) -> str:
    # The bar sits behind the label (like a filled row), so narrow cards keep their width
    # for the words; it is decoration, the numbers are in their own cells.
    return (
        f'<td class="k"><span class="bar {_bar_class(value, maximum)}" aria-hidden="true">'
        f'</span><span class="label">{escape(label)}</span></td>'
    )


def _table_card(heading: str, dimension: str, report: Report) -> str:
    rows = list(report.get("rows", ()))
    hid = "h-" + dimension.replace("_", "-")
    parts = [f'<section aria-labelledby="{hid}"><h2 id="{hid}">{escape(heading)}</h2>']
    if rows:
        top = max(int(r.get("visitors", 0) or 0) for r in rows)
        events = any(int(r.get("events", 0) or 0) for r in rows)
        parts.append(
            f'<table><thead><tr><th scope="col">{escape(dimension)}</th>'
            '<th scope="col">visitors</th><th scope="col">pageviews</th>'
            + ('<th scope="col">events</th>' if events else "")
            + "</tr></thead><tbody>"
        )
        for r in rows:
            visitors = int(r.get("visitors", 0) or 0)
            parts.append(
                f"<tr>{_key_cell(key_label(r.get('key'), dimension), visitors, top)}"
                f"<td>{_n(visitors)}</td><td>{_n(r.get('pageviews'))}</td>"
                + (f"<td>{_n(r.get('events'))}</td>" if events else "")
                + "</tr>"
            )
        parts.append("</tbody></table>")
    else:
        parts.append('<p class="empty">Nothing to show for this period.</p>')
    withheld = _withheld(report)
    if withheld:
        parts.append(
            f'<p class="note">{withheld} row{"s" if withheld != 1 else ""} with fewer than '
            f"{report.get('min_visitors')} visitors withheld.</p>"
        )
    parts.append("</section>")
    return "".join(parts)


def _consent_card(consent: Mapping[str, Mapping[str, Any]]) -> str:
    parts = ['<section aria-labelledby="h-consent"><h2 id="h-consent">Consent choices</h2>']
    # "necessary" is not a choice (always granted): its 100 % would say nothing.
    consent = {c: v for c, v in consent.items() if c != NECESSARY}
    if not consent:
        parts.append('<p class="empty">No consent choices recorded in this period.</p>')
    else:
        parts.append(
            '<table><thead><tr><th scope="col">category</th><th scope="col">granted</th>'
            '<th scope="col">denied</th><th scope="col">withdrawn</th></tr></thead><tbody>'
        )
        for category in sorted(consent):
            c = consent[category]
            # A withdrawal is followed by the visitor's new choice: shown apart, so the
            # rate is over choices only and nobody's "no" counts twice.
            w = (c.get("by_source") or {}).get("withdraw") or {}
            withdrawn = int(w.get("denied", 0) or 0)
            granted = int(c.get("granted", 0) or 0) - int(w.get("granted", 0) or 0)
            denied = int(c.get("denied", 0) or 0) - withdrawn
            total = granted + denied
            rate = f"{granted / total:.0%}" if total else "no choices"
            parts.append(
                f"<tr>{_key_cell(str(category), granted, total)}"
                f"<td>{_n(granted)} ({rate})</td><td>{_n(denied)}</td><td>{_n(withdrawn)}</td></tr>"
            )
        parts.append("</tbody></table>")
        parts.append('<p class="note">Share of choices that granted each category.</p>')
    parts.append("</section>")
    return "".join(parts)


def _bots_card(bots: Mapping[str, int]) -> str:
    parts = ['<section aria-labelledby="h-bots"><h2 id="h-bots">Filtered as bots</h2>']
    items = sorted(((str(k), int(v or 0)) for k, v in bots.items()), key=lambda kv: -kv[1])
    if not items or not any(v for _, v in items):
        parts.append('<p class="empty">No bot requests filtered in this period.</p>')
    else:
        top = items[0][1]
        parts.append(
            '<table><thead><tr><th scope="col">reason</th><th scope="col">requests</th>'
            "</tr></thead><tbody>"
        )
        for reason, count in items:
            parts.append(f"<tr>{_key_cell(reason, count, top)}<td>{_n(count)}</td></tr>")
        parts.append("</tbody></table>")
        parts.append('<p class="note">Not counted in any number above.</p>')
    parts.append("</section>")
    return "".join(parts)


def _series_table(series: Sequence[Mapping[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(p.get('day', '')))}</td><td>{_n(p.get('pageviews'))}</td>"
        f"<td>{_n(p.get('visitors'))}</td></tr>"
        for p in series
    )
    return (
        "<details><summary>Daily numbers as a table</summary><table><thead><tr>"
        '<th scope="col">day</th><th scope="col">pageviews</th><th scope="col">visitors</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></details>"
    )


def render_dashboard(view: DashboardView) -> str:
    """The whole dashboard page as HTML."""
    nav = "".join(
        f'<a href="?since={value}"{" aria-current=page" if view.since == value else ""}>'
        f"{label}</a>"
        for value, label in PERIODS
    )
    totals = view.totals
    totals_withheld = any(totals.get(m) is None for m in ("pageviews", "visitors", "events"))
    hidden_days = sum(1 for p in view.series if p.get("visitors") is None)
    notes = ""
    if totals_withheld:
        notes += (
            f'<p class="note">Totals withheld ({WITHHELD}): fewer than {view.min_visitors} '
            "visitors in this period.</p>"
        )
    if hidden_days:
        notes += (
            f'<p class="note">{hidden_days} day{"" if hidden_days == 1 else "s"} with fewer '
            f"than {view.min_visitors} visitors {'is' if hidden_days == 1 else 'are'} "
            f"withheld from the chart ({WITHHELD} in its table).</p>"
        )
    bot_total = sum(int(v or 0) for v in view.bots.values())
    withheld = sum(_withheld(report) for _, _, report in view.sections)
    cards = "".join(_table_card(h, d, r) for h, d, r in view.sections)
    noise = (
        f" Counts carry random noise (epsilon {view.noise_epsilon})."
        if view.noise_epsilon is not None
        else ""
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(view.title)} · beaconguard</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(view.title)}</h1>"
        f'<p class="note">{escape(view.start)} to {escape(view.end)} (UTC days)</p>'
        f'<nav aria-label="Period">{nav}</nav></header><main>'
        '<ul class="totals" aria-label="Totals">'
        f"<li>Pageviews<b>{_n(totals.get('pageviews'))}</b></li>"
        f"<li>Visitors<b>{_n(totals.get('visitors'))}</b></li>"
        f"<li>Events<b>{_n(totals.get('events'))}</b></li>"
        f"<li>Bot requests filtered<b>{_n(bot_total)}</b></li></ul>{notes}"
        # Two drawings of one chart, the CSS shows one: SVG text scales with its viewBox,
        # so a phone gets a narrower box whose labels stay readable.
        '<figure><div class="wide">'
        f"{daily_chart(view.series, id_prefix='daily-wide')}</div>"
        '<div class="narrow">'
        f"{daily_chart(view.series, width=360, height=240, id_prefix='daily-narrow')}</div>"
        f"{_series_table(view.series)}</figure>"
        f'<div class="grid">{cards}{_consent_card(view.consent)}{_bots_card(view.bots)}</div>'
        "</main><footer><p>"
        f"Rows with fewer than {view.min_visitors} "
        f"visitor{'' if view.min_visitors == 1 else 's'} are withheld (k-threshold); "
        f"{withheld} row{'s' if withheld != 1 else ''} withheld on this page.{noise} "
        "Visitors are unique per day, counted without storing any identifier; over several "
        "days their daily numbers are added up, since nothing links one day to the next."
        "</p></footer>"
        "</body></html>"
    )
