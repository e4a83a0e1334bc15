"""A session-scoped headless Chromium (Playwright driving /usr/bin/chromium).

``tests/conftest.py`` imports the fixtures (``browser``, ``browser_context``) and the
ordering hook below, so any test can ask for them; mark such tests ``@pytest.mark.browser``.
Nothing is downloaded: ``playwright install`` is never run; the system Chromium is used.

Playwright's sync API keeps its asyncio loop marked as running in the main thread for as
long as it is open, so ``asyncio.run``/``anyio.run`` fail in any test that runs after the
first browser test. The hook therefore moves every ``browser``-marked test to the end of
the run, where one Chromium serves them all.
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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run browser tests last (stable order otherwise): see the module docstring."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (skipped, so failed under CI, if unavailable)."""
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
