"""Every request answered before shutdown has its line in the file."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.conftest import SECRET
from tests.support.server import uvicorn_server


def test_graceful_shutdown_writes_every_answered_request(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    env = {
        "BEACONGUARD_SECRET_KEY": SECRET,
        "BEACONGUARD_ACCESS_LOG": str(log),
        "BEACONGUARD_STORE": "memory://",
        # Nothing is written by the timer before shutdown: only the shutdown flush can.
        "BEACONGUARD_LOG_FLUSH_INTERVAL": "600",
    }
    answered = 0
    with uvicorn_server("tests.support.envapp:app", env=env) as base, httpx.Client() as client:
        for i in range(300):
            if client.get(f"{base}/products/{i}").status_code == 200:
                answered += 1
        assert answered == 300
    lines = log.read_bytes().splitlines()
    assert sum(b'"/products/{id}"' in line for line in lines) == answered
