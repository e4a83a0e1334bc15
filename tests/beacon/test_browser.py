"""The beacon script in a real browser: no page load counted twice, SPA views and events.

Headless Chromium (Playwright, /usr/bin/chromium) loads a page the server counts itself
(the script must not count it again), navigates with ``history.pushState`` and sends an
event; then a page from another origin (a "CDN" without beaconguard) reports through the
pixel. After a graceful stop the store holds exactly one view of each page.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from beaconguard.stats.query import ReportQuery, run_report
from beaconguard.stats.store import open_store
from tests.conftest import SECRET
from tests.support.server import uvicorn_server

UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/126.0.0.0 Safari/537.36")


def _page_rows(url: str) -> list[dict[str, Any]]:
    """The store's page report for yesterday and today (a run may cross midnight)."""
    today = dt.datetime.now(dt.UTC).date()
    store = open_store(url)
    try:
        q = ReportQuery(start=today - dt.timedelta(days=1), end=today, by="page", min_visitors=1)
        return list(run_report(store, q)["rows"])
    finally:
        store.close()


@pytest.mark.browser
def test_script_counts_each_page_load_once(tmp_path: Path, browser: Any) -> None:
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    env = {"BEACONGUARD_SECRET_KEY": SECRET, "BEACONGUARD_STORE": url,
           "BEACONGUARD_COOKIELESS": "true", "BEACONGUARD_BEACON_PROPS": "plan",
           "BEACONGUARD_BEACON_HOSTS": "localhost",
           "BEACONGUARD_ACCESS_LOG": "", "BEACONGUARD_FLUSH_INTERVAL": "0.2"}
    # nested: the CDN page needs the app's address
    with uvicorn_server(  # noqa: SIM117
        "tests.support.beacon_app:app", env=env, ready_path="/_bg/b.js"
    ) as base:
        with uvicorn_server("tests.support.cdn_app:cdn", env={"BG_APP_ORIGIN": base},
                            ready_path="/cdn.html") as cdn_base:
            cdn_base = cdn_base.replace("127.0.0.1", "localhost")  # another origin
            # Playwright's own UA says HeadlessChrome, which is filtered out as a bot.
            context = browser.new_context(user_agent=UA)
            try:
                page = context.new_page()
                with page.expect_response(lambda r: r.url.endswith("/_bg/b.js")):
                    page.goto(base + "/page")
                page.wait_for_function("typeof window.bg === 'function'")
                timing = page.evaluate(
                    "performance.getEntriesByType('navigation')[0].serverTiming.map(t => t.name)")
                assert timing == ["bg"]
                with page.expect_request(lambda r: r.url.endswith("/_bg/e")):
                    page.click("#nav")
                with page.expect_request(lambda r: r.url.endswith("/_bg/e")):
                    page.click("#ev")
                with page.expect_response(lambda r: "/_bg/b.gif" in r.url) as pixel:
                    page.goto(cdn_base + "/cdn.html")
                assert pixel.value.status == 200
                page.wait_for_timeout(300)
            finally:
                context.close()
    rows = {r["key"]: (r["pageviews"], r["events"]) for r in _page_rows(url)}
    # the event was sent after the pushState, so from /spa/next
    assert rows == {"/page": (1, 0), "/spa/next": (1, 1), "/cdn.html": (1, 0)}


#: Makes the page believe it is being prerendered until the test "activates" it, as Chrome
#: does when a prerendered page is shown (document.prerendering, then prerenderingchange).
FAKE_PRERENDER = """
(() => {
  let prerendering = true;
  Object.defineProperty(Document.prototype, "prerendering", {get: () => prerendering});
  window.__activate = () => {
    prerendering = false;
    document.dispatchEvent(new Event("prerenderingchange"));
  };
})();
"""


@pytest.mark.browser
def test_a_prerendered_page_is_counted_when_shown(tmp_path: Path, browser: Any) -> None:
    """Beacons sent while prerendering would carry Sec-Purpose and not count; the script waits
    for activation instead, so a page shown counts once and a page never shown not at all."""
    url = f"sqlite:///{tmp_path / 'stats.db'}"
    env = {"BEACONGUARD_SECRET_KEY": SECRET, "BEACONGUARD_STORE": url,
           "BEACONGUARD_COOKIELESS": "true", "BEACONGUARD_BEACON_HOSTS": "localhost",
           "BEACONGUARD_ACCESS_LOG": "", "BEACONGUARD_FLUSH_INTERVAL": "0.2"}
    sent: list[str] = []
    with uvicorn_server(  # noqa: SIM117
        "tests.support.beacon_app:app", env=env, ready_path="/_bg/b.js"
    ) as base:
        with uvicorn_server("tests.support.cdn_app:cdn", env={"BG_APP_ORIGIN": base},
                            ready_path="/cdn.html") as cdn_base:
            cdn_base = cdn_base.replace("127.0.0.1", "localhost")
            context = browser.new_context(user_agent=UA)
            context.add_init_script(FAKE_PRERENDER)
            context.on("request", lambda r: sent.append(r.url) if "/_bg/b.gif" in r.url else None)
            try:
                page = context.new_page()
                with page.expect_response(lambda r: r.url.endswith("/_bg/b.js")):
                    page.goto(cdn_base + "/cdn.html")
                page.wait_for_function("typeof window.bg === 'function'")
                page.wait_for_timeout(300)
                assert sent == []  # prepared, not shown: nothing sent
                with page.expect_response(lambda r: "/_bg/b.gif" in r.url) as pixel:
                    page.evaluate("window.__activate()")
                assert pixel.value.status == 200
                page.wait_for_timeout(300)
                assert len(sent) == 1
            finally:
                context.close()
    rows = {r["key"]: r["pageviews"] for r in _page_rows(url)}
    assert rows == {"/cdn.html": 1}
