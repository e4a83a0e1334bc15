"""Take the dashboard screenshots in ``docs/``: ``.venv/bin/python docs/screenshots.py``.

Fills a throw-away store with a month of synthetic traffic (``demo_site.traffic``), serves
the demo on a free loopback port and photographs ``/stats`` with headless Chromium at
desktop and phone width. Nothing outside a temporary directory is touched but the PNGs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from beaconguard.settings import Settings  # noqa: E402
from demo_site.traffic import NETWORKS, fill  # noqa: E402
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.support.geoip import build_country_mmdb  # noqa: E402
from tests.support.server import uvicorn_server  # noqa: E402

TOKEN = "screenshot-token-0123456789"
SECRET = "screenshot-secret-0123456789abcdef"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        mmdb = build_country_mmdb(tmp_path / "countries.mmdb", NETWORKS)
        store = f"sqlite:///{tmp_path / 'stats.db'}"
        settings = Settings(secret_key=SECRET, store=store, geoip_db=str(mmdb))
        print(f"synthetic page views: {fill(settings, days=30)}")
        env = {
            "BEACONGUARD_DEMO_VAR": str(tmp_path / "var"),
            "BEACONGUARD_SECRET_KEY": SECRET,
            "BEACONGUARD_STORE": store,
            "BEACONGUARD_GEOIP_DB": str(mmdb),
            "BEACONGUARD_ACCESS_LOG": "",
            "BEACONGUARD_REPORT_TOKEN": TOKEN,
        }
        with uvicorn_server("demo_site.app:app", env=env) as base, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                         args=CHROMIUM_ARGS)
            try:
                for name, width, height in (("dashboard.png", 1200, 900),
                                            ("dashboard-phone.png", 390, 844)):
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        http_credentials={"username": "owner", "password": TOKEN},
                    )
                    page = context.new_page()
                    response = page.goto(base + "/stats/?since=30d")
                    assert response is not None and response.status == 200, response
                    out = ROOT / "docs" / name
                    page.screenshot(path=str(out), full_page=True)
                    context.close()
                    print(f"wrote {out.relative_to(ROOT)}")
            finally:
                browser.close()


if __name__ == "__main__":
    main()
