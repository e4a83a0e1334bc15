"""Consent receipts: append-only JSON lines with the consent id, and nothing identifying."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from beaconguard.consent.receipts import ReceiptLog, banner_hash
from tests.consent.conftest import ORIGIN, asgi_request, decide


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_each_decision_appends_one_receipt(make_client, tmp_path: Path):
    path = tmp_path / "receipts" / "consent.jsonl"
    client, guard = make_client(consent_receipts=str(path))
    decide(client, statistics=True)
    first_id = client.get("/_bg/consent")  # the id lives in the signed cookie
    decide(client, all=False)
    client.delete("/_bg/consent", headers={"origin": ORIGIN})
    got = lines(path)
    assert [r["action"] for r in got] == ["decide", "decide", "withdraw"]
    assert got[0]["choices"]["statistics"] is True and got[1]["choices"]["statistics"] is False
    assert len({r["consent_id"] for r in got}) == 1  # one visitor's chain of decisions
    assert all(r["revision"] == 1 for r in got)
    gate = guard.consent
    assert gate is not None
    assert got[0]["banner_sha256"] == banner_hash(gate.text, 1)
    assert set(got[0]) == {"consent_id", "time", "revision", "action", "choices", "banner_sha256"}
    assert first_id.status_code == 200
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_receipt_id_matches_the_cookie(make_client, tmp_path: Path):
    path = tmp_path / "r.jsonl"
    client, guard = make_client(consent_receipts=str(path))
    decide(client, marketing=True)
    gate = guard.consent
    assert gate is not None
    state = gate.cookie.loads(client.cookies.get("bg_consent"))
    assert state is not None and lines(path)[0]["consent_id"] == state.consent_id


def test_banner_hash_changes_with_text_and_revision():
    text = {"statistics": {"label": "A", "description": "B"}}
    assert banner_hash(text, 1) != banner_hash(text, 2)
    assert banner_hash(text, 1) != banner_hash({"statistics": {"label": "A!",
                                                               "description": "B"}}, 1)


def test_append_only(tmp_path: Path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"earlier": true}\n')
    ReceiptLog(path, "h").append("id1", 1, {"statistics": True})
    assert path.read_text().startswith('{"earlier": true}\n')
    assert len(path.read_text().splitlines()) == 2


def test_receipts_leak_nothing_identifying(make_client, tmp_path: Path):
    path = tmp_path / "r.jsonl"
    _, guard = make_client(consent_receipts=str(path), trusted_proxies=("10.0.0.0/8",))
    secrets = {
        "ip": b"203.0.113.77",
        "ipv6": b"2001:db8:85a3::8a2e:370:7334",
        "ua": b"Mozilla/5.0 (X11; Linux x86_64) LeakTestBrowser/99.1.2.3",
        "session": b"sess-9f8e7d6c5b4a39281706",
        "email": b"alice.leak@example.org",
        "token": b"tok_live_51HqLeakTestTokenABCDEF",
        "referer": b"http://testserver/account?email=alice.leak@example.org",
    }
    headers = [
        (b"origin", ORIGIN.encode()),
        (b"content-type", b"application/json"),
        (b"user-agent", secrets["ua"]),
        (b"x-forwarded-for", secrets["ip"] + b", " + secrets["ipv6"]),
        (b"cookie", b"session=" + secrets["session"] + b"; _ga=" + secrets["token"]
         + b"; email=" + secrets["email"]),
        (b"referer", secrets["referer"]),
    ]
    for body in (b'{"all": true}', b'{"statistics": false}'):
        start, sent = asgi_request(guard, "/_bg/consent", headers, method="POST", body=body,
                                   client="10.0.0.1")
        assert start["status"] == 200
        # Like a browser: send the consent cookie back on the next request.
        consent = next(v for k, v in sent if k == b"set-cookie").split(b";")[0]
        headers = [(k, v.split(b"; bg_consent=")[0] + b"; " + consent if k == b"cookie" else v)
                   for k, v in headers]
    start, _ = asgi_request(guard, "/_bg/consent", headers, method="DELETE", client="10.0.0.1")
    assert start["status"] == 200
    data = path.read_bytes()
    assert data.count(b"\n") == 3
    for name, value in secrets.items():
        assert value not in data, name
        assert value.decode().lower().encode() not in data.lower(), name
    for fragment in (b"203.0.113", b"2001:db8", b"LeakTestBrowser", b"10.0.0.1", b"testserver"):
        assert fragment not in data
