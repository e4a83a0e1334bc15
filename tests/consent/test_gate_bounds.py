"""The gate against hostile or unusual input: huge Cookie headers, Set-Cookie values that
only look like deletions, invalid consent cookies and header letter case."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import Response

from beaconguard import BeaconGuard
from beaconguard.consent.cookie import ConsentCookie
from beaconguard.consent.gate import MAX_PURGE_BYTES, MAX_STALE_NAMES, _is_deletion
from tests.consent.conftest import REGISTRY, asgi_request, make_site
from tests.support.geoip import build_country_mmdb

HOST = (b"host", b"www.shop.example.com")


def many_cookies(seed: int, n: int) -> bytes:
    """A Cookie header of ``n`` distinct statistics cookies (``_ga_*``)."""
    return b"; ".join(b"_ga_%d_%d=1" % (seed, i) for i in range(n))


def purge_headers(headers: list[tuple[bytes, bytes]]) -> list[bytes]:
    return [v for k, v in headers if k == b"set-cookie" and b"Max-Age=0" in v]


# -- 1. a large Cookie header buys a bounded purge -------------------------------------------


def test_a_huge_cookie_header_gets_a_bounded_purge(make_client):
    _, guard = make_client()
    start, headers = asgi_request(guard, "/plain", [HOST, (b"cookie", many_cookies(0, 1150))])
    assert start["status"] == 200
    purged = purge_headers(headers)
    names = {v.split(b"=", 1)[0] for v in purged}
    assert 0 < len(names) <= MAX_STALE_NAMES
    assert sum(len(v) + len(b"set-cookie") + 4 for v in purged) <= MAX_PURGE_BYTES
    # Every name it does purge is purged on every variant (not half a name).
    per_name = {n: sum(v.startswith(n + b"=") for v in purged) for n in names}
    assert len(set(per_name.values())) == 1


def test_the_rest_are_purged_on_later_responses(make_client):
    # A browser drops what a response expired; what it still sends goes next time.
    _, guard = make_client()
    held = [b"_ga_1_%d" % i for i in range(100)]
    for _ in range(20):
        if not held:
            break
        header = b"; ".join(n + b"=1" for n in held)
        _, headers = asgi_request(guard, "/plain", [HOST, (b"cookie", header)])
        gone = {v.split(b"=", 1)[0] for v in purge_headers(headers)}
        assert gone and gone <= set(held)
        held = [n for n in held if n not in gone]
    assert held == []


def test_the_purge_cache_is_keyed_per_name_and_bounded(make_client):
    _, guard = make_client()
    gate = guard.consent
    assert gate is not None
    for seed in range(20):
        asgi_request(guard, "/plain", [HOST, (b"cookie", many_cookies(seed, 300))])
    cache = gate._purge_cache
    assert 0 < len(cache) <= 256
    # No request's whole set of names is ever a key: one name each.
    assert all(isinstance(name, str) for name, _, _ in cache)
    assert sum(len(h) for headers, _ in cache.values() for h in headers) < 256 * 20


def test_absurd_names_and_hosts_are_stripped_not_echoed(make_client):
    _, guard = make_client()
    long_name = b"_ga_" + b"x" * 5000
    long_host = b"a." * 3000 + b"example"
    _, headers = asgi_request(
        guard, "/cookies", [(b"host", long_host), (b"cookie", long_name + b"=1; _ga=2")]
    )
    purged = purge_headers(headers)
    assert not any(v.startswith(long_name) for v in purged)
    assert any(v.startswith(b"_ga=;") for v in purged)
    # The host is no DNS name: only the registry's domain is named.
    assert {d for v in purged for d in v.split(b"; ") if d.startswith(b"Domain=")} == {
        b"Domain=shop.example"}
    assert sum(map(len, purged)) <= MAX_PURGE_BYTES


def test_a_huge_header_is_still_stripped_completely(make_client):
    client, _ = make_client()
    header = many_cookies(7, 1000).decode() + "; session=s"
    response = client.get("/cookies", headers={"cookie": header})
    assert response.json()["cookies"] == {"session": "s"}


# -- 2. only real deletions pass without consent ---------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        b'_fbp="abc"; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=3600',
        b"_fbp= tracker; Max-Age=0999999",
        b"_fbp=; Max-Age=0; Max-Age=3600",  # the last Max-Age counts
        b"_fbp=; Max-Age=3600; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        b"_fbp=; Max-Age=soon; Expires=Thu, 01 Jan 1970 00:00:00 GMT",  # unclear: refused
        b"_fbp=; Max-Age=" + b"9" * 5000,
        b"_fbp=; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
        b"_fbp=; Expires=whenever",
        b"_fbp=; Path=/",  # a session cookie with an empty value is still a cookie
        b"_fbp=x1970; Path=/",
        b'_fbp=""x; Max-Age=0',
    ],
)
def test_lookalike_deletions_are_dropped(make_client, value):
    assert not _is_deletion(value)
    _, guard = make_client()

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"set-cookie", value)]})
        await send({"type": "http.response.body", "body": b""})

    guard.app = app
    _, headers = asgi_request(guard, "/")
    assert not any(v.startswith(b"_fbp") for k, v in headers if k == b"set-cookie")


@pytest.mark.parametrize(
    "value",
    [
        b"_fbp=; Max-Age=0",
        b'_fbp=""; Max-Age=-1; Path=/',
        b"_fbp=; Max-Age=3600; Max-Age=0",
        b"_fbp=; expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
        b"_fbp=;EXPIRES=Thu, 01-Jan-1970 00:00:01 GMT",
    ],
)
def test_real_deletions_are_recognised(value):
    assert _is_deletion(value)


@pytest.mark.parametrize("kwargs", [{}, {"domain": ".shop.example", "path": "/ads",
                                         "secure": True, "httponly": True}])
def test_starlette_delete_cookie_passes(make_client, kwargs):
    _, guard = make_client()

    async def app(scope, receive, send):
        response = Response("bye")
        response.delete_cookie("_fbp", **kwargs)
        response.delete_cookie("ad_id", **kwargs)
        await response(scope, receive, send)

    guard.app = app
    _, headers = asgi_request(guard, "/")
    passed = [v for k, v in headers if k == b"set-cookie"]
    assert [v.split(b"=", 1)[0] for v in passed] == [b"_fbp", b"ad_id"]


# -- 3. an invalid consent cookie falls to the region default --------------------------------


@pytest.fixture
def region_guard(make_settings, tmp_path: Path) -> Any:
    db = build_country_mmdb(tmp_path / "c.mmdb", {"203.0.113.0/24": "US",
                                                  "198.51.100.0/24": "DE"})

    def make(**more: Any) -> tuple[BeaconGuard, Any]:
        settings = make_settings(cookie_registry=REGISTRY, geoip_db=str(db),
                                 region_defaults={"EEA": "opt-in", "*": "opt-out"}, **more)
        return BeaconGuard(make_site(), settings=settings), settings

    return make


def _state_and_names(guard: BeaconGuard, cookie: str | None, client: str) -> tuple[str, set]:
    headers = [] if cookie is None else [(b"cookie", f"bg_consent={cookie}".encode("latin-1"))]
    _, out = asgi_request(guard, "/cookies", headers, client=client)
    names = {v.split(b"=", 1)[0] for k, v in out if k == b"set-cookie" and b"Max-Age=0" not in v}
    return ("opt-out" if b"_fbp" in names else "opt-in"), names


def test_invalid_consent_cookies_get_the_region_default(region_guard):
    _, old_settings = region_guard(policy_revision=1)
    guard, settings = region_guard(policy_revision=2)
    denied = {"statistics": False, "marketing": False, "preferences": False}
    old_revision, _ = ConsentCookie(old_settings).dumps(denied)
    valid, _ = ConsentCookie(settings).dumps(denied)
    cases = {
        "none": None,
        "old revision": old_revision,
        "tampered": valid[:-3] + ("abc" if not valid.endswith("abc") else "xyz"),
        "oversized": "x" * 5000,
        "garbage": "%%\xfe",
    }
    for label, cookie in cases.items():
        assert _state_and_names(guard, cookie, "203.0.113.5")[0] == "opt-out", label
        assert _state_and_names(guard, cookie, "198.51.100.7")[0] == "opt-in", label
    # A valid explicit "deny all" still beats the US opt-out default.
    assert _state_and_names(guard, valid, "203.0.113.5")[0] == "opt-in"


def test_an_expired_consent_cookie_gets_the_region_default(region_guard, monkeypatch):
    guard, settings = region_guard(consent_max_age_days=1)
    value, _ = ConsentCookie(settings).dumps({"marketing": False})
    assert _state_and_names(guard, value, "203.0.113.5")[0] == "opt-in"  # still valid
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert _state_and_names(guard, value, "203.0.113.5")[0] == "opt-out"


# -- 7. letter case ----------------------------------------------------------------------------


def test_upper_case_header_names_and_attributes_are_gated(make_client):
    _, guard = make_client()
    sent = [
        (b"Set-Cookie", b"_ga=GA1.1.9; PATH=/; HTTPONLY"),
        (b"SET-COOKIE", b"_fbp=fb.1; Path=/; SameSite=None; SECURE"),
        (b"set-Cookie", b"_ga_X=1; MAX-AGE=3600"),
        (b"Set-Cookie", b"_fbp=; MAX-AGE=0; PATH=/"),  # a real deletion, upper case
        (b"Set-Cookie", b"_ga=x; EXPIRES=Thu, 01 Jan 1970 00:00:00 GMT; MAX-AGE=99"),
        (b"Set-Cookie", b"session=abc; HttpOnly"),
        (b"Content-Type", b"text/plain"),
    ]

    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": list(sent)})
        await send({"type": "http.response.body", "body": b""})

    guard.app = app
    _, headers = asgi_request(guard, "/")
    cookies = [v for k, v in headers if k.lower() == b"set-cookie"]
    assert cookies == [b"_fbp=; MAX-AGE=0; PATH=/", b"session=abc; HttpOnly"]
    assert (b"Content-Type", b"text/plain") in headers


def test_a_withdrawal_with_a_huge_cookie_header_is_bounded(make_client):
    client, guard = make_client()
    gate = guard.consent
    assert gate is not None
    client.post("/_bg/consent", json={"all": True}, headers={"origin": "http://testserver"})
    consent = client.cookies.get("bg_consent")
    header = f"bg_consent={consent}; " + many_cookies(3, 1150).decode()
    for method in ("POST", "DELETE"):
        start, headers = asgi_request(
            guard, "/_bg/consent",
            [(b"cookie", header.encode()), (b"origin", b"http://testserver"),
             (b"content-type", b"application/json")],
            method=method, body=b'{"all": false}',
        )
        assert start["status"] == 200
        purged = {v.split(b"=", 1)[0] for v in purge_headers(headers)}
        registered = set(gate.registry.exact_names(["preferences", "statistics", "marketing"]))
        # Every registered name, and at most MAX_STALE_NAMES of the visitor's own.
        assert {n.encode() for n in registered} <= purged
        assert len(purged - {n.encode() for n in registered} - {b"bg_consent"}) \
            <= MAX_STALE_NAMES
