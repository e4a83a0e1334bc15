"""Stores for the shared contract suite: every backend passes the same tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beaconguard.stats.store import Store, open_store

BACKENDS = ["memory", "sqlite"]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = request.param
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'stats.db'}"
    else:
        redis_url = request.getfixturevalue("redis_url")
        yield redis_url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()
