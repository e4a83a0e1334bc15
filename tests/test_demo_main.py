"""``python -m demo_site`` (what ``make demo`` runs) serves the site and the pixel origin."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.support.geoip import build_country_mmdb
from tests.support.server import ROOT, free_port, wait_for


def test_demo_serves_both_origins_and_logs(tmp_path: Path) -> None:
    port, pixel_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BEACONGUARD_", "DEMO_"))}
    # A tiny country database instead of building one from tor-geoipdb (seconds).
    mmdb = tmp_path / "country.mmdb"
    build_country_mmdb(mmdb, {"203.0.113.0/24": "JP"})
    env.update(BEACONGUARD_DEMO_VAR=str(tmp_path), BEACONGUARD_GEOIP_DB=str(mmdb),
               PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "demo_site", "--port", str(port), "--pixel-port", str(pixel_port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    try:
        site, pixel = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{pixel_port}"
        wait_for(site + "/", proc=proc)
        wait_for(pixel + "/hits", proc=proc)
        with urllib.request.urlopen(site + "/products/3", timeout=5) as response:
            cookies = response.headers.get_all("set-cookie") or []
            csp = response.headers["content-security-policy"]
        # No consent yet: the app's _ga and _fbp never leave, and the pixel origin is barred.
        assert not any(c.startswith(("_ga=", "_fbp=")) for c in cookies)
        assert pixel not in csp and "img-src 'self'" in csp
        with urllib.request.urlopen(pixel + "/hits", timeout=5) as response:
            assert response.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=20)
    text = out.decode()
    assert f"access log: {tmp_path / 'access.log'}" in text
    assert f"third-party pixel on http://127.0.0.1:{pixel_port}" in text
    log = (tmp_path / "access.log").read_text()
    assert '"path":"/products/{id:int}"' in log or '"path":"/products/{id}"' in log
