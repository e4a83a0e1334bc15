"""A stand-in ad pixel on a second loopback origin (``--pixel-port``).

It plays the third party the consent gate has to keep out: a 1x1 GIF at ``/p.gif`` that
counts every request it gets (``/hits`` answers the counts, so tests can see whether the
browser ever asked for it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

GIF = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)

hits: Counter[str] = Counter()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/p.gif":
        query = scope.get("query_string", b"").decode("latin-1")
        via = dict(p.partition("=")[::2] for p in query.split("&")).get("via", "")
        hits[via[:20] or "-"] += 1
        body, ctype = GIF, b"image/gif"
    elif path == "/hits":
        body, ctype = orjson.dumps({"total": sum(hits.values()), **hits}), b"application/json"
    else:
        body, ctype = b"demo pixel origin\n", b"text/plain"
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", ctype), (b"cache-control", b"no-store")]})
    await send({"type": "http.response.body", "body": body})
