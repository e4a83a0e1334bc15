"""The beacon CSP: contents for each consent state, merging with the app's, report-only."""

from __future__ import annotations

import itertools

import pytest

from beaconguard.consent.categories import OPTIONAL
from beaconguard.consent.csp import GATED, CspBuilder, check_host
from tests.consent.conftest import decide

HOSTS = {
    "necessary": ["https://cdn.example"],
    "statistics": ["https://stats.example"],
    "marketing": ["https://pixel.example:8443", "*.ads.example"],
}


def parse(policy: bytes) -> dict[str, list[str]]:
    out = {}
    for part in policy.decode().split(";"):
        tokens = part.split()
        if tokens:
            out[tokens[0]] = tokens[1:]
    return out


@pytest.mark.parametrize("granted", [set(c) for n in range(4)
                                     for c in itertools.combinations(OPTIONAL, n)])
def test_each_state_allows_exactly_the_granted_hosts(granted):
    builder = CspBuilder(HOSTS)
    mask = sum(1 << i for i, name in enumerate(OPTIONAL) if name in granted)
    policy = parse(builder.policy(mask))
    assert set(policy) == set(GATED)
    for directive in GATED:
        sources = policy[directive]
        assert "'self'" in sources and "https://cdn.example" in sources
        assert ("https://stats.example" in sources) == ("statistics" in granted)
        assert ("https://pixel.example:8443" in sources) == ("marketing" in granted)
        assert ("*.ads.example" in sources) == ("marketing" in granted)
        assert "*" not in sources and "https:" not in sources


def test_report_only_uses_the_report_only_header():
    assert CspBuilder(HOSTS, report_only=True).header == b"content-security-policy-report-only"
    assert CspBuilder(HOSTS).header == b"content-security-policy"


def test_merge_keeps_the_apps_directives_and_removes_denied_hosts():
    builder = CspBuilder(HOSTS)
    app = (b"default-src 'self'; img-src 'self' https://pixel.example:8443 https://img.example; "
           b"script-src 'self' 'nonce-abc' *.ads.example; object-src 'none'; "
           b"report-uri /csp")
    policy = parse(builder.policy(0, app))
    assert policy["object-src"] == ["'none'"] and policy["report-uri"] == ["/csp"]
    assert policy["default-src"] == ["'self'"]
    assert policy["img-src"] == ["'self'", "https://img.example", "https://cdn.example"]
    assert policy["script-src"] == ["'self'", "'nonce-abc'", "https://cdn.example"]
    # connect-src and frame-src fall back to the app's default-src.
    assert policy["connect-src"] == ["'self'", "https://cdn.example"]
    granted = parse(builder.policy(0b100, app))
    assert "https://pixel.example:8443" in granted["img-src"]
    assert "*.ads.example" in granted["script-src"]


def test_merge_narrows_wildcards_and_keeps_none():
    builder = CspBuilder(HOSTS)
    policy = parse(builder.policy(0, b"img-src *; script-src https: 'unsafe-inline'; "
                                     b"frame-src 'none'"))
    assert policy["img-src"] == ["'self'", "https://cdn.example"]
    assert policy["script-src"] == ["'self'", "'unsafe-inline'", "https://cdn.example"]
    assert policy["frame-src"] == ["'none'"]


def test_wildcard_subdomain_covering_a_denied_host_is_removed():
    builder = CspBuilder({"marketing": ["connect.facebook.net"]})
    policy = parse(builder.policy(0, b"script-src 'self' *.facebook.net https://ok.example"))
    assert policy["script-src"] == ["'self'", "https://ok.example"]


@pytest.mark.parametrize("source", [
    "https://pixel.example:443", "http://pixel.example:80", "pixel.example:443",
    "https://PIXEL.example/", "https://pixel.example/tr/", "pixel.example:*", "pixel.example.",
    "wss://pixel.example",
])
def test_a_denied_host_goes_on_any_scheme_port_or_path(source):
    builder = CspBuilder({"marketing": ["https://pixel.example"]})
    policy = parse(builder.policy(0, f"img-src 'self' {source}; script-src {source}".encode()))
    assert policy["img-src"] == ["'self'"]
    assert policy["script-src"] == ["'none'"]
    granted = parse(builder.policy(0b100, f"img-src 'self' {source}".encode()))
    assert source in granted["img-src"]


def test_denied_wildcard_hosts_cover_their_subdomains():
    builder = CspBuilder({"marketing": ["*.ads.example"]})
    policy = parse(builder.policy(0, b"img-src 'self' https://x.ads.example ads.example.org"))
    assert policy["img-src"] == ["'self'", "ads.example.org"]


def test_strict_dynamic_goes_while_a_host_is_denied():
    # With 'strict-dynamic' browsers ignore host sources for scripts, so a nonced tag
    # manager could load the denied pixel's script: the keyword must go.
    builder = CspBuilder({"marketing": ["https://pixel.example"]})
    app = (b"script-src 'nonce-r4nd' 'strict-dynamic' https: 'unsafe-inline'; "
           b"default-src 'self' 'strict-dynamic'")
    policy = parse(builder.policy(0, app))
    assert "'strict-dynamic'" not in policy["script-src"]
    assert "'strict-dynamic'" not in policy["default-src"]
    assert policy["script-src"] == ["'self'", "'nonce-r4nd'", "'unsafe-inline'"]
    # Nothing denied (all granted): the app's policy keeps its keyword.
    everything = parse(builder.policy(0b111, app))
    assert "'strict-dynamic'" in everything["script-src"]
    assert "https://pixel.example" in everything["script-src"]


def test_denied_hosts_leave_default_src_and_other_fetch_directives():
    builder = CspBuilder({"marketing": ["https://pixel.example"]})
    app = (b"default-src 'self' https://pixel.example; style-src https://pixel.example "
           b"https://fonts.example; font-src *; media-src pixel.example:443; "
           b"object-src 'none'; form-action 'self'")
    policy = parse(builder.policy(0, app))
    assert policy["default-src"] == ["'self'"]
    assert policy["style-src"] == ["https://fonts.example"]
    assert policy["font-src"] == ["*"]  # the app's wildcard for fonts is its own choice
    assert policy["media-src"] == ["'none'"]
    assert policy["object-src"] == ["'none'"] and policy["form-action"] == ["'self'"]
    # The gated directives, falling back to default-src, lose the host as before.
    assert policy["img-src"] == ["'self'"]
    granted = parse(builder.policy(0b100, app))
    assert "https://pixel.example" in granted["default-src"]


def test_script_src_elem_is_gated_when_the_app_sends_it():
    builder = CspBuilder({"marketing": ["https://pixel.example"],
                          "statistics": ["https://stats.example"]})
    app = b"script-src 'self'; script-src-elem 'self' https://pixel.example *"
    policy = parse(builder.policy(0b010, app))
    assert policy["script-src-elem"] == ["'self'", "https://stats.example"]
    assert "script-src-elem" not in parse(builder.policy(0b010, b"script-src 'self'"))


def test_merged_policies_are_cached_and_bounded():
    builder = CspBuilder(HOSTS)
    for i in range(600):
        builder.policy(0, f"img-src 'nonce-{i}'".encode())
    assert len(builder._merged) <= 256


@pytest.mark.parametrize("bad", ["", "*", "https:", "a b", "x;y", "'self'"])
def test_bad_hosts_are_refused(bad):
    with pytest.raises(ValueError, match="third_party_hosts"):
        check_host(bad)


# -- through the gate ----------------------------------------------------------------------


def test_html_gets_the_policy_for_the_state(make_client):
    client, _ = make_client(third_party_hosts={"marketing": ["https://pixel.example"]})
    before = client.get("/html").headers["content-security-policy"]
    assert "pixel.example" not in before
    assert "content-security-policy" not in client.get("/cookies").headers  # JSON
    decide(client, marketing=True)
    after = client.get("/html").headers["content-security-policy"]
    assert "https://pixel.example" in parse(after.encode())["img-src"]


def test_app_policy_is_merged_not_duplicated(make_client):
    client, _ = make_client(third_party_hosts={"marketing": ["https://pixel.example"]})
    response = client.get("/html", params={"csp": "img-src https://pixel.example; base-uri 'none'"})
    values = response.headers.get_list("content-security-policy")
    assert len(values) == 1
    policy = parse(values[0].encode())
    assert policy["base-uri"] == ["'none'"]
    assert policy["img-src"] == ["'none'"]  # the only source was denied


def test_registry_third_party_domains_join_the_policy(make_client):
    client, _ = make_client()
    decide(client, marketing=True)
    policy = parse(client.get("/html").headers["content-security-policy"].encode())
    assert "facebook.com" in policy["img-src"] and "*.facebook.com" in policy["img-src"]


def test_report_only_mode(make_client):
    client, _ = make_client(csp_mode="report-only",
                            third_party_hosts={"marketing": ["https://pixel.example"]})
    response = client.get("/html", params={"csp": "img-src 'self'"})
    assert response.headers["content-security-policy"] == "img-src 'self'"  # the app's, as is
    report = parse(response.headers["content-security-policy-report-only"].encode())
    assert "https://pixel.example" not in report["img-src"]


def test_csp_off(make_client):
    client, _ = make_client(csp_mode="off", third_party_hosts={"marketing": ["pixel.example"]})
    response = client.get("/html")
    assert "content-security-policy" not in response.headers
    assert "content-security-policy-report-only" not in response.headers
