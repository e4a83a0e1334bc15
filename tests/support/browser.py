"""A module-scoped headless Chromium (Playwright driving /usr/bin/chromium).

Use it from a conftest with ``from tests.support.browser import browser, browser_context``.
Nothing is downloaded: ``playwright install`` is never run; the system Chromium is used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# Module scope, not session: Playwright's sync API keeps an event loop running on the main
# thread while it is open, which breaks every later test that calls ``anyio.run`` or
# ``asyncio.run``; and two modules importing a session fixture would start it twice.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (skipped, so failed under CI, if unavailable)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def browser_context(browser: Any) -> Iterator[Any]:
    """A fresh context (own cookies and storage) per test."""
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()
