"""Leak test: after traffic full of identifiers, the whole store holds none of them."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from beaconguard import BeaconGuard
from tests.support.apps import starlette_app

IP4 = "203.0.113.77"
IP6 = "2001:db8:85a3::8a2e:370:7334"
EMAIL = "alice.leak@example.com"
TOKEN = "tok9f8e7d6c5b4a39281706"
SESSION = "SESSIONLEAKabcdef123456"
UA = ("Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0 "
      "LeakMarker/9.9.9")
PHONE = "5550123456789"
USER_ID = "user.8812345"
#: Event names a careless page might send: each carries a person.
EVENT_NAMES = [TOKEN, USER_ID, f"clicked_{PHONE}", f"signup:{TOKEN}", f"uid-{PHONE}"]
PLANTED = [IP4, IP6, "2001:db8:85a3:0:0:8a2e:370:7334", EMAIL, "alice.leak", TOKEN, SESSION,
           UA, "LeakMarker", "555-0123-4567", "user-8812345", PHONE, USER_ID]
PLANTED_BYTES = [ipaddress.ip_address(IP4).packed, ipaddress.ip_address(IP6).packed]


def traffic(guard: BeaconGuard) -> None:
    with TestClient(guard, client=("127.0.0.1", 5000)) as client:
        for ip in (IP4, IP6):
            headers = {"user-agent": UA, "x-forwarded-for": ip, "cookie": f"session={SESSION}",
                       "referer": f"https://partner.example/p?email={EMAIL}&t={TOKEN}"}
            client.get(f"/products/8812345?utm_source={EMAIL}&utm_campaign={TOKEN}"
                       f"&session={SESSION}", headers=headers)
            client.get(f"/shop/{EMAIL}/items/{TOKEN}", headers=headers)
            client.get("/", headers={**headers, "referer": f"https://{IP4}/{EMAIL}"})
            client.get("/", headers={**headers, "referer": f"https://{TOKEN}.example.com/"})
            beacon = {"u": f"http://testserver/users/{EMAIL}/555-0123-4567?utm_medium={TOKEN}"
                           f"&uid=user-8812345",
                      "r": f"https://partner.example/{TOKEN}?e={EMAIL}",
                      "e": "signup", "p": {"plan": EMAIL}}
            r = client.post("/_bg/e", content=json.dumps(beacon),
                            headers={**headers, "content-type": "application/json"})
            assert r.status_code == 204
            r = client.get("/_bg/b.gif", params={"u": f"http://testserver/{TOKEN}", "r": EMAIL},
                           headers=headers)
            assert r.status_code == 200
            for name in EVENT_NAMES:  # refused on every way in, so never stored
                r = client.post("/_bg/e", content=json.dumps({"u": "http://testserver/x",
                                                              "e": name}),
                                headers={**headers, "content-type": "application/json"})
                assert r.status_code == 400, (name, r.text)
                r = client.get("/_bg/b.gif", params={"u": "http://testserver/y", "e": name},
                               headers=headers)
                assert r.status_code == 400, (name, r.text)
                plausible = {"n": name.replace("_", " "), "u": "http://testserver/z",
                             "d": "testserver"}
                r = client.post("/api/event", content=json.dumps(plausible),
                                headers={**headers, "content-type": "text/plain"})
                assert r.status_code == 400, (name, r.text)
    guard.close()


def assert_clean(blob: bytes, what: str) -> None:
    assert len(blob) > 0
    low = blob.lower()
    for planted in PLANTED:
        assert planted.lower().encode() not in low, f"{planted!r} found in {what}"
    for raw in PLANTED_BYTES:
        assert raw not in blob, f"packed address found in {what}"


def test_sqlite_file_holds_no_identifier(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "stats.db"
    guard = BeaconGuard(starlette_app(),
                        settings=make_settings(store=f"sqlite:///{db}", cookieless=True,
                                               trusted_proxies=("127.0.0.1",),
                                               beacon_props=("plan",),
                                               plausible_path="/api/event"))
    traffic(guard)
    files = sorted(tmp_path.glob("stats.db*"))
    blob = b"".join(p.read_bytes() for p in files)
    assert_clean(blob, ", ".join(p.name for p in files))
    assert b"/products/{id}" in blob  # the traffic was counted, anonymized
    assert b"signup" in blob  # a label-like event name is kept


@pytest.mark.redis
def test_redis_holds_no_identifier(redis_url: str, make_settings) -> None:  # type: ignore[no-untyped-def]
    import redis


    guard = BeaconGuard(starlette_app(), settings=make_settings(
        store=redis_url, cookieless=True, trusted_proxies=("127.0.0.1",),
        beacon_props=("plan",), plausible_path="/api/event"))
    traffic(guard)
    r = redis.Redis.from_url(redis_url)
    parts: list[bytes] = []
    for key in r.keys("*"):
        parts.append(key)
        kind = r.type(key)
        if kind == b"string":
            parts.append(r.get(key) or b"")
        elif kind == b"hash":
            for f, v in r.hgetall(key).items():
                parts += [f, v]
        else:  # the store writes no other type; if it ever does, look at it too
            parts.append(repr(kind).encode())
            parts.append(r.dump(key) or b"")
    r.close()
    blob = b"\n".join(parts)
    assert_clean(blob, "redis")
    assert b"/products/{id}" in blob
    assert b"signup" in blob
