from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.testclient import TestClient

from beaconguard import BeaconGuard
from tests.support.apps import starlette_app

UA = "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0"


def read_log(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_one_json_line_per_request(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    with TestClient(app, client=("203.0.113.77", 5000)) as client:
        r = client.get(
            "/products/8812?utm_source=news&q=secret",
            headers={"user-agent": UA, "referer": "https://search.example/?q=alice"},
        )
        assert r.status_code == 200
    (line,) = read_log(log)
    assert line["path"] == "/products/{id}"
    assert line["query"] == "utm_source=news"
    assert line["client"] == "203.0.113.0"
    assert line["method"] == "GET" and line["status"] == 200 and line["host"] == "testserver"
    assert line["bytes"] == len(r.content)
    assert line["browser"] == "Firefox" and line["browser_version"] == "126"
    assert line["os"] == "Linux" and line["device"] == "desktop" and line["is_bot"] is False
    assert line["referrer"] == "https://search.example"
    assert line["country"] is None
    assert line["time"].endswith("Z") and len(line["time"]) == 20
    assert isinstance(line["duration_ms"], float)


def test_mounted_routes_and_unknown_paths(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    with TestClient(app) as client:
        client.get("/shop/4411/items/77")
        client.get("/nope/alice@example.com/123456")
    lines = read_log(log)
    assert lines[0]["path"] == "/shop/{int}/items/{item_id}"
    assert lines[1]["path"] == "/nope/{email}/{int}" and lines[1]["status"] == 404


def test_app_exception_is_logged_as_500(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/boom").status_code == 500
    assert read_log(log)[0]["status"] == 500


def test_websocket_and_lifespan_pass_through(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:
        assert ws.receive_text() == "hi"
    assert not log.exists() or log.read_bytes() == b""


def test_as_starlette_middleware_entry(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette

    log = tmp_path / "access.log"
    base = starlette_app()
    app = Starlette(
        routes=base.routes,
        middleware=[Middleware(BeaconGuard, settings=make_settings(access_log=str(log)))],
    )
    with TestClient(app) as client:
        client.get("/products/1")
    assert read_log(log)[0]["path"] == "/products/{id}"


def test_fastapi_route_templates(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    api = FastAPI()

    @api.get("/users/{user_id}/orders/{order_id}")
    def order(user_id: int, order_id: str) -> dict[str, str]:
        return {"ok": "yes"}

    api.add_middleware(BeaconGuard, settings=make_settings(access_log=str(log)))
    with TestClient(api) as client:
        client.get("/users/42/orders/abc-123")
    assert read_log(log)[0]["path"] == "/users/{user_id}/orders/{order_id}"


def test_settings_from_env_without_secret_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BEACONGUARD_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="BEACONGUARD_SECRET_KEY"):
        BeaconGuard(starlette_app())


def test_forbidden_log_headers(make_settings) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="never logged"):
        BeaconGuard(starlette_app(), settings=make_settings(log_headers=("Cookie", "accept")))


def test_allowed_headers_are_scrubbed(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    settings = make_settings(access_log=str(log), log_headers=("accept-language", "x-request-id"))
    app = BeaconGuard(starlette_app(), settings=settings)
    with TestClient(app) as client:
        client.get("/", headers={"accept-language": "ja-JP", "x-request-id": "9f86d081884c7d659a2f"})
    assert read_log(log)[0]["headers"] == {"accept-language": "ja-JP", "x-request-id": "{redacted}"}


def test_unparseable_values_become_placeholders(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/x/\ufffd\ufffd", "raw_path": b"/x/%ff%fe", "root_path": "",
        "query_string": b"utm_source=%ff&email=\xff\xfe", "client": ("not-an-ip", 1),
        "server": ("127.0.0.1", 80),
        "headers": [(b"host", b"evil host\x7f"), (b"user-agent", b"A" * 65536),
                    (b"referer", b"\xff\xfe://bad")],
    }

    async def receive():  # type: ignore[no-untyped-def]
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):  # type: ignore[no-untyped-def]
        pass

    asyncio.run(app(scope, receive, send))
    app.close()
    (line,) = read_log(log)
    assert line["path"] == "/x/{invalid}"
    assert line["query"] == "utm_source={redacted}"
    assert line["client"] is None and line["host"] is None and line["referrer"] is None
    assert line["browser"] == "Other" and line["bot_reason"] == "malformed"
    assert "AAAA" not in log.read_text()


def test_own_routes_answer_under_a_root_path(make_settings) -> None:  # type: ignore[no-untyped-def]
    # Behind `uvicorn --root-path /app`, path carries the prefix and root_path names it.
    app = BeaconGuard(starlette_app(), settings=make_settings(report_token="t" * 24))
    with TestClient(app, root_path="/app") as client:
        assert client.get("/app/_bg/consent").status_code == 200
        assert client.get("/app/_bg/b.js").status_code == 200
        api = client.get("/app/_bg/api/report", headers={"authorization": "Bearer " + "t" * 24})
        assert api.status_code == 200 and "rows" in api.json()
        # Outside the prefix, or a prefix that is only a string prefix: the app's, not ours.
        assert client.get("/_bg/consent").status_code == 200
        assert client.get("/application/_bg/consent").status_code == 404


def test_a_part_failing_at_start_closes_the_parts_before_it(
    tmp_path: Path, make_settings, monkeypatch: pytest.MonkeyPatch  # type: ignore[no-untyped-def]
) -> None:
    from beaconguard import middleware

    closed: list[str] = []
    parts: list[Any] = []

    def failing_attach(guard: BeaconGuard) -> None:
        assert guard.access_log is not None and guard.stats is not None
        parts.extend([guard.access_log, guard.stats])
        guard._closers.append(lambda: closed.append("reached"))
        raise RuntimeError("report part failed")

    monkeypatch.setattr(middleware.reports_part, "attach", failing_attach)
    settings = make_settings(access_log=str(tmp_path / "a.log"), stats=True, store="memory://")
    with pytest.raises(RuntimeError, match="report part failed"):
        BeaconGuard(starlette_app(), settings=settings)
    # Every part registered before the failure was closed: the writer and the aggregator
    # (their threads stop) and the late closer too.
    assert closed == ["reached"]
    for part in parts:
        assert part._closed
        assert part._thread is None or not part._thread.is_alive()


def test_head_logs_no_body_bytes(tmp_path: Path, make_settings) -> None:  # type: ignore[no-untyped-def]
    """The server drops a HEAD answer's body, so the log does not count it as sent."""
    log = tmp_path / "access.log"
    app = BeaconGuard(starlette_app(), settings=make_settings(access_log=str(log)))
    with TestClient(app) as client:
        assert client.head("/products/8812").status_code in (200, 405)
        assert client.get("/products/8812").status_code == 200
    head, get = read_log(log)
    assert head["method"] == "HEAD" and head["bytes"] == 0
    assert get["method"] == "GET" and get["bytes"] > 0


def test_visit_headers_carry_sec_gpc_when_consent_is_on(make_settings) -> None:  # type: ignore[no-untyped-def]
    """Consumers read the visitor's GPC signal from the Visit, as before the gate took its
    headers from the raw dict."""
    guard = BeaconGuard(starlette_app(), settings=make_settings(consent=True, stats=False,
                                                                access_log=None))
    seen: list[dict[str, str]] = []
    guard.consumers.append(lambda visit, record: seen.append(dict(visit.headers)))
    guard._has_consumers = True
    with TestClient(guard) as client:
        client.get("/products/1", headers={"sec-gpc": "1", "cookie": "session=1"})
    assert seen and seen[0].get("sec-gpc") == "1"
    assert "cookie" not in seen[0]
