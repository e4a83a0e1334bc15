"""``python -m demo_site``: serve the demo (what ``make demo`` runs).

Two servers in one process: the site, and a stand-in third-party pixel on ``--pixel-port``
(a second origin, registered under ``marketing``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import uvicorn

from beaconguard.offline.geoip import GeoIPError, build_mmdb, read_tor_geoip

TOR_GEOIP = Path("/usr/share/tor/geoip")
TOR_GEOIP6 = Path("/usr/share/tor/geoip6")


def demo_geoip(var: Path) -> str | None:
    """``var/country.mmdb``, built once from Debian's tor-geoipdb files when they exist.

    An explicit ``BEACONGUARD_GEOIP_DB`` wins; without either, countries stay unknown.
    """
    if os.environ.get("BEACONGUARD_GEOIP_DB"):
        return os.environ["BEACONGUARD_GEOIP_DB"]
    db = var / "country.mmdb"
    if not db.exists() and TOR_GEOIP.is_file():
        print(f"building {db} from {TOR_GEOIP}* (once, a few seconds)")
        six = read_tor_geoip(TOR_GEOIP6, ipv6=True) if TOR_GEOIP6.is_file() else []
        try:
            data = build_mmdb(read_tor_geoip(TOR_GEOIP, ipv6=False), six)
        except GeoIPError as exc:
            print(f"no country database: {exc}")
            return None
        var.mkdir(parents=True, exist_ok=True)
        tmp = db.with_name(db.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(db)
    return str(db) if db.exists() else None


async def serve(host: str, port: int, pixel_port: int) -> None:
    # beaconguard writes the access log; uvicorn's own would hold raw client addresses.
    site = uvicorn.Server(
        uvicorn.Config("demo_site.app:app", host=host, port=port, access_log=False)
    )
    pixel = uvicorn.Server(
        uvicorn.Config("demo_site.pixel:app", host=host, port=pixel_port, access_log=False,
                       log_level="warning", lifespan="off")
    )
    await asyncio.gather(site.serve(), pixel.serve())


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_site")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--pixel-port", type=int, default=8001)
    args = parser.parse_args()
    os.environ.setdefault("DEMO_PIXEL_ORIGIN", f"http://{args.host}:{args.pixel_port}")
    var = os.environ.get("BEACONGUARD_DEMO_VAR", "var")
    geoip = demo_geoip(Path(var))
    if geoip:
        os.environ["BEACONGUARD_GEOIP_DB"] = geoip  # read by the app's Settings.from_env()
    log = os.environ.get("BEACONGUARD_ACCESS_LOG", os.path.join(var, "access.log")) or "off"
    print(f"beaconguard demo on http://{args.host}:{args.port}  (access log: {log})",
          flush=True)
    print(f"third-party pixel on {os.environ['DEMO_PIXEL_ORIGIN']}", flush=True)
    asyncio.run(serve(args.host, args.port, args.pixel_port))


if __name__ == "__main__":
    main()
