"""The compiled observer: ``beaconguard._speedups.LogCore`` replaying log lines and counts.

Each column of a log line depends on one or two facts of the request, and traffic repeats
every one of them: a handful of methods and hosts, the site's routes, the same campaign
queries, a few hundred user agents and referrers, returning clients. So the line is built
column by column: :class:`LogColumns` runs the very pipeline steps the Python path runs
(:mod:`beaconguard.anonymize.pipeline`) on a fact it has not seen, keeps the column's JSON
in a bounded dict, and the compiled path joins the columns it finds there with the
request's time, status, size and duration into the bytes orjson writes for the Python
path's record. With statistics on, the same entries carry the values the aggregator counts
(page, query, referrer, country, browser, os, device), and the compiled path updates the
aggregator's pending counters as ``Aggregator.consume`` does. tests/accesslog/
test_replay.py and tests/stats/test_replay_counts.py hold both paths to the same output.

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
from beaconguard.stats.aggregator import Aggregator
from beaconguard.stats.part import SERVER_TIMING
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
    Python path's pipeline, stores the answer in its dict (at most ``limit`` entries; the
    oldest makes room) and returns it.
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
        # Entries: the JSON alone, or (JSON, the values the statistics count), as each
        # fill_* says.
        self.paths: dict[str, tuple[bytes, str]] = {}  # paths without a route template
        self.routes: dict[str, tuple[bytes, str]] = {}  # templates, not under a mount
        self.queries: dict[bytes, tuple[bytes, str | None]] = {}
        self.agents: dict[bytes, tuple[Any, ...]] = {}
        self.referrers: dict[bytes, tuple[bytes, bytes, str | None]] = {}
        self.clients: dict[str | None, tuple[bytes, str | None, str | None]] = {}

    def _keep(self, cache: dict[Any, Any], key: Any, value: Any, size: int) -> None:
        if size <= MAX_KEY:
            if len(cache) >= self.limit:
                # The oldest goes: a full cache stays full (emptying it would make memory
                # swing by thousands of objects, and every fact a miss at once).
                del cache[next(iter(cache))]
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

    def fill_path(
        self, template: str | None, root_path: str | None, path: str
    ) -> tuple[bytes, str]:
        """(JSON, the path as the record holds it: the statistics' page)."""
        visit = Visit(time=0.0, path=path, route=template, root_path=root_path or "")
        page = self._run(self._path, visit)["path"]
        entry = (_dumps(page), page)
        if template is None:
            self._keep(self.paths, path, entry, len(path))
        elif not root_path:
            self._keep(self.routes, template, entry, len(template))
        return entry

    def fill_query(self, raw: bytes) -> tuple[bytes, str | None]:
        """(JSON, the kept query)."""
        query = self._run(self._query, Visit(time=0.0, query=raw))["query"]
        entry = (_dumps(query), query)
        self._keep(self.queries, raw, entry, len(raw))
        return entry

    def fill_agent(self, raw: bytes) -> tuple[Any, ...]:
        """(``,"browser":...,"bot_reason":...``, browser, os, device, is_bot, bot_reason)."""
        record = self._run(self._agent, Visit(time=0.0, user_agent=raw.decode("latin-1")))
        # the record's braces dropped, a comma before
        json = b"," + _dumps({name: record[name] for name in AGENT_FIELDS})[1:-1]
        entry = (
            json,
            record["browser"],
            record["os"],
            record["device"],
            record["is_bot"],
            record["bot_reason"],
        )
        self._keep(self.agents, raw, entry, len(raw))
        return entry

    def fill_referrer(self, raw: bytes, host: bytes) -> tuple[bytes, bytes, str | None]:
        """(the Host it holds for, JSON, the kept referrer)."""
        visit = Visit(time=0.0, referer=raw.decode("latin-1"), host=host.decode("latin-1"))
        referrer = self._run(self._referrer, visit)["referrer"]
        entry = (host, _dumps(referrer), referrer)
        self._keep(self.referrers, raw, entry, len(raw) + len(host))
        return entry

    def fill_client(
        self, peer: str | None, xff: bytes | None, forwarded: bytes | None, now: float
    ) -> tuple[bytes, str | None, str | None]:
        """(the client's JSON, then ``,"country":`` and the country's; the country; the
        client address, raw, for the visitor hash, which never leaves memory)."""
        client = self._resolve(
            peer,
            None if xff is None else xff.decode("latin-1"),
            None if forwarded is None else forwarded.decode("latin-1"),
        )
        visit = Visit(time=now, client=client)
        record = self._run(self._client, visit)
        self._geo(visit, record)
        json = _dumps(record["client"]) + b',"country":' + _dumps(record["country"])
        entry = (json, record["country"], client)
        if self._keep_clients:
            self._keep(self.clients, peer, entry, 0 if peer is None else len(peer))
        return entry


def content_type_of(headers: Any) -> str:
    """A response's Content-Type as the page-view rule reads it: the first header so
    named, in any case, decoded as Latin-1; "" when there is none."""
    for name, value in headers or ():
        if name.lower() == b"content-type":
            return str(value.decode("latin-1"))
    return ""


def compiled_log(
    settings: Settings,
    resolve_client: Callable[[str | None, str | None, str | None], str | None],
    submit: Callable[[bytes], None] | None,
    slow: Callable[[Any, Any, Any, Any], None],
    counter: Aggregator | None = None,
    own_routes: dict[str, Any] | None = None,
) -> Any | None:
    """The compiled path for the access log and statistics (``LogCore``), or ``None`` when
    the extension was not built.

    ``submit`` takes each finished line (``None``: no access log); ``counter`` is the
    statistics' aggregator, whose pending counters it updates as ``consume`` does
    (``None``: no statistics). Requests for ``own_routes`` (the middleware's endpoints: the
    same dict, so routes added later are seen) take the Python path from the start.
    ``slow(scope, app_scope, observed, consent)`` logs and counts a request the compiled
    path hands back (a status that is not an int, a beacon, a day
    whose visitor key is not in memory, ...).
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
        content_type_of=content_type_of,
        counter=counter,
        day_name_of=None if counter is None else counter._day_name,
        server_timing=SERVER_TIMING,
        own_routes={} if own_routes is None else own_routes,
        proxies=bool(settings.trusted_proxies),
    )
