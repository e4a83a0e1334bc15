"""A ``logging.Filter`` that anonymizes uvicorn's own access log in place.

uvicorn's ``uvicorn.access`` logger writes ``client_addr - "METHOD path HTTP/x" status``
with the raw client address and full query string. Users who keep that log on attach this
filter and get the same IP, path and query processing as beaconguard's own log::

    logging.getLogger("uvicorn.access").addFilter(AnonymizingAccessFilter(settings))

or, in a ``--log-config`` dictConfig, a filter ``{"()": "beaconguard.AnonymizingAccessFilter"}``
on the ``uvicorn.access`` handler (settings from ``BEACONGUARD_*``).

Better still, run uvicorn with ``--no-access-log`` and let beaconguard write the log.
"""

from __future__ import annotations

import logging
import time

from beaconguard.anonymize.ip import make_ip_filter
from beaconguard.anonymize.path import from_raw_target
from beaconguard.anonymize.query import make_query_filter
from beaconguard.settings import Settings


class AnonymizingAccessFilter(logging.Filter):
    """Rewrites uvicorn access records: client address and request target anonymized."""

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__()
        # Without settings, the same policy as the middleware: so a logging config file
        # (``"()": "beaconguard.AnonymizingAccessFilter"``) follows BEACONGUARD_* too.
        s = settings if settings is not None else Settings.from_env()
        secret = s.signing_key if s.ip_mode == "hash" else None
        self._ip = make_ip_filter(
            s.ip_mode, v4_prefix=s.ipv4_prefix, v6_prefix=s.ipv6_prefix, secret=secret
        )
        self._query = make_query_filter(s.query_allowlist, s.query_mode)

    def anonymize_client(self, client_addr: object) -> str:
        """uvicorn writes ``host:port`` (IPv6 without brackets); bracketed forms too."""
        text = str(client_addr)
        if text.startswith("["):
            host = text[1:text.find("]")] if "]" in text else ""
        else:
            host, sep, port = text.rpartition(":")
            if not (sep and port.isdigit()):
                host = text  # no port: an address on its own (or garbage, which the filter drops)
        return self._ip(host, time.time()) or "-"

    def anonymize_target(self, target: object) -> str:
        text = str(target)
        path = from_raw_target(text)
        raw_query = text.split("?", 1)[1].split("#", 1)[0] if "?" in text else ""
        query = self._query(raw_query.encode("latin-1", "replace"))
        return path + ("?" + query if query else "")

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5:
            client, method, target, version, status = args
            record.args = (
                self.anonymize_client(client),
                method,
                self.anonymize_target(target),
                version,
                status,
            )
        else:
            # Not the shape we know: say less rather than pass raw values through.
            record.msg = "access (unrecognised record, suppressed by beaconguard)"
            record.args = ()
        return True
