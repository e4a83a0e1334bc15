"""Stores filled through the real pipeline and aggregator, for the report readers' tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from beaconguard.stats.store import Store, open_store
from tests.stats.conftest import redis_server_url, redis_url  # noqa: F401  (fixtures)
from tests.stats.helpers import CHROME, FIREFOX, IPHONE, NOON, Feeder

DAY0 = "2026-03-10"
TOKEN = "report-token-for-tests-0123456789"

#: Raw identifiers planted in the traffic; no report output may contain any of them.
PLANTED = {
    "ip": "198.51.100.77",
    "ipv6": "2001:db8:abcd:12::77",
    "email": "alice.planted@example.com",
    "token": "tok_PLANTEDsecret9876",
    "session": "sess_PLANTED_c00kie_42",
    "ua": "PlantedBrowser/9.9 (X11; Linux; build 7f3a9c1e2d) Gecko/20100101",
}


def fill(store: Store, settings) -> None:  # type: ignore[no-untyped-def]
    """/a: 10 visitors; /b: 3 (below k=5); /c: 6; a planted visitor; bots; consent."""
    f = Feeder(store, settings)
    for i in range(10):
        for _ in range(2):
            f.visit("/a", client=f"198.51.100.{i}", ua=CHROME if i % 2 else FIREFOX,
                    referer="https://news.example/story",
                    query=b"utm_source=newsletter&utm_medium=email")
    for i in range(3):
        f.visit("/b", client=f"192.0.2.{i}", ua=IPHONE)
    for i in range(6):
        f.visit("/c", client=f"192.0.2.{100 + i}", ua=IPHONE, at=NOON + 3600)
    # The planted visitor: identifiers in every raw field a request can carry.
    for client in (PLANTED["ip"], PLANTED["ipv6"]):
        f.visit(
            f"/users/{PLANTED['email']}",
            client=client,
            ua=PLANTED["ua"],
            query=f"token={PLANTED['token']}&email={PLANTED['email']}".encode(),
            referer=f"https://mail.example/inbox/{PLANTED['email']}?sid={PLANTED['session']}",
            headers={"cookie": f"session={PLANTED['session']}"},
        )
    for _ in range(4):
        f.visit("/a", client="203.0.113.9", ua="Googlebot/2.1 (+http://www.google.com/bot.html)")
    f.visit("/a", client="203.0.113.10", ua="curl/8.4.0")
    f.agg.add_consent({"statistics": True, "marketing": False}, "banner")
    f.agg.add_consent({"statistics": True, "marketing": True}, "banner")
    f.agg.add_consent({"statistics": False, "marketing": False}, "gpc")
    f.flush()


@pytest.fixture(params=["memory", "sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def fed_store(request: pytest.FixtureRequest, tmp_path: Path, make_settings) -> Iterator[Store]:  # type: ignore[no-untyped-def]
    """The same traffic in each backend: the readers must not care which one it is."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
    elif request.param == "memory":
        url = "memory://"
    else:
        url = f"sqlite:///{tmp_path / 'stats.db'}"
    store = open_store(url)
    fill(store, make_settings(store=url))
    try:
        yield store
    finally:
        store.close()
