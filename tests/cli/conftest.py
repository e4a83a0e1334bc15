"""CLI tests start from a clean environment: no BEACONGUARD_* variables but the secret."""

from __future__ import annotations

import pytest

from tests.conftest import SECRET


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("BEACONGUARD_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("BEACONGUARD_SECRET_KEY", SECRET)
