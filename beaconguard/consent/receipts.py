"""Consent receipts: an append-only JSON-lines record that a choice was made.

A receipt is proof of *what* was agreed to and *when*, not of *who*: it holds the random
consent id (also kept in the visitor's cookie, so the visitor can show their receipt), the
policy revision, the choices, the time and a hash of the banner text that was shown. No
IP address, no user agent, no other cookie.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson


def banner_hash(text: Mapping[str, Mapping[str, str]], revision: int) -> str:
    """SHA-256 of the banner's text and policy revision, as shown to the visitor."""
    canonical = orjson.dumps({"text": text, "revision": revision}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


class ReceiptLog:
    """Appends one JSON line per decision to ``path`` (created with mode 0600)."""

    def __init__(self, path: str | os.PathLike[str], banner_sha256: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.banner_sha256 = banner_sha256
        self._lock = threading.Lock()
        # Fail at start-up, not at the first decision, when the file cannot be written.
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.close(fd)

    def append(
        self,
        consent_id: str,
        revision: int,
        decisions: Mapping[str, bool],
        action: str = "decide",
        at: float | None = None,
    ) -> dict[str, Any]:
        """Write one receipt and return it. Decisions are rare; the write is synchronous
        and each line goes out in one ``write`` on an ``O_APPEND`` descriptor."""
        receipt = {
            "consent_id": consent_id,
            "time": int(at if at is not None else time.time()),
            "revision": revision,
            "action": action,
            "choices": dict(decisions),
            "banner_sha256": self.banner_sha256,
        }
        line = orjson.dumps(receipt) + b"\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        return receipt
