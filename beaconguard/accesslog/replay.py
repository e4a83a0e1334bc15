"""The access log's compiled path: ``beaconguard._speedups.LogCore`` replaying log lines.

Each column of a log line depends on one or two facts of the request, and traffic repeats
every one of them: a handful of methods and hosts, the site's routes, the same campaign
queries, a few hundred user agents and referrers, returning clients. So the line is built
column by column: :class:`LogColumns` runs the very pipeline steps the Python path runs
(:mod:`beaconguard.anonymize.pipeline`) on a fact it has not seen, keeps the column's JSON
in a bounded dict, and the compiled path joins the columns it finds there with the
request's time, status, size and duration into the bytes orjson writes for the Python
path's record. tests/accesslog/test_replay.py holds both paths to the same bytes.

The caches hold raw request facts (paths, queries, user agents, referrers, client
addresses) in memory only, as the processors' own LRU caches already do, bounded in
entries and in key length; nothing of them is written anywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.routing import Route

from beaconguard.anonymize.pipeline import (
    Record,
    client_step,
    geo_step,
    path_step,
    query_step,
    referrer_step,
    request_step,
    useragent_step,
)
from beaconguard.consent.fast import speedups
from beaconguard.settings import Settings
from beaconguard.visit import Visit

#: The user-agent columns, in the order the pipeline writes them.
AGENT_FIELDS = ("browser", "browser_version", "os", "device", "is_bot", "bot_reason")
#: A fact longer than this is answered each time, never kept: a visitor who sends a 15 KB
#: user agent must not make the cache hold 15 KB per entry.
MAX_KEY = 512

_dumps = orjson.dumps


class LogColumns:
    """Python's answers for the compiled log path: each column's JSON for a request fact.

    Every ``fill_*`` computes with a pipeline step built from the same ``Settings`` as the
    Python path's pipeline, stores the answer in its dict (at most ``limit`` entries; a
    full dict is emptied first) and returns it.
    """

    def __init__(
        self,
        settings: Settings,
        resolve_client: Callable[[str | None, str | None, str | None], str | None],
    ) -> None:
        self.limit = settings.ua_cache_size
        self._request = request_step()
        self._path = path_step(settings.ua_cache_size)
        self._query = query_step(settings)
        self._client = client_step(settings)
        self._geo = geo_step(settings)
        self._agent = useragent_step(settings)
        self._referrer = referrer_step(settings)
        self._resolve = resolve_client
        # A pseudonym changes with the day's key, and behind trusted proxies the client
        # depends on more than the peer: then the compiled path asks each time.
        self._keep_clients = settings.ip_mode != "hash" and not settings.trusted_proxies
        self.methods: dict[str, bytes] = {}
        self.hosts: dict[bytes, bytes] = {}
        self.paths: dict[str, bytes] = {}  # paths without a route template
        self.routes: dict[str, bytes] = {}  # route templates, not under a mount point
        self.queries: dict[bytes, bytes] = {}
        self.agents: dict[bytes, bytes] = {}
        self.referrers: dict[bytes, tuple[bytes, bytes]] = {}  # -> (for host, JSON)
        self.clients: dict[str | None, bytes] = {}

    def _keep(self, cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
        if size <= MAX_KEY:
            if len(cache) >= self.limit:
                cache.clear()
            cache[key] = value

    def _run(self, step: Callable[[Visit, Record], None], visit: Visit) -> Record:
        record: Record = {}
        step(visit, record)
        return record

    def fill_method(self, method: str) -> bytes:
        json = _dumps(self._run(self._request, Visit(time=0.0, method=method))["method"])
        self._keep(self.methods, method, json, len(method))
        return json

    def fill_host(self, raw: bytes) -> bytes:
        host = raw.decode("latin-1")
        json = _dumps(self._run(self._request, Visit(time=0.0, host=host))["host"])
        self._keep(self.hosts, raw, json, len(raw))
        return json

    def fill_path(self, template: str | None, root_path: str | None, path: str) -> bytes:
        visit = Visit(time=0.0, path=path, route=template, root_path=root_path or "")
        json = _dumps(self._run(self._path, visit)["path"])
        if template is None:
            self._keep(self.paths, path, json, len(path))
        elif not root_path:
            self._keep(self.routes, template, json, len(template))
        return json

    def fill_query(self, raw: bytes) -> bytes:
        json = _dumps(self._run(self._query, Visit(time=0.0, query=raw))["query"])
        self._keep(self.queries, raw, json, len(raw))
        return json

    def fill_agent(self, raw: bytes) -> bytes:
        record = self._run(self._agent, Visit(time=0.0, user_agent=raw.decode("latin-1")))
        # ',"browser":...,"bot_reason":...': the record's braces dropped, a comma before
        json = b"," + _dumps({name: record[name] for name in AGENT_FIELDS})[1:-1]
        self._keep(self.agents, raw, json, len(raw))
        return json

    def fill_referrer(self, raw: bytes, host: bytes) -> bytes:
        visit = Visit(time=0.0, referer=raw.decode("latin-1"), host=host.decode("latin-1"))
        json = _dumps(self._run(self._referrer, visit)["referrer"])
        self._keep(self.referrers, raw, (host, json), len(raw) + len(host))
        return json

    def fill_client(
        self, peer: str | None, xff: bytes | None, forwarded: bytes | None, now: float
    ) -> bytes:
        """The client's JSON, then ``,"country":`` and the country's."""
        client = self._resolve(
            peer,
            None if xff is None else xff.decode("latin-1"),
            None if forwarded is None else forwarded.decode("latin-1"),
        )
        visit = Visit(time=now, client=client)
        record = self._run(self._client, visit)
        self._geo(visit, record)
        json = _dumps(record["client"]) + b',"country":' + _dumps(record["country"])
        if self._keep_clients:
            self._keep(self.clients, peer, json, 0 if peer is None else len(peer))
        return json


def compiled_log(
    settings: Settings,
    resolve_client: Callable[[str | None, str | None, str | None], str | None],
    submit: Callable[[bytes], None],
    slow: Callable[[Any, Any, Any], None],
) -> Any | None:
    """The compiled log path (``LogCore``), or ``None`` when the extension was not built.

    ``submit`` takes each finished line; ``slow(scope, app_scope, observed)`` logs a request
    the compiled path hands back (odd header names, a status that is not an int, ...).
    """
    module = speedups()
    if module is None:
        return None
    columns = LogColumns(settings, resolve_client)
    return module.LogCore(
        methods=columns.methods,
        hosts=columns.hosts,
        paths=columns.paths,
        routes=columns.routes,
        queries=columns.queries,
        agents=columns.agents,
        referrers=columns.referrers,
        clients=columns.clients,
        fill_method=columns.fill_method,
        fill_host=columns.fill_host,
        fill_path=columns.fill_path,
        fill_query=columns.fill_query,
        fill_agent=columns.fill_agent,
        fill_referrer=columns.fill_referrer,
        fill_client=columns.fill_client,
        submit=submit,
        slow=slow,
        route_type=Route,
        proxies=bool(settings.trusted_proxies),
    )
