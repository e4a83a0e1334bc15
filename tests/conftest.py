"""Suite-wide fixtures and the CI rule that a skipped test is a failed test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from beaconguard import Settings
from tests.support.browser import (  # noqa: F401  (shared fixtures and their ordering hook)
    browser,
    browser_context,
    pytest_collection_modifyitems,
)

SECRET = "test-secret-key-0123456789abcdef"
NO_SKIP = os.environ.get("BEACONGUARD_NO_SKIP") == "1"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    # CI installs every dependency, so a skip there means a test silently did not run.
    if NO_SKIP and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under BEACONGUARD_NO_SKIP=1: {report.longrepr}"


@pytest.fixture
def make_settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Settings for a test: a secret, a memory store, everything else overridable."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {"secret_key": SECRET, "store": "memory://"}
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make
