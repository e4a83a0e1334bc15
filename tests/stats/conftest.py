"""Stores for the shared contract suite: every backend passes the same tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from beaconguard.stats.store import Store, open_store
from beaconguard.stats.store import redis as redis_store
from tests.support.redis_server import redis_available, redis_server

BACKENDS = [
    "memory",
    "sqlite",
    pytest.param("redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    kind = request.param
    if kind == "memory":
        yield "memory://"
    elif kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'stats.db'}"
    else:
        redis_url = request.getfixturevalue("redis_url")
        # Redis's HyperLogLog undercounts by one when two of a handful of visitors share a
        # register (about 1 in 1,000 per small cell), and which ones do depends on the
        # random day key: a deterministic sequence of day keys makes every run count alike.
        monkeypatch = request.getfixturevalue("monkeypatch")
        monkeypatch.setattr(redis_store, "secrets", _SeededSecrets())
        yield redis_url


class _SeededSecrets:
    """Stands in for the ``secrets`` module: distinct day keys, the same in every run."""

    def __init__(self) -> None:
        self._n = 0

    def token_bytes(self, n: int) -> bytes:
        self._n += 1
        return hashlib.sha256(b"test day key %d" % self._n).digest()[:n]


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    s = open_store(store_url)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session")
def redis_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One real redis-server for the session."""
    if not redis_available():
        pytest.skip("redis-server is not installed")
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def redis_url(redis_server_url: str) -> Iterator[str]:
    """The session's redis-server, emptied for each test."""
    import redis

    client = redis.Redis.from_url(redis_server_url)
    client.flushall()
    client.close()
    yield redis_server_url
