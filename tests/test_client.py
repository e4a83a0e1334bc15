from beaconguard.client import make_client_resolver, parse_forwarded, parse_x_forwarded_for


def test_untrusted_peer_headers_ignored() -> None:
    resolve = make_client_resolver([])
    assert resolve("198.51.100.1", "203.0.113.9", "for=203.0.113.9") == "198.51.100.1"
    resolve = make_client_resolver(["10.0.0.0/8"])
    assert resolve("198.51.100.1", "203.0.113.9", None) == "198.51.100.1"


def test_trusted_proxy_chain_read_from_the_right() -> None:
    resolve = make_client_resolver(["10.0.0.0/8", "127.0.0.1"])
    # The client can put anything at the left; the first untrusted hop from the right wins.
    assert resolve("127.0.0.1", "6.6.6.6, 203.0.113.9, 10.1.2.3", None) == "203.0.113.9"
    assert resolve("127.0.0.1", None, None) == "127.0.0.1"
    assert resolve("10.0.0.1", "10.0.0.2, 10.0.0.3", None) == "10.0.0.2"


def test_forwarded_header() -> None:
    resolve = make_client_resolver(["127.0.0.1"])
    fwd = 'for=192.0.2.60;proto=http;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    assert resolve("127.0.0.1", "9.9.9.9", fwd) == "2001:db8:cafe::17"
    assert parse_forwarded(fwd) == ["192.0.2.60", "2001:db8:cafe::17"]
    assert parse_x_forwarded_for("1.2.3.4:80, [::1]:8") == ["1.2.3.4", "::1"]


def test_ipv4_mapped_peer_is_trusted() -> None:
    resolve = make_client_resolver(["127.0.0.1"])
    assert resolve("::ffff:127.0.0.1", "203.0.113.9", None) == "203.0.113.9"
