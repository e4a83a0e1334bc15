"""Plant raw identifiers in requests; no sink may ever show one of them.

Every capability adds its own sinks to the leak tests; this one guards the access log's
three sinks (file, stdout, logging) and the uvicorn access-log filter.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from beaconguard import AnonymizingAccessFilter, BeaconGuard
from tests.support.apps import starlette_app

IPV4 = "203.0.113.77"
IPV6 = "2001:db8:85a3:8d3:1319:8a2e:370:7348"
MAPPED = "::ffff:198.51.100.23"
MAPPED_V4 = "198.51.100.23"
UNTRUSTED_XFF = "192.0.2.99"
EMAIL_QUERY = "alice.planted@example.com"
EMAIL_PATH = "bob.planted@example.org"
SESSION = "S3cr3tSess10nValue9876zz"
BEARER = "tok_PlantedBearer1234567890"
TOKEN40 = "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0"
FULL_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.91 Safari/537.36 PlantedBuild/77.1.2"
)
PLANTED = [IPV4, IPV6, MAPPED, MAPPED_V4, UNTRUSTED_XFF, EMAIL_QUERY, EMAIL_PATH, SESSION,
           BEARER, TOKEN40, FULL_UA, "6367.91", "PlantedBuild", "85a3:8d3:1319"]


def drive(app: BeaconGuard) -> None:
    headers = {
        "user-agent": FULL_UA,
        "cookie": f"sessionid={SESSION}; theme=dark",
        "authorization": f"Bearer {BEARER}",
        "referer": f"https://other.example/profile/{EMAIL_QUERY}?ip={IPV4}",
    }
    # A trusted proxy (127.0.0.1) forwarding for a real client, and an untrusted peer
    # trying to spoof X-Forwarded-For.
    with TestClient(app, client=("127.0.0.1", 1)) as c:
        c.get(f"/products/1?email={EMAIL_QUERY}&utm_term={EMAIL_QUERY}", headers={
            **headers, "x-forwarded-for": f"{UNTRUSTED_XFF}, {IPV4}"})
        c.get(f"/u/{EMAIL_PATH}/{TOKEN40}?token={TOKEN40}", headers={
            **headers, "forwarded": f'for="[{IPV6}]:443"'})
    with TestClient(app, client=(MAPPED, 2)) as c:
        c.get(f"/nope/{TOKEN40}", headers={**headers, "x-forwarded-for": UNTRUSTED_XFF})
    with TestClient(app, client=(IPV6, 3)) as c:
        c.get("/", headers=headers)


def assert_clean(output: str) -> None:
    for raw in PLANTED:
        assert raw not in output, f"planted value {raw!r} leaked"
    # ... while what is promised to be kept is there.
    for expected in ("203.0.113.0", "2001:db8:85a3::", "198.51.100.0", "/u/{email}/{token}",
                     "utm_term={redacted}", '"browser":"Chrome"', '"referrer":"https://other.example"'):
        assert expected in output, f"expected {expected!r} in the log"


def test_file_sink(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    drive(BeaconGuard(starlette_app(), settings=make_settings(
        access_log=str(log), trusted_proxies=("127.0.0.1",))))
    output = log.read_text()
    assert output.count("\n") == 4
    assert_clean(output)


def test_stdout_sink(capfd: pytest.CaptureFixture[str], make_settings) -> None:  # type: ignore[no-untyped-def]
    drive(BeaconGuard(starlette_app(), settings=make_settings(
        access_log="-", trusted_proxies=("127.0.0.1",))))
    out, err = capfd.readouterr()
    assert_clean(out)
    for raw in PLANTED:
        assert raw not in err


def test_logging_sink(caplog: pytest.LogCaptureFixture, make_settings) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.INFO):
        drive(BeaconGuard(starlette_app(), settings=make_settings(
            access_log="logging:beaconguard.access", trusted_proxies=("127.0.0.1",))))
    # Only beaconguard's own records: the test client logs the raw URLs it sends.
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("beaconguard")]
    assert len(ours) == 4
    assert_clean("\n".join(ours))


def test_hash_mode_file_sink(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    drive(BeaconGuard(starlette_app(), settings=make_settings(
        access_log=str(log), ip_mode="hash", trusted_proxies=("127.0.0.1",))))
    output = log.read_text()
    for raw in [*PLANTED, "203.0.113.0", "test-secret-key"]:
        assert raw not in output


def test_uvicorn_filter() -> None:
    from beaconguard import Settings

    f = AnonymizingAccessFilter(Settings())
    lines = []
    for client, target in [
        # uvicorn writes "host:port", IPv6 without brackets; bracketed and bare forms too.
        (f"{IPV4}:5000", f"/u/{EMAIL_PATH}/{TOKEN40}?email={EMAIL_QUERY}&t={TOKEN40}"),
        (f"{IPV6}:443", "/"),
        (f"[{IPV6}]:443", "/"),
        (f"{MAPPED}:5000", "/"),
        (f"{MAPPED}", "/"),
    ]:
        record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                                   '%s - "%s %s HTTP/%s" %d', (client, "GET", target, "1.1", 200),
                                   None)
        f.filter(record)
        lines.append(record.getMessage())
    output = "\n".join(lines)
    for raw in PLANTED:
        assert raw not in output
    assert [line.split(" ", 1)[0] for line in lines] == [
        "203.0.113.0", "2001:db8:85a3::", "2001:db8:85a3::", "198.51.100.0", "198.51.100.0"]
    assert '"GET /u/{email}/{token} HTTP/1.1"' in lines[0]


def test_real_uvicorn_access_log_through_the_filter(tmp_path: Path) -> None:
    # The way a user keeps uvicorn's own log: a --log-config naming the filter, behind a
    # trusted proxy (--proxy-headers), so uvicorn itself logs the forwarded client address.
    import json
    import urllib.request

    from tests.support.server import uvicorn_server

    log = tmp_path / "uvicorn-access.log"
    config = {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"anon": {"()": "beaconguard.AnonymizingAccessFilter"}},
        "formatters": {"access": {
            "()": "uvicorn.logging.AccessFormatter",
            "fmt": '%(client_addr)s - "%(request_line)s" %(status_code)s',
            "use_colors": False,
        }},
        "handlers": {"file": {"class": "logging.FileHandler", "filename": str(log),
                              "formatter": "access", "filters": ["anon"]}},
        "loggers": {"uvicorn.access": {"handlers": ["file"], "level": "INFO",
                                       "propagate": False}},
    }
    path = tmp_path / "log.json"
    path.write_text(json.dumps(config))
    args = ("--factory", "--access-log", "--log-level", "info", "--log-config", str(path),
            "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    with uvicorn_server("tests.support.apps:starlette_app", args=args) as base:
        for client in (IPV4, IPV6, MAPPED):
            request = urllib.request.Request(
                f"{base}/products/{TOKEN40}?email={EMAIL_QUERY}&t={TOKEN40}&utm_source=x",
                headers={"x-forwarded-for": client, "user-agent": FULL_UA,
                         "cookie": f"sessionid={SESSION}"},
            )
            with urllib.request.urlopen(request, timeout=5) as response:
                assert response.status == 200
    output = log.read_text()
    for raw in [*PLANTED, "127.0.0.1"]:
        assert raw not in output
    lines = [line for line in output.splitlines() if "/products/" in line]  # not the probe
    assert [line.split(" ", 1)[0] for line in lines] == [
        "203.0.113.0", "2001:db8:85a3::", "198.51.100.0"]
    assert all('"GET /products/{token}?utm_source=x HTTP/1.1" 200' in line for line in lines)
