"""The dashboard page rendered from hand-built report dicts: content, safety, layout rules."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

from beaconguard.reports.page import CSP, CSS, DashboardView, render_dashboard


def rep(by, rows, withheld=0):  # type: ignore[no-untyped-def]
    return {
        "by": by, "from": "2026-11-01", "to": "2026-11-07", "min_visitors": 5,
        "noise_epsilon": None,
        "rows": [{"key": k, "pageviews": p, "visitors": v, "events": 0} for k, p, v in rows],
        "suppressed": {"rows": withheld, "pageviews": 3 * withheld, "visitors": 2 * withheld},
        "totals": {"pageviews": 500, "visitors": 321, "events": 7},
    }


def view(**changes):  # type: ignore[no-untyped-def]
    values = dict(
        start="2026-11-01", end="2026-11-07", min_visitors=5, noise_epsilon=None,
        totals={"pageviews": 500, "visitors": 321, "events": 7},
        series=[{"day": f"2026-11-0{i}", "pageviews": 50 + i, "visitors": 30 + i}
                for i in range(1, 8)],
        sections=[
            ("Top pages", "page", rep("page", [("/", 300, 200), ("/blog/{slug}", 100, 60)], 3)),
            ("Referrers", "referrer", rep("referrer", [("news.example", 40, 30)])),
            ("Countries", "country", rep("country", [("JP", 90, 70), ("DE", 50, 40)], 1)),
            ("Browsers", "browser", rep("browser", [])),
            ("Devices", "device", rep("device", [("mobile", 200, 150)])),
        ],
        consent={"necessary": {"granted": 45, "denied": 0, "by_source": {}},
                 "statistics": {"granted": 30, "denied": 10, "by_source": {}},
                 "marketing": {"granted": 5, "denied": 45, "by_source": {}}},
        bots={"crawler": 40, "headless": 2},
        since="7d",
    )
    values.update(changes)
    return DashboardView(**values)  # type: ignore[arg-type]


class Checker(HTMLParser):
    """Collects tags and asserts the page is balanced enough to trust."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "rect", "line", "circle", "polyline"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):  # type: ignore[no-untyped-def]
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in self.VOID:
            return
        assert self.stack and self.stack[-1] == tag, (tag, self.stack[-5:])
        self.stack.pop()


def parse(html: str) -> Checker:
    checker = Checker()
    checker.feed(html)
    assert checker.stack == []
    return checker


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_page_shows_every_part() -> None:
    html = render_dashboard(view())
    words = text(html)
    for expected in ("Pageviews 500", "Visitors 321", "Events 7", "Bot requests filtered 42",
                     "Top pages", "/blog/{slug}", "Referrers", "news.example", "Countries", "JP",
                     "Browsers", "Nothing to show", "Devices", "mobile",
                     "statistics 30 (75%)", "marketing 5 (10%)", "crawler 40", "headless 2",
                     "3 rows with fewer than 5 visitors withheld",
                     "1 row with fewer than 5 visitors withheld",
                     "4 rows withheld on this page", "2026-11-01 to 2026-11-07"):
        assert expected in words, expected
    assert "necessary" not in words  # always granted: not a choice, not a rate
    parse(html)


def test_page_has_no_script_no_external_resource_and_a_phone_viewport() -> None:
    html = render_dashboard(view())
    assert "<script" not in html.lower()
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert 'name="viewport" content="width=device-width' in html
    assert "style=" not in html  # bars use classes, so the CSP needs no 'unsafe-inline'
    assert "@media (max-width:30rem)" in CSS


def test_csp_allows_exactly_the_page_stylesheet() -> None:
    html = render_dashboard(view())
    (css,) = re.findall(r"<style>(.*?)</style>", html, re.S)
    digest = base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()
    assert f"'sha256-{digest}'" in CSP
    assert "default-src 'none'" in CSP and "script-src" not in CSP


def test_withdrawals_are_shown_apart_from_choices() -> None:
    # 6 withdrew marketing (each then chose again: those choices are in "explicit").
    consent = {"marketing": {"granted": 5, "denied": 51, "by_source": {
        "explicit": {"granted": 5, "denied": 45}, "withdraw": {"granted": 0, "denied": 6}}}}
    words = text(render_dashboard(view(consent=consent)))
    assert "marketing 5 (10%) 45 6" in words


def test_keys_are_escaped() -> None:
    evil = '<img src=x onerror="alert(1)">'
    html = render_dashboard(view(sections=[("Top pages", "page", rep("page", [(evil, 9, 9)]))],
                                 consent={evil: {"granted": 1, "denied": 0}},
                                 bots={evil: 3}))
    assert evil not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html
    parse(html)


def test_current_period_is_marked() -> None:
    html = render_dashboard(view(since="30d"))
    assert '<a href="?since=30d" aria-current=page>' in html
    assert html.count(" aria-current=page") == 1


def test_empty_period() -> None:
    html = render_dashboard(view(series=[], sections=[], consent={}, bots={},
                                 totals={"pageviews": 0, "visitors": 0, "events": 0}))
    words = text(html)
    assert "No visits in this period" in words
    assert "No consent choices recorded" in words
    assert "No bot requests filtered" in words
    assert "0 rows withheld" in words
    parse(html)


def test_noise_is_disclosed() -> None:
    assert "epsilon 0.5" in text(render_dashboard(view(noise_epsilon=0.5)))


def test_withheld_totals_and_days_are_not_shown_as_numbers() -> None:
    html = render_dashboard(view(
        totals={"pageviews": None, "visitors": None, "events": None},
        series=[{"day": "2026-11-01", "pageviews": 40, "visitors": 9},
                {"day": "2026-11-02", "pageviews": None, "visitors": None},
                {"day": "2026-11-03", "pageviews": 30, "visitors": 7}],
    ))
    words = text(html)
    assert "Pageviews \N{EN DASH}" in words and "Visitors \N{EN DASH}" in words and "Events \N{EN DASH}" in words
    assert "Totals withheld (\N{EN DASH}): fewer than 5 visitors in this period." in words
    assert "1 day with fewer than 5 visitors is withheld from the chart" in words
    assert "2026-11-02 \N{EN DASH} \N{EN DASH}" in words  # the daily table says withheld, not 0
    svg = html[html.index('<div class="wide">'):html.index('<div class="narrow">')]
    assert "Nov 2: " not in svg  # no bar, no dot with a tooltip for the withheld day
    assert svg.count("<polyline") == 0  # two runs of one day each: dots, no joining line
    assert "1 day with too few visitors to show" in svg
