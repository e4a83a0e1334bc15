"""``beaconguard ua``: the middleware's classification, one JSON line per UA."""

from __future__ import annotations

import orjson

from beaconguard.anonymize.useragent import make_classifier
from tests.cli.helpers import run_process
from tests.offline.planted import FIREFOX, IPHONE

AGENTS = [
    FIREFOX,
    IPHONE,
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "curl/8.5.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0",
    "",
    "x" * 600,
]


def test_one_json_line_per_agent_same_as_middleware() -> None:
    done = run_process("ua", stdin=("\n".join(AGENTS) + "\n").encode())
    assert done.returncode == 0, done.stderr
    rows = [orjson.loads(x) for x in done.stdout.splitlines()]
    assert len(rows) == len(AGENTS)
    classify = make_classifier()
    for ua, row in zip(AGENTS, rows, strict=True):
        info = classify(ua)
        assert row == {
            "browser": info.browser,
            "browser_version": info.browser_version,
            "os": info.os,
            "device": info.device,
            "is_bot": info.is_bot,
            "bot_reason": info.bot_reason,
        }
    assert rows[0]["browser"] == "Firefox" and rows[1]["device"] == "mobile"
    assert [r["is_bot"] for r in rows[2:]] == [True] * 5
    assert FIREFOX.encode() not in done.stdout
