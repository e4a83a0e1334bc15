"""The gate in the middleware: same-response Set-Cookie removal, request Cookie stripping,
purges, precedence (cookie → GPC → region → default), cache marking."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from beaconguard import BeaconGuard, consent_for
from beaconguard.consent.gate import ConsentGate, _domain_variants
from tests.consent.conftest import (
    ORIGIN,
    REGISTRY,
    asgi_request,
    decide,
    expired,
    make_site,
    set_cookie_names,
)
from tests.support.geoip import build_country_mmdb

ALL = ["session", "lang", "_ga", "_ga_ABC123", "_hjAbc_ses1", "_fbp", "ad_id", "mystery"]


def test_default_state_removes_every_optional_set_cookie_in_the_same_response(make_client):
    client, _ = make_client()
    response = client.get("/cookies")
    assert response.status_code == 200
    # Exact (_ga, HttpOnly too), prefix (_ga_*, ad_*) and glob (_hj*_ses?) names all go;
    # necessary and (report mode) unregistered ones stay.
    assert set_cookie_names(response) == ["session", "mystery"]
    assert response.json()["state"] == "default"
    # Other headers are untouched.
    assert response.headers["content-type"] == "application/json"
    assert int(response.headers["content-length"]) == len(response.content)


def test_statistics_granted_keeps_statistics_cookies_only(make_client):
    client, _ = make_client()
    decide(client, statistics=True)
    names = set_cookie_names(client.get("/cookies"))
    assert names == ["session", "_ga", "_ga_ABC123", "_hjAbc_ses1", "mystery"]


def test_accept_all_leaves_the_response_untouched(make_client):
    client, _ = make_client()
    decide(client, all=True)
    response = client.get("/cookies")
    assert set_cookie_names(response) == ALL
    assert "cache-control" not in response.headers
    # The app's own HttpOnly flag survives.
    ga = next(h for h in response.headers.get_list("set-cookie") if h.startswith("_ga="))
    assert "httponly" in ga.lower()


def test_unregistered_block_mode_removes_from_response_and_request(make_client):
    client, guard = make_client(unregistered_cookies="block")
    decide(client, all=True)
    assert "mystery" not in set_cookie_names(client.get("/cookies"))
    start, _ = asgi_request(guard, "/cookies", [(b"cookie", b"mystery=1; session=a")])
    assert start["status"] == 200


def test_unregistered_allow_mode_keeps_it_silently(make_client, caplog):
    client, guard = make_client(unregistered_cookies="allow")
    with caplog.at_level(logging.WARNING, "beaconguard.consent"):
        assert "mystery" in set_cookie_names(client.get("/cookies"))
    assert not caplog.records
    assert guard.consent is not None and guard.consent.reported == set()


def test_unregistered_report_mode_reports_each_name_once(make_client, caplog):
    client, guard = make_client(unregistered_cookies="report")
    with caplog.at_level(logging.WARNING, "beaconguard.consent"):
        client.get("/cookies")
        client.get("/cookies")
    messages = [r.getMessage() for r in caplog.records if "mystery" in r.getMessage()]
    assert len(messages) == 1
    assert guard.consent is not None and guard.consent.reported == {"mystery"}


def test_request_cookie_header_is_stripped_before_the_app_sees_it(make_client):
    client, _ = make_client()
    client.cookies.set("session", "s1")
    client.cookies.set("_ga", "GA1.1.1")
    client.cookies.set("_ga_X", "1")
    client.cookies.set("_fbp", "fb.1")
    client.cookies.set("mystery", "m")
    seen = client.get("/cookies").json()["cookies"]
    assert seen == {"session": "s1", "mystery": "m"}


def test_request_stripping_joins_split_cookie_headers(make_client):
    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = [v for k, v in scope["headers"] if k == b"cookie"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    _, guard = make_client()
    guard.app = app
    # HTTP/2 may send one Cookie header per cookie.
    asgi_request(guard, "/x", [(b"cookie", b"_ga=1"), (b"cookie", b"session=2"),
                               (b"cookie", b"_fbp=3")])
    assert seen["headers"] == [b"session=2"]


def test_one_cookie_header_is_filtered_per_state_it_meets(make_client, tmp_path: Path):
    """The parse of a Cookie header is remembered; what passes is still decided by each
    request's own state (here GPC on one request and not on the other)."""
    seen: list[list[bytes]] = []

    async def app(scope, receive, send):
        seen.append([v for k, v in scope["headers"] if k == b"cookie"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    db = build_country_mmdb(tmp_path / "c.mmdb", {"1.2.3.0/24": "US"})
    _, guard = make_client(geoip_db=str(db), region_defaults={"US": "opt-out"})
    guard.app = app
    header = (b"cookie", b"session=1; _ga=2; _fbp=3")
    asgi_request(guard, "/x", [header], client="1.2.3.4")
    asgi_request(guard, "/x", [header, (b"sec-gpc", b"1")], client="1.2.3.4")
    asgi_request(guard, "/x", [header], client="1.2.3.4")
    asgi_request(guard, "/x", [header], client="5.6.7.8")
    assert seen == [[b"session=1; _ga=2; _fbp=3"], [b"session=1; _ga=2"],
                    [b"session=1; _ga=2; _fbp=3"], [b"session=1"]]


def test_cookie_header_parse_cache_is_bounded(make_client):
    from beaconguard.consent import gate as gate_module

    _, guard = make_client()
    gate = guard.consent
    for i in range(gate_module._PARSED_CACHE + 50):
        asgi_request(guard, "/x", [(b"cookie", b"_fbp=%d; session=%d" % (i, i))])
    assert len(gate._parsed) == gate_module._PARSED_CACHE
    huge = b"_fbp=1; pad=" + b"x" * gate_module._MAX_CACHED_HEADER
    _, headers = asgi_request(guard, "/cookies", [(b"cookie", huge)])
    assert huge not in gate._parsed
    # Not remembered, still filtered: the denied _fbp the browser holds is expired.
    assert any(v.startswith(b"_fbp=;") for k, v in headers if k == b"set-cookie")


def test_cookie_header_names_in_any_case_are_gated(make_client):
    """ASGI asks servers for lower-case names; one that is not must not skip the gate."""
    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = [(k, v) for k, v in scope["headers"] if k.lower() == b"cookie"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    _, guard = make_client()
    guard.app = app
    asgi_request(guard, "/x", [(b"Cookie", b"_ga=GA1.2.secret; session=2"),
                               (b"COOKIE", b"_fbp=3")])
    assert seen["headers"] == [(b"cookie", b"session=2")]


def test_headers_given_as_a_one_shot_iterable(make_client):
    """ASGI promises an iterable of headers, not a list: read once, still seen by the app."""
    import anyio

    seen = {}

    async def app(scope, receive, send):
        seen["headers"] = list(scope["headers"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        return None

    _, guard = make_client()
    guard.app = app
    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "/x",
             "raw_path": b"/x", "query_string": b"", "root_path": "",
             "headers": iter([(b"host", b"testserver"), (b"cookie", b"session=1; _fbp=2")]),
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
    anyio.run(guard, scope, receive, send)
    assert seen["headers"] == [(b"host", b"testserver"), (b"cookie", b"session=1")]


def test_untouched_request_keeps_the_same_scope_headers(make_client):
    seen = {}
    original = [(b"host", b"testserver"), (b"cookie", b"session=1; other=2")]

    async def app(scope, receive, send):
        seen["headers"] = scope["headers"]
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    _, guard = make_client()
    guard.app = app
    asgi_request(guard, "/x", original)
    assert seen["headers"] == original


def test_denied_cookies_the_browser_still_sends_are_expired(make_client):
    client, _ = make_client()
    client.cookies.set("_ga", "GA1.1.1")
    response = client.get("/plain")
    gone = expired(response)
    assert any(h.startswith("_ga=;") and "Path=/" in h for h in gone)
    assert response.headers["cache-control"] == "private"


def test_withdrawal_purges_every_domain_and_path_variant(make_client):
    client, _ = make_client()
    decide(client, all=True)
    client.cookies.set("_ga_XYZ", "1")
    client.cookies.set("ad_id", "1")
    response = client.post(
        "/_bg/consent",
        json={"preferences": True},
        headers={"origin": "http://a.b.shop.example", "host": "a.b.shop.example",
                 "referer": "http://a.b.shop.example/blog/post"},
    )
    assert response.status_code == 200
    gone = expired(response)
    domains = {None, "a.b.shop.example", "b.shop.example", "shop.example"}
    for name in ("_ga", "_fbp", "_ga_XYZ", "ad_id"):
        headers = [h for h in gone if h.startswith(name + "=;")]
        seen_domains = {
            next((p.split("=", 1)[1] for p in h.split("; ") if p.startswith("Domain=")), None)
            for h in headers
        }
        assert seen_domains == domains, name
        paths = {next(p.split("=", 1)[1] for p in h.split("; ") if p.startswith("Path="))
                 for h in headers}
        assert {"/", "/blog"} <= paths, name
    ad_paths = {p for h in gone if h.startswith("ad_id=;") for p in h.split("; ")}
    assert "Path=/ads" in ad_paths
    # Preferences stayed granted; necessary is never purged; a third party's cookie
    # cannot be named on this host.
    assert not any(h.startswith(("lang=", "session=", "fr=")) for h in gone)
    assert all("Max-Age=0" in h and "1970" in h for h in gone)


def test_domain_variants():
    assert _domain_variants("127.0.0.1:8000") == [None]
    assert _domain_variants("[::1]:8000") == [None]
    assert _domain_variants("localhost") == [None]
    assert _domain_variants("www.shop.co.uk") == [None, "www.shop.co.uk", "shop.co.uk", "co.uk"]
    assert _domain_variants("evil.example; Domain=x") == [None]
    deep = _domain_variants("a.b.c.d.e.f.g.example.com")
    assert deep[:2] == [None, "a.b.c.d.e.f.g.example.com"] and deep[-1] == "example.com"
    assert len(deep) <= 6


def test_https_purge_headers_are_secure(make_client):
    _, guard = make_client()
    gate = guard.consent
    assert gate is not None
    headers = gate.expire_headers(["_ga", "__Host-x", "__Secure-y"], "shop.example", True)
    assert all(b"; Secure" in v for _, v in headers)
    host_only = [v for _, v in headers if v.startswith(b"__Host-x")]
    assert host_only == [b"__Host-x=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; "
                         b"Path=/; Secure"]
    plain = gate.expire_headers(["__Secure-y"], "shop.example", False)
    assert all(b"; Secure" in v for _, v in plain)


def test_clear_site_data_on_withdraw_everything(make_client):
    client, _ = make_client(consent_clear_site_data=True)
    decide(client, all=True)
    response = client.delete("/_bg/consent", headers={"origin": ORIGIN})
    assert response.status_code == 200
    assert response.headers["clear-site-data"] == '"cookies"'
    gone = expired(response)
    assert any(h.startswith("bg_consent=;") for h in gone)
    assert any(h.startswith("_fbp=;") for h in gone)
    assert client.get("/_bg/consent").json()["decided"] is False


def test_no_clear_site_data_unless_configured(make_client):
    client, _ = make_client()
    decide(client, all=True)
    response = client.delete("/_bg/consent", headers={"origin": ORIGIN})
    assert "clear-site-data" not in response.headers


def test_the_apps_own_deletions_pass(make_client):
    from starlette.responses import Response

    async def app(scope, receive, send):
        response = Response("bye")
        response.delete_cookie("_fbp")
        await response(scope, receive, send)

    _, guard = make_client()
    guard.app = app
    _, headers = asgi_request(guard, "/")
    assert any(k == b"set-cookie" and v.startswith(b"_fbp=") for k, v in headers)


# -- precedence ----------------------------------------------------------------------------


def test_gpc_denies_marketing_over_a_region_default(make_client, tmp_path: Path):
    db = build_country_mmdb(tmp_path / "c.mmdb", {"1.2.3.0/24": "US"})
    _, guard = make_client(geoip_db=str(db), region_defaults={"US": "opt-out"})
    gate = guard.consent
    assert gate is not None
    plain = gate.resolve(None, gpc=False, client="1.2.3.4")
    assert plain.source == "region" and plain.allows("marketing") and plain.allows("statistics")
    gpc = gate.resolve(None, gpc=True, client="1.2.3.4")
    assert gpc.source == "gpc"
    assert not gpc.allows("marketing") and gpc.allows("statistics")


def test_gpc_can_deny_statistics_too(make_client, tmp_path: Path):
    db = build_country_mmdb(tmp_path / "c.mmdb", {"1.2.3.0/24": "US"})
    _, guard = make_client(geoip_db=str(db), region_defaults={"*": "opt-out"},
                           gpc_denies_statistics=True)
    gate = guard.consent
    assert gate is not None
    gpc = gate.resolve(None, gpc=True, client="1.2.3.4")
    assert not gpc.allows("statistics") and gpc.allows("preferences")


def test_explicit_choice_beats_gpc(make_client):
    client, _ = make_client()
    decide(client, marketing=True)
    response = client.get("/cookies", headers={"sec-gpc": "1"})
    assert response.json()["state"] == "explicit"
    assert "_fbp" in set_cookie_names(response)


def test_gpc_without_a_choice(make_client):
    client, _ = make_client()
    response = client.get("/cookies", headers={"sec-gpc": "1"})
    assert response.json()["state"] == "gpc"
    assert response.json()["allowed"] == ["necessary"]


def test_region_default_by_country_from_a_test_mmdb(make_client, tmp_path: Path):
    db = build_country_mmdb(
        tmp_path / "c.mmdb", {"81.2.69.0/24": "GB", "2.16.0.0/16": "DE", "1.2.3.0/24": "US"}
    )
    _, guard = make_client(
        geoip_db=str(db), region_defaults={"EEA": "opt-in", "GB": "opt-in", "*": "opt-out"}
    )

    def names(client_ip: str) -> list[bytes]:
        _, headers = asgi_request(guard, "/cookies", client=client_ip)
        return [v.split(b"=", 1)[0] for k, v in headers if k == b"set-cookie"]

    assert b"_fbp" in names("1.2.3.4")  # US: opt-out
    assert b"_fbp" not in names("81.2.69.160")  # GB: opt-in
    assert b"_ga" not in names("2.16.1.1")  # DE (in the EEA group): opt-in
    assert b"_ga" not in names("9.9.9.9")  # unknown country: the global default


def test_region_uses_the_client_behind_a_trusted_proxy(make_client, tmp_path: Path):
    db = build_country_mmdb(tmp_path / "c.mmdb", {"1.2.3.0/24": "US"})
    _, guard = make_client(geoip_db=str(db), region_defaults={"US": "opt-out"},
                           trusted_proxies=("10.0.0.0/8",))
    _, headers = asgi_request(guard, "/cookies", [(b"x-forwarded-for", b"1.2.3.4")],
                              client="10.0.0.2")
    assert any(v.startswith(b"_fbp=") for k, v in headers if k == b"set-cookie")


def test_policy_revision_bump_forces_a_new_decision(make_client, make_settings):
    client, _ = make_client(policy_revision=1)
    decide(client, all=True)
    assert client.get("/_bg/consent").json()["decided"] is True
    cookie = client.cookies.get("bg_consent")
    bumped = BeaconGuard(make_site(), settings=make_settings(cookie_registry=REGISTRY,
                                                              policy_revision=2))
    _, headers = asgi_request(bumped, "/cookies", [(b"cookie", f"bg_consent={cookie}".encode())])
    assert [v.split(b"=", 1)[0] for k, v in headers if k == b"set-cookie"] == [
        b"session", b"mystery"
    ]
    gate = bumped.consent
    assert gate is not None
    assert gate.resolve(cookie, gpc=False).source == "default"


# -- what the app and the other parts read ----------------------------------------------------


def test_state_on_scope_and_visit(make_client):
    visits = []
    client, guard = make_client()
    guard.consumers.append(lambda visit, record: visits.append(visit))
    guard._has_consumers = True
    decide(client, statistics=True)
    client.get("/cookies")
    state = visits[-1].consent
    assert state.source == "explicit" and state.allows("statistics")
    assert not state.allows("marketing") and state.allows("necessary")


def test_consent_off_means_no_gate(make_client):
    visits = []
    client, guard = make_client(consent=False)
    guard.consumers.append(lambda visit, record: visits.append(visit))
    guard._has_consumers = True
    assert guard.consent is None
    response = client.get("/cookies")
    assert set_cookie_names(response) == ALL
    assert response.json()["state"] is None
    assert visits[-1].consent is None
    assert client.get("/_bg/consent").status_code == 404


def test_consent_for_reads_a_scope():
    assert consent_for({"type": "http"}) is None
    assert consent_for({"state": {}}) is None


def test_on_decision_callback_gets_each_explicit_decision(make_client):
    got = []
    client, guard = make_client()
    assert guard.consent is not None
    guard.consent.on_decision = lambda decisions, source: got.append((dict(decisions), source))
    decide(client, statistics=True)
    decide(client, all=False)
    client.get("/cookies")  # not a decision
    assert got == [
        ({"necessary": True, "preferences": False, "statistics": True, "marketing": False},
         "explicit"),
        ({"necessary": True, "preferences": False, "statistics": False, "marketing": False},
         "explicit"),
    ]


def test_a_withdrawal_reaches_the_callback_as_its_own_source(make_client):
    # The banner withdraws (DELETE) and then records the new choice (POST): the choice is
    # the "explicit" decision, the withdrawal is counted apart.
    got = []
    client, guard = make_client()
    assert guard.consent is not None
    decide(client, all=True)
    guard.consent.on_decision = lambda decisions, source: got.append(source)
    client.delete("/_bg/consent", headers={"origin": ORIGIN})
    decide(client, all=False)
    assert got == ["withdraw", "explicit"]


def test_a_failing_callback_does_not_break_the_decision(make_client):
    client, guard = make_client()
    assert guard.consent is not None

    def broken(decisions, source):
        raise RuntimeError("store down")

    guard.consent.on_decision = broken
    assert decide(client, all=True).json()["decided"] is True


def test_gate_constructor_takes_the_callback(make_settings):
    got = []
    gate = ConsentGate(make_settings(), on_decision=lambda d, s: got.append(s))
    gate.record_decision(gate.cookie.dumps({"statistics": True})[1])
    assert got == ["explicit"]


# -- caching -------------------------------------------------------------------------------


def test_changed_response_is_private_to_shared_caches(make_client):
    client, _ = make_client()
    assert client.get("/cookies").headers["cache-control"] == "private"


def test_app_cache_control_is_narrowed_not_replaced(make_client):
    client, _ = make_client()
    decide(client, statistics=True)
    response = client.get("/html", params={"cache": "public, max-age=60, s-maxage=600"})
    assert response.headers["cache-control"] == "private, max-age=60"
    response = client.get("/html", params={"cache": "no-store"})
    assert response.headers["cache-control"] == "no-store"


def test_untouched_response_is_left_alone(make_client):
    client, _ = make_client()
    response = client.get("/plain")
    assert "cache-control" not in response.headers
    assert "vary" not in response.headers
    assert "content-security-policy" not in response.headers


def test_strictest_html_is_still_shareable(make_client):
    # With nothing optional granted the CSP is the same for everyone: no need to mark it.
    client, _ = make_client(third_party_hosts={"marketing": ["pixel.example"]})
    response = client.get("/html")
    assert "content-security-policy" in response.headers
    assert "cache-control" not in response.headers


@pytest.mark.parametrize("path", ["/_bg/consent", "/.well-known/gpc.json"])
def test_own_endpoints_are_not_filtered(make_client, path):
    client, _ = make_client()
    assert client.get(path).status_code == 200


def test_raw_cookie_header_stays_out_of_the_visit(make_client):
    visits = []
    client, guard = make_client()
    guard.consumers.append(lambda visit, record: visits.append(visit))
    guard._has_consumers = True
    client.cookies.set("session", "s3cr3t-session-token")
    client.get("/cookies")
    assert "cookie" not in visits[-1].headers
    assert "s3cr3t-session-token" not in repr(vars(visits[-1]) if hasattr(visits[-1], "__dict__")
                                              else [getattr(visits[-1], a)
                                                    for a in type(visits[-1]).__slots__])
