"""End to end in a real browser: consent in the banner, browse, then read the dashboard.

Chromium (Playwright, /usr/bin/chromium) against the demo served by a real uvicorn. The
dashboard is behind the report token, which the browser sends as the HTTP Basic password.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.reports.conftest import TOKEN
from tests.support.server import uvicorn_server

pytestmark = pytest.mark.browser

# Headless Chromium says "HeadlessChrome" in its User-Agent, which bot filtering rightly
# drops; the test browses as the desktop Chrome a visitor would use.
DESKTOP_CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
PAGES = ("/products/1", "/products/2", "/blog/privacy-by-default", "/search?q=lamp")


def card_rows(page: Any, heading: str) -> dict[str, str]:
    """``{key: visitors}`` of the dashboard card titled ``heading``."""
    section = page.locator("section", has=page.get_by_role("heading", name=heading))
    rows: dict[str, str] = {}
    for row in section.locator("tbody tr").all():
        cells = row.locator("td").all_inner_texts()
        rows[cells[0]] = cells[1]
    return rows


def test_consent_browse_and_see_the_visits_on_the_dashboard(
    browser: Any, tmp_path: Path
) -> None:
    env = {
        "BEACONGUARD_DEMO_VAR": str(tmp_path / "var"),
        "BEACONGUARD_STORE": f"sqlite:///{tmp_path / 'stats.db'}",
        "BEACONGUARD_ACCESS_LOG": "",
        "BEACONGUARD_MIN_VISITORS": "1",
        "BEACONGUARD_FLUSH_INTERVAL": "0.2",
        "BEACONGUARD_REPORT_TOKEN": TOKEN,
        "DEMO_PIXEL_ORIGIN": "http://127.0.0.1:9",  # nothing listens: no real third party
    }
    with uvicorn_server("demo_site.app:app", env=env) as base:
        context = browser.new_context(
            http_credentials={"username": "owner", "password": TOKEN}, user_agent=DESKTOP_CHROME
        )
        context.set_default_timeout(15_000)
        try:
            page = context.new_page()
            page.goto(base + "/")
            # No decision yet: the banner asks, and no consent cookie exists.
            page.locator("#bg-banner").wait_for(state="visible")
            names = {c["name"] for c in context.cookies()}
            assert "bg_consent" not in names and "_ga" not in names and "_fbp" not in names

            page.click("#bg-choose")
            page.check("#bg-cat-statistics")
            with page.expect_response(lambda r: "/_bg/consent" in r.url) as answer:
                page.click("#bg-save")
            assert answer.value.status == 200
            page.locator("#bg-banner").wait_for(state="hidden")
            assert "bg_consent" in {c["name"] for c in context.cookies()}

            for path in PAGES:
                page.goto(base + path)
                assert page.locator("h1").first.is_visible()
            # Statistics granted, marketing not: the demo's cookies follow that choice.
            names = {c["name"] for c in context.cookies()}
            assert "_ga" in names and "_fbp" not in names, names

            # The aggregator flushes every 0.2 s; reload (bounded) until the visits appear.
            deadline = time.monotonic() + 20
            while True:
                response = page.goto(base + "/stats/?since=1d")
                assert response is not None and response.status == 200
                pages = card_rows(page, "Top pages")
                if len(pages) >= 4 or time.monotonic() > deadline:
                    break
                time.sleep(0.3)

            assert "/" in pages, pages
            assert any(key.startswith("/products/") for key in pages), pages
            assert any(key.startswith("/blog/") for key in pages), pages
            assert "/search" in pages, pages
            totals = page.locator("ul.totals").inner_text()
            views = int(re.search(r"Pageviews\s+([\d,]+)", totals).group(1).replace(",", ""))  # type: ignore[union-attr]
            assert views >= 1 + len(PAGES)
            consent = card_rows(page, "Consent choices")
            assert consent.get("statistics", "").startswith("1 (100%)"), consent
            assert consent.get("marketing", "").startswith("0 (0%)"), consent
            assert "Chrome" in card_rows(page, "Browsers")
            assert "desktop" in card_rows(page, "Devices")
            assert (page.locator("svg.chart title").first.text_content() or "").startswith("Daily")
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
            assert (tmp_path / "dashboard.png").stat().st_size > 10_000

            # Phone width: one column, nothing wider than the screen.
            page.set_viewport_size({"width": 375, "height": 800})
            page.reload()
            overflow = page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth"
            )
            assert overflow <= 0, f"page is {overflow}px wider than a phone screen"
            page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
        finally:
            context.close()

        # Without the token the dashboard is not shown.
        anonymous = browser.new_context()
        try:
            refused = anonymous.request.get(base + "/stats/")
            assert refused.status == 401
            assert "Top pages" not in refused.text()
        finally:
            anonymous.close()
