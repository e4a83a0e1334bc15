"""The demo in a real browser (Playwright driving /usr/bin/chromium, headless).

Without consent the third-party pixel is never requested and neither ``_ga`` nor ``_fbp``
reaches the browser; after "accept all" both appear and the pixel loads; after
withdrawing they are gone again.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import uvicorn_server

pytestmark = pytest.mark.browser


def pixel_hits(pixel: str) -> dict[str, int]:
    with urllib.request.urlopen(pixel + "/hits", timeout=5) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The demo site and its second (pixel) origin, both on free loopback ports."""
    var: Path = tmp_path_factory.mktemp("demo-var")
    with uvicorn_server("demo_site.pixel:app", args=("--lifespan", "off")) as pixel:
        env = {
            "BEACONGUARD_DEMO_VAR": str(var),
            "DEMO_PIXEL_ORIGIN": pixel,
            "BEACONGUARD_STORE": "memory://",
            "BEACONGUARD_CONSENT_CLEAR_SITE_DATA": "true",
        }
        with uvicorn_server("demo_site.app:app", env=env) as site:
            yield site, pixel


def cookie_names(page: Any) -> dict[str, set[str]]:
    """What scripts see (``document.cookie``) and what the browser holds (HttpOnly too)."""
    script = {c.split("=", 1)[0].strip() for c in page.evaluate("document.cookie").split(";")
              if c.strip()}
    held = {c["name"] for c in page.context.cookies()}
    return {"script": script, "held": held}


def settle(page: Any) -> None:
    page.wait_for_load_state("networkidle")


def test_cookies_and_pixel_follow_consent(demo, browser_context):
    site, pixel = demo
    page = browser_context.new_page()
    start = pixel_hits(pixel)["total"]

    # 1. No consent: banner shown, no tracking cookie, the pixel never requested.
    page.goto(site + "/")
    banner = page.locator("#bg-banner")
    banner.wait_for(state="visible")
    settle(page)
    page.goto(site + "/products/1")  # a second page view, still without consent
    banner.wait_for(state="visible")
    settle(page)
    names = cookie_names(page)
    assert not {"_ga", "_fbp"} & (names["script"] | names["held"])
    assert pixel_hits(pixel)["total"] == start
    assert page.evaluate("document.documentElement.dataset.stats") is None

    # 2. Accept all: the page reloads (its CSP must let the pixel origin in), the app's
    #    cookies reach the browser and both the tagged and the hard-coded pixel load.
    with page.expect_navigation():
        page.click("#bg-accept")
    settle(page)
    names = cookie_names(page)
    assert {"_ga", "_fbp"} <= names["script"]
    hits = pixel_hits(pixel)
    assert hits.get("tag", 0) >= 1 and hits.get("img", 0) >= 1
    assert page.evaluate("document.documentElement.dataset.stats") == "on"
    assert banner.is_hidden()

    # 3. Withdraw through the reopen link: "reject all" after a grant is "withdraw
    #    everything" (DELETE, with Clear-Site-Data here), then the rejection is recorded.
    page.click("[data-consent-open]")
    banner.wait_for(state="visible")
    seen: list[Any] = []
    page.on("response", lambda r: r.url.endswith("/_bg/consent") and seen.append(r))
    with page.expect_navigation():
        page.click("#bg-reject")
    settle(page)
    calls = [(r.request.method, r.status, r.header_value("clear-site-data")) for r in seen]
    assert calls[:2] == [("DELETE", 200, '"cookies"'), ("POST", 200, None)]
    names = cookie_names(page)
    assert not {"_ga", "_fbp"} & (names["script"] | names["held"])
    assert "bg_consent" in names["held"] and "bg_consent" not in names["script"]  # HttpOnly
    before = pixel_hits(pixel)["total"]
    page.goto(site + "/blog/privacy-by-default")
    settle(page)
    assert pixel_hits(pixel)["total"] == before
    names = cookie_names(page)
    assert not {"_ga", "_fbp"} & (names["script"] | names["held"])


def test_per_category_choice_activates_tags_without_reload(demo, browser_context):
    site, pixel = demo
    page = browser_context.new_page()
    page.goto(site + "/")
    page.locator("#bg-banner").wait_for(state="visible")
    settle(page)
    before = pixel_hits(pixel)["total"]
    page.evaluate("window.__sameDocument = true")
    page.click("#bg-choose")
    page.check("#bg-cat-statistics")
    page.click("#bg-save")
    page.wait_for_function("document.documentElement.dataset.stats === 'on'")
    # Same document: the statistics tag ran in place.
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#bg-banner").is_hidden()
    page.goto(site + "/search")
    settle(page)
    names = cookie_names(page)
    assert "_ga" in names["script"] and "_fbp" not in names["held"]
    assert pixel_hits(pixel)["total"] == before


def test_without_the_csp_the_hard_coded_pixel_would_load(browser_context, tmp_path: Path):
    # The control for the tests above: the same demo with csp_mode=off lets the hard-coded
    # pixel through (the tagged one still waits for consent), so "never requested" above
    # is the gate's doing.
    with uvicorn_server("demo_site.pixel:app", args=("--lifespan", "off")) as pixel:
        env = {"BEACONGUARD_DEMO_VAR": str(tmp_path), "DEMO_PIXEL_ORIGIN": pixel,
               "BEACONGUARD_STORE": "memory://", "BEACONGUARD_CSP_MODE": "off"}
        with uvicorn_server("demo_site.app:app", env=env) as site:
            page = browser_context.new_page()
            page.goto(site + "/")
            settle(page)
            hits = pixel_hits(pixel)
            assert hits.get("img", 0) >= 1 and hits.get("tag", 0) == 0
            names = cookie_names(page)
            assert not {"_ga", "_fbp"} & names["held"]


def test_banner_shows_when_the_state_arrives_before_its_script(demo, browser_context):
    # On a slow network consent.js can have its answer (and fire "bg:consent") before the
    # deferred banner.js has even downloaded; the banner must still ask. Holding banner.js
    # back until the state has arrived makes that order certain.
    site, _ = demo
    page = browser_context.new_page()
    held: list[Any] = []
    page.route("**/_bg/static/banner.js", lambda route: held.append(route))
    with page.expect_response(lambda r: r.url.endswith("/_bg/consent")):
        page.goto(site + "/", wait_until="commit")
    page.wait_for_function("window.bgConsent !== undefined")
    assert len(held) == 1
    held[0].continue_()
    page.locator("#bg-banner").wait_for(state="visible")


def test_reopened_banner_closes_on_escape_and_gives_focus_back(demo, browser_context):
    site, _ = demo
    page = browser_context.new_page()
    page.goto(site + "/")
    banner = page.locator("#bg-banner")
    banner.wait_for(state="visible")
    settle(page)
    # The first-visit banner waits for an answer: Escape does not dismiss it.
    page.keyboard.press("Escape")
    assert banner.is_visible()
    page.click("#bg-choose")
    page.click("#bg-save")  # necessary only, in place (nothing to reload)
    banner.wait_for(state="hidden")

    page.focus("[data-consent-open]")
    page.keyboard.press("Enter")
    banner.wait_for(state="visible")
    assert page.evaluate("document.activeElement.id") == "bg-title"
    page.keyboard.press("Escape")
    banner.wait_for(state="hidden")
    assert page.evaluate("document.activeElement.hasAttribute('data-consent-open')")


@pytest.mark.parametrize("failure", ["500", "network"])
def test_a_failed_save_shows_a_message_not_an_error(demo, browser_context, failure):
    site, _ = demo
    page = browser_context.new_page()
    errors: list[Any] = []
    page.on("pageerror", lambda exc: errors.append(exc))

    def fail_posts(route: Any) -> None:
        if route.request.method == "GET":
            route.continue_()
        elif failure == "500":
            route.fulfill(status=500, content_type="application/json", body='{"error": "x"}')
        else:
            route.abort()

    page.route("**/_bg/consent", fail_posts)
    page.goto(site + "/")
    banner = page.locator("#bg-banner")
    banner.wait_for(state="visible")
    settle(page)
    page.click("#bg-accept")
    message = page.locator("#bg-error")
    message.wait_for(state="visible")
    assert "could not be saved" in message.inner_text()
    assert banner.is_visible()
    settle(page)
    assert errors == []
    assert "bg_consent" not in {c["name"] for c in page.context.cookies()}
    # The next attempt, once the server answers, goes through and clears the message.
    page.unroute("**/_bg/consent")
    with page.expect_navigation():
        page.click("#bg-accept")
    settle(page)
    assert banner.is_hidden()
