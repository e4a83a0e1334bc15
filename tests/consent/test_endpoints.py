"""``/_bg/consent`` (GET/POST/DELETE), ``/.well-known/gpc.json`` and the static assets."""

from __future__ import annotations

import gzip

import pytest

from tests.consent.conftest import ORIGIN, asgi_request, decide

SAME = {"origin": ORIGIN}


def test_get_answers_state_and_banner_text(make_client):
    client, _ = make_client(consent_text={"statistics": {"label": "Counting"}})
    body = client.get("/_bg/consent").json()
    assert body["decided"] is False and body["source"] == "default"
    assert body["decisions"]["necessary"] is True and body["decisions"]["marketing"] is False
    labels = {c["name"]: c["label"] for c in body["categories"]}
    assert labels["statistics"] == "Counting" and labels["marketing"] == "Marketing"
    assert body["banner"]["title"]


def test_post_json_sets_a_signed_httponly_lax_cookie(make_client):
    client, _ = make_client()
    response = decide(client, statistics=True, marketing=False)
    assert response.json()["decisions"]["statistics"] is True
    header = next(h for h in response.headers.get_list("set-cookie")
                  if h.startswith("bg_consent="))
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Path=/" in header
    assert "Max-Age=15552000" in header and "Secure" not in header
    assert response.headers["cache-control"] == "no-store"
    assert client.get("/_bg/consent").json()["decided"] is True


def test_secure_on_https(make_client):
    _, guard = make_client()
    start, headers = asgi_request(
        guard, "/_bg/consent", [(b"origin", b"https://testserver"),
                                (b"content-type", b"application/json")],
        method="POST", body=b'{"all": true}', scheme="https")
    assert start["status"] == 200
    cookie = next(v for k, v in headers if k == b"set-cookie")
    assert cookie.endswith(b"; Secure")


def test_post_form_and_redirect_back(make_client):
    client, _ = make_client()
    response = client.post("/_bg/consent", data={"choice": "custom", "preferences": "on"},
                           headers={**SAME, "referer": f"{ORIGIN}/blog/x?y=1"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/blog/x?y=1"
    state = client.get("/_bg/consent").json()["decisions"]
    assert state["preferences"] is True and state["statistics"] is False
    response = client.post("/_bg/consent", data={"choice": "accept_all"},
                           headers={**SAME, "referer": "http://evil.example/"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"
    response = client.post("/_bg/consent", data={"choice": "reject_all"},
                           headers={**SAME, "referer": f"{ORIGIN}//evil.example/x"},
                           follow_redirects=False)
    assert response.headers["location"] == "/"


def test_all_shortcut_and_overrides(make_client):
    client, _ = make_client()
    body = decide(client, all=True, marketing=False).json()["decisions"]
    assert body == {"necessary": True, "preferences": True, "statistics": True,
                    "marketing": False}


def test_reload_hint_when_a_granted_category_has_hosts(make_client):
    client, _ = make_client(third_party_hosts={"marketing": ["https://pixel.example"]})
    assert decide(client, statistics=True).json()["reload"] is False
    assert decide(client, marketing=True).json()["reload"] is True
    assert decide(client, marketing=True).json()["reload"] is False


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"ads": true}', "unknown category"),
        (b'{"statistics": "yes"}', "true or false"),
        (b'{"statistics": 1}', "true or false"),
        (b'{"necessary": false}', "cannot be refused"),
        (b'{"all": "yes"}', "'all'"),
    ],
)
def test_bad_json_gets_400_with_a_reason(make_client, body, reason):
    client, _ = make_client()
    response = client.post("/_bg/consent", content=body,
                           headers={**SAME, "content-type": "application/json"})
    assert response.status_code == 400
    assert reason in response.json()["error"]
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("form", "reason"),
    [
        ({"choice": "maybe"}, "choice"),
        ({"statistics": "perhaps"}, "on or off"),
        ({"tracking": "on"}, "unknown field"),
    ],
)
def test_bad_form_gets_400(make_client, form, reason):
    client, _ = make_client()
    response = client.post("/_bg/consent", data=form, headers=SAME)
    assert response.status_code == 400 and reason in response.json()["error"]


def test_undecodable_form_gets_400(make_client):
    client, _ = make_client()
    response = client.post("/_bg/consent", content=b"\xff\xfe=\x00",
                           headers={**SAME, "content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 400


def test_cross_origin_and_missing_origin_are_refused(make_client):
    client, _ = make_client()
    evil = client.post("/_bg/consent", json={"all": True},
                       headers={"origin": "http://evil.example"})
    assert evil.status_code == 403 and "cross-origin" in evil.json()["error"]
    null = client.post("/_bg/consent", json={"all": True}, headers={"origin": "null"})
    assert null.status_code == 403
    missing = client.post("/_bg/consent", json={"all": True})
    assert missing.status_code == 403 and "Origin" in missing.json()["error"]
    cross_site = client.post("/_bg/consent", json={"all": True},
                             headers={"sec-fetch-site": "cross-site"})
    assert cross_site.status_code == 403
    fetch_meta = client.post("/_bg/consent", json={"all": True},
                             headers={"sec-fetch-site": "same-origin"})
    assert fetch_meta.status_code == 200
    delete = client.delete("/_bg/consent", headers={"origin": "http://evil.example"})
    assert delete.status_code == 403


@pytest.mark.parametrize("origin", [
    "https://testserver",  # another scheme: another origin
    "http://testserver:8080",
    "http://testserver.evil.example",
    "http://user@testserver",
    "http://testserver/path",
    "testserver",
    "ftp://testserver",
    "http://",
])
def test_origin_must_match_scheme_host_and_port(make_client, origin):
    client, _ = make_client()
    response = client.post("/_bg/consent", json={"all": True}, headers={"origin": origin})
    assert response.status_code == 403 and "cross-origin" in response.json()["error"]
    delete = client.delete("/_bg/consent", headers={"origin": origin})
    assert delete.status_code == 403


@pytest.mark.parametrize(("scheme", "host", "origin"), [
    ("http", b"testserver", "http://testserver:80"),
    ("http", b"testserver:80", "http://testserver"),
    ("https", b"shop.example", "https://shop.example"),
    ("https", b"shop.example:443", "https://SHOP.example"),
    ("http", b"127.0.0.1:8000", "http://127.0.0.1:8000"),
    ("http", b"[::1]:8000", "http://[::1]:8000"),
])
def test_same_origin_with_default_ports_and_case(make_client, scheme, host, origin):
    _, guard = make_client()
    start, _ = asgi_request(
        guard, "/_bg/consent",
        [(b"host", host), (b"origin", origin.encode()), (b"content-type", b"application/json")],
        method="POST", body=b'{"all": true}', scheme=scheme,
    )
    assert start["status"] == 200


def test_https_page_on_an_http_scope_is_refused(make_client):
    # Behind a TLS-terminating proxy without --proxy-headers the app sees http: the
    # check refuses rather than guesses (the README says how to configure the proxy).
    _, guard = make_client()
    start, _ = asgi_request(
        guard, "/_bg/consent",
        [(b"host", b"shop.example"), (b"origin", b"https://shop.example"),
         (b"content-type", b"application/json")],
        method="POST", body=b'{"all": true}', scheme="http",
    )
    assert start["status"] == 403


def test_wrong_type_size_and_method(make_client):
    client, _ = make_client()
    assert client.post("/_bg/consent", content=b"x", headers={
        **SAME, "content-type": "text/plain"}).status_code == 415
    big = client.post("/_bg/consent", content=b"{" + b" " * 5000 + b"}",
                      headers={**SAME, "content-type": "application/json"})
    assert big.status_code == 413
    put = client.put("/_bg/consent", json={}, headers=SAME)
    assert put.status_code == 405 and "POST" in put.headers["allow"]


def test_gpc_json(make_client):
    client, _ = make_client()
    response = client.get("/.well-known/gpc.json")
    assert response.status_code == 200 and response.json() == {"gpc": True}
    assert client.post("/.well-known/gpc.json").status_code == 405


def test_static_assets(make_client):
    client, _ = make_client()
    for name, ctype in [("consent.js", "text/javascript"), ("banner.js", "text/javascript"),
                        ("banner.css", "text/css")]:
        response = client.get(f"/_bg/static/{name}", headers={"accept-encoding": "identity"})
        assert response.status_code == 200 and response.headers["content-type"].startswith(ctype)
        etag = response.headers["etag"]
        assert client.get(f"/_bg/static/{name}",
                          headers={"if-none-match": etag}).status_code == 304
    zipped = client.get("/_bg/static/consent.js", headers={"accept-encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert b"data-consent" in zipped.content  # httpx decodes it


def test_route_prefix_moves_the_endpoints(make_client):
    client, _ = make_client(route_prefix="/privacy")
    assert client.get("/privacy/consent").status_code == 200
    assert client.get("/privacy/static/consent.js").status_code == 200
    assert client.get("/_bg/consent").status_code == 404


def test_activation_script_is_under_2kb_gzipped():
    from importlib import resources

    body = resources.files("beaconguard").joinpath("static", "consent.js").read_bytes()
    assert len(gzip.compress(body, 9)) < 2048
