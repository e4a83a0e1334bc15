"""``python -m demo_site``: serve the demo (what ``make demo`` runs).

Two servers in one process: the site, and a stand-in third-party pixel on ``--pixel-port``
(a second origin, registered under ``marketing``).
"""

from __future__ import annotations

import argparse
import asyncio
import os

import uvicorn


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
    print(f"beaconguard demo on http://{args.host}:{args.port}  (access log: var/access.log)")
    print(f"third-party pixel on {os.environ['DEMO_PIXEL_ORIGIN']}")
    asyncio.run(serve(args.host, args.port, args.pixel_port))


if __name__ == "__main__":
    main()
