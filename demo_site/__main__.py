"""``python -m demo_site``: serve the demo (what ``make demo`` runs)."""

from __future__ import annotations

import argparse

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m demo_site")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--pixel-port", type=int, default=8001)
    args = parser.parse_args()
    print(f"beaconguard demo on http://{args.host}:{args.port}  (access log: var/access.log)")
    # beaconguard writes the access log; uvicorn's own would hold raw client addresses.
    uvicorn.run("demo_site.app:app", host=args.host, port=args.port, access_log=False)


if __name__ == "__main__":
    main()
