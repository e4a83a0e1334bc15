"""Hash mode across processes: one secret, one day, one pseudonym, whichever worker logs it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import orjson

from beaconguard.anonymize.ip import day_key, make_ip_filter
from tests.conftest import SECRET
from tests.support.server import uvicorn_server


def test_same_ip_same_day_same_pseudonym_in_two_processes(tmp_path: Path) -> None:
    clients = []
    for i in range(2):
        log = tmp_path / f"worker{i}.log"
        env = {
            "BEACONGUARD_SECRET_KEY": SECRET,
            "BEACONGUARD_IP_MODE": "hash",
            "BEACONGUARD_TRUSTED_PROXIES": "127.0.0.1",
            "BEACONGUARD_ACCESS_LOG": str(log),
            "BEACONGUARD_STORE": "memory://",
        }
        with uvicorn_server("tests.support.envapp:app", env=env) as base:
            httpx.get(base + "/products/1", headers={"x-forwarded-for": "203.0.113.77"})
            httpx.get(base + "/products/1", headers={"x-forwarded-for": "203.0.113.78"})
        lines = [orjson.loads(x) for x in log.read_bytes().splitlines()]
        # The readiness probe is logged too; keep the two requests we sent.
        clients.append([x["client"] for x in lines if x["path"] == "/products/{id}"])
    assert clients[0] == clients[1]
    assert clients[0][0] != clients[0][1]
    assert all(len(c) == 16 for c in clients[0])
    output = "".join((tmp_path / f"worker{i}.log").read_text() for i in range(2))
    assert "203.0.113" not in output
    # No key material in the output: neither the secret nor any derived day key.
    import time

    day = int(time.time() // 86400)
    assert SECRET not in output
    for d in (day - 1, day, day + 1):
        key = day_key(SECRET.encode(), d)
        assert key.hex() not in output and key.hex()[:16] not in output
    assert hashlib.sha256(SECRET.encode()).hexdigest()[:16] not in output


def test_another_day_another_pseudonym() -> None:
    f = make_ip_filter("hash", secret=SECRET.encode())
    monday = 1_790_000_000.0
    assert f("203.0.113.77", monday) != f("203.0.113.77", monday + 86400)
