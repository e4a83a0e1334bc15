"""The compiled access-log path writes the very bytes the Python path writes.

Both paths run the same requests with the same clocks (``time.time`` and
``time.perf_counter`` are replaced by fakes both paths read), and their log files must be
equal byte for byte: the columns, their order, the JSON of every value, the number
formats, what an odd request falls back to.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beaconguard import BeaconGuard, Settings
from beaconguard.accesslog.replay import MAX_KEY, LogColumns
from beaconguard.client import make_client_resolver
from tests.conftest import SECRET
from tests.support.geoip import build_country_mmdb
from tests.support.replay import _ABSENT, BOT, CHROME, Plan, both, make_app, request, scope_of

pytest.importorskip("beaconguard._speedups", reason="the C extension was not built")

# --- examples -------------------------------------------------------------------------


def test_a_plain_request(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = both(tmp_path, monkeypatch, [request()], [Plan()]).log
    assert b'"path":"/products/{id}"' in out and b'"client":"203.0.113.0"' in out


def test_numbers_and_fallbacks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reqs = [
        request(),
        request(method="HEAD"),
        request(method="BREW", path="/users/alice@example.com/orders/123456"),
        request(),  # status an IntEnum: the Python path logs it
        request(),  # raises before starting: 500
        request(),  # raises after starting
        request(headers=[(b"Host", b"shop.example.com"), (b"User-Agent", BOT.encode())]),
        request(headers=[(b"user-agent", b"a"), (b"user-agent", CHROME.encode())]),
        request(headers=[]),
        request(client=None),
        request(client=_ABSENT),
        request(client=("not an address", 1)),
        request(client=["2001:db8:85a3::8a2e:370:7334", 1]),
        request(root_path="/app", path="/shop/12/items/77"),
        request(path="/shop/12/items/77"),
        request(status=-1),
    ]
    plans = [
        Plan(),
        Plan(chunks=(100, 20)),
        Plan(status=404, chunks=()),
        Plan(status=HTTPStatus.CREATED),
        Plan(fail="before"),
        Plan(status=201, fail="after"),
        Plan(),
        Plan(),
        Plan(status=204, chunks=(0,)),
        Plan(),
        Plan(),
        Plan(),
        Plan(),
        Plan(),
        Plan(),
        Plan(status=-1),
    ]
    both(tmp_path, monkeypatch, reqs, plans)


@pytest.mark.parametrize(
    "duration",
    [
        0.0,
        0.004,
        0.005,
        0.015,
        0.125,
        0.1234,
        1.005,
        2.675,
        10.0,
        99.995,
        12345.678,
        999999.994,
        999999.996,
        1e6 + 0.125,
        3.3e9,
        1e13 + 0.01,
        2e15,
        float("inf"),
        -0.5,
    ],
)
def test_duration_formats(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, duration: float) -> None:
    both(tmp_path, monkeypatch, [request()], [Plan()], durations=[duration])


@given(st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=30))
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_duration_property(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durations: list[float]
) -> None:
    both(
        tmp_path, monkeypatch, [request()] * len(durations), [Plan() for _ in durations], durations
    )


def test_hundredths_ties(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # x.xx5 from 0 to 100: the ties and near-ties of round(x, 2).
    durations = [i / 1000 for i in range(5, 100_000, 10)][::37]
    both(
        tmp_path, monkeypatch, [request()] * len(durations), [Plan() for _ in durations], durations
    )


def test_durations_sweep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Every third decimal digit, on either side of each, and spread over six decades.
    rng = random.Random(7)
    durations = [i / 1000 + rng.uniform(-4e-4, 4e-4) for i in range(1, 2000)]
    durations += [rng.uniform(0, 10 ** rng.randrange(1, 7)) for _ in range(1000)]
    durations = [abs(d) for d in durations]
    both(
        tmp_path, monkeypatch, [request()] * len(durations), [Plan() for _ in durations], durations
    )


# --- the settings that change columns ---------------------------------------------------


SETTINGS = {
    "truncate": {},
    "hash": {"ip_mode": "hash"},
    "drop": {"ip_mode": "drop"},
    "prefixes": {"ipv4_prefix": 16, "ipv6_prefix": 32},
    "proxies": {"trusted_proxies": ("10.0.0.0/8",)},
    "query_redact": {"query_allowlist": ("q", "page"), "query_mode": "redact"},
    "consent": {"consent": True},
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_settings_variants(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    reqs = [
        request(),
        request(client=("10.1.2.3", 1), headers=[(b"x-forwarded-for", b"198.51.100.9, 10.0.0.2")]),
        request(client=("10.1.2.3", 1), headers=[(b"forwarded", b"for=192.0.2.60;proto=http")]),
        request(query=b"q=desk&page=2&sessionid=0123456789abcdef0123"),
        request(
            headers=[
                (b"referer", b"https://shop.example.com/users/bob@example.com"),
                (b"host", b"shop.example.com"),
            ]
        ),
        request(headers=[(b"cookie", b"_ga=GA1.1.1.1; session=topsecret")]),
    ]
    both(tmp_path, monkeypatch, reqs, [Plan() for _ in reqs], **SETTINGS[name])


def test_geoip_country(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = build_country_mmdb(tmp_path / "c.mmdb", {"203.0.113.0/24": "JP", "2001:db8::/32": "DE"})
    reqs = [request(), request(client=("2001:db8::1", 1)), request(client=("192.0.2.1", 1))]
    out = both(tmp_path, monkeypatch, reqs, [Plan() for _ in reqs], geoip_db=str(db)).log
    assert b'"country":"JP"' in out and b'"country":"DE"' in out


# --- a property over request shapes -----------------------------------------------------

_hosts = st.sampled_from(
    [
        b"shop.example.com",
        b"SHOP.Example.COM:8443",
        b"[2001:db8::1]:80",
        b"bad host",
        b"",
        b"\xe9.example",
    ]
)
_agents = st.sampled_from(
    [CHROME.encode(), BOT.encode(), b"curl/8.5.0", b"", b"\xff\xfe", b"Mozilla/5.0 " * 60]
)
_referers = st.sampled_from(
    [
        b"https://news.example.org/item?id=31337",
        b"https://shop.example.com/users/alice@example.com/cart",
        b"http://[::1",
        b"",
        b"android-app://com.google.android.gm/",
        b'https://evil.example/"quoted"\\',
    ]
)
_names = {
    "host": st.sampled_from([b"host", b"Host"]),
    "user-agent": st.sampled_from([b"user-agent", b"user-agent", b"USER-AGENT"]),
    "referer": st.sampled_from([b"referer", b"referer", b"Referer"]),
}


@st.composite
def requests(draw: Any) -> dict[str, Any]:
    headers: list[tuple[bytes, bytes]] = []
    for name, values in (("host", _hosts), ("user-agent", _agents), ("referer", _referers)):
        if draw(st.booleans()):
            headers.append((draw(_names[name]), draw(values)))
    if draw(st.integers(0, 9)) == 0 and headers:
        headers.append(headers[0])  # a repeated header: the Python path joins it
    path = draw(
        st.sampled_from(
            [
                "/",
                "/products/9",
                "/shop/3/items/4",
                "/a/b",
                "/users/bob@example.com/1234567",
                "/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc",
                "/caf\u00e9",
                "/x/" + "y" * 600,
            ]
        )
    )
    return request(
        method=draw(st.sampled_from(["GET", "HEAD", "POST", "get", "PROPFIND"])),
        path=path,
        root_path=draw(st.sampled_from(["", "", "/app"])),
        query=draw(
            st.sampled_from(
                [b"", b"utm_source=x&utm_medium=y", b"q=%E2%9C%93&token=abc", b"%%", b"a=1&a=2"]
            )
        ),
        headers=headers,
        client=draw(
            st.sampled_from(
                [
                    ("203.0.113.7", 1),
                    ("2001:db8::7", 2),
                    ("::ffff:192.0.2.1", 3),
                    None,
                    ("x", 1),
                    _ABSENT,
                ]
            )
        ),
    )


_plans = st.builds(
    Plan,
    status=st.sampled_from([200, 201, 301, 404, 500, 599, 0]),
    chunks=st.lists(st.integers(0, 3000), max_size=3).map(tuple),
    fail=st.sampled_from(["", "", "", "before", "after"]),
)


@given(
    st.lists(st.tuples(requests(), _plans), min_size=1, max_size=25),
    st.sampled_from(sorted(SETTINGS)),
)
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_property(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    pairs: list[tuple[dict[str, Any], Plan]],
    name: str,
) -> None:
    reqs = [r for r, _ in pairs]
    plans = [p for _, p in pairs]
    both(tmp_path, monkeypatch, reqs, plans, [0.5, 12.345, 0.005], **SETTINGS[name])


# --- what the compiled path is used for -------------------------------------------------


def test_used_unless_extra_headers_are_logged(tmp_path: Path) -> None:
    base = {"secret_key": SECRET, "store": "memory://", "access_log": str(tmp_path / "a.log")}
    for extra in ({"stats": False}, {"stats": True}, {"access_log": None, "stats": True}):
        guard = BeaconGuard(make_app(iter(())), settings=Settings(**{**base, **extra}))
        assert guard._fast_log is not None, extra
        guard.close()
    for extra in (
        {"stats": False, "log_headers": ("accept-language",)},
        {"stats": True, "speedups": False},
    ):
        guard = BeaconGuard(make_app(iter(())), settings=Settings(**base, **extra))
        assert guard._fast_log is None, extra
        guard.close()


def test_a_consumer_added_later_is_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings_ = Settings(
        secret_key=SECRET, store="memory://", access_log=str(tmp_path / "a.log"), stats=False
    )
    guard = BeaconGuard(make_app(itertools.repeat(Plan())), settings=settings_)
    seen: list[str] = []
    guard.consumers.append(lambda visit, record: seen.append(record["path"]))

    async def drive() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b""}

        async def send(message: dict[str, Any]) -> None:
            return None

        await guard(scope_of(request()), receive, send)

    asyncio.run(drive())
    guard.close()
    assert seen == ["/products/{id}"]
    assert (tmp_path / "a.log").read_bytes().count(b"\n") == 1


def test_column_caches_are_bounded() -> None:
    columns = LogColumns(Settings(secret_key=SECRET, ua_cache_size=8), make_client_resolver(()))
    for i in range(50):
        columns.fill_agent(f"agent/{i}".encode())
        columns.fill_client(f"192.0.2.{i}", None, None, 0.0)
        columns.fill_path(None, "", f"/p/{i}")
    assert len(columns.agents) == len(columns.clients) == len(columns.paths) == 8
    assert b"agent/49" in columns.agents and b"agent/41" not in columns.agents  # oldest out
    columns.fill_agent(b"x" * (MAX_KEY + 1))
    columns.fill_query(b"q=" + b"y" * MAX_KEY)
    assert all(len(k) <= MAX_KEY for k in [*columns.agents, *columns.queries])


def test_hash_mode_never_keeps_a_client() -> None:
    columns = LogColumns(Settings(secret_key=SECRET, ip_mode="hash"), make_client_resolver(()))
    columns.fill_client("192.0.2.1", None, None, 0.0)
    assert columns.clients == {}
