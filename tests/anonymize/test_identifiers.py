"""Identifier shapes: the linear-time forms answer as the plain patterns do, and hostile
strings cost one pass, not one per character."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from beaconguard.anonymize.identifiers import EMAIL, TOKEN, has_token, looks_like_identifier
from beaconguard.offline import audit

ROOT = Path(__file__).resolve().parents[2]
# The patterns as they were before the linear-time forms: the reference for sameness.
PLAIN_EMAIL = re.compile(r"[^\s@/]+@[^\s@/]+\.[^\s@/]+")
PLAIN_COOKIE = re.compile(
    r"(?i)(?<![A-Za-z0-9_.-])([A-Za-z0-9_.-]*(?:sess|sid|token|auth|csrf|xsrf|jwt|remember"
    r"|_ga|_gid|_fbp|login)[A-Za-z0-9_.-]*)=([^;&\s\"',}{]{6,})"
)
TEXT = st.text(alphabet="aZ09_-+/=~.@ ;&x1sesidS", max_size=80)


@given(TEXT)
def test_has_token_answers_as_token_search(value: str) -> None:
    assert has_token(value) == bool(TOKEN.search(value))


@given(TEXT)
def test_email_matches_as_the_plain_pattern(value: str) -> None:
    assert bool(EMAIL.search(value)) == bool(PLAIN_EMAIL.search(value))


@given(TEXT)
def test_audit_cookie_pairs_as_the_plain_pattern(value: str) -> None:
    plain = [(n, v) for n, v in PLAIN_COOKIE.findall(value)]
    found = [(n, v) for n, v in audit._PAIR.findall(value) if audit._SESSION_NAME.search(n)]
    assert found == plain


@pytest.mark.parametrize(
    "call",
    [
        "looks_like_identifier('a.' * 2048)",
        "looks_like_identifier('a' * 2000 + '@' + 'b' * 2000)",
        "looks_like_identifier('x-' * 2048 + '1')",
        "audit.Auditor(Settings(secret_key=('k' * 32,))).scan_text('sess' * 16000, set())",
    ],
)
def test_hostile_strings_cost_one_pass(call: str) -> None:
    """Each took from a quarter of a second to many seconds with the plain patterns. In a
    child with a deadline, so a regression fails instead of stalling the suite."""
    code = (
        "from beaconguard.anonymize.identifiers import looks_like_identifier\n"
        "from beaconguard.offline import audit\n"
        "from beaconguard.settings import Settings\n"
        "import time\n"
        "start = time.perf_counter()\n"
        "for _ in range(100):\n"
        f"    {call}\n"
        "print(time.perf_counter() - start < 10)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "True", done.stderr


def test_token_and_email_still_found() -> None:
    assert looks_like_identifier("sk_live_4eC39HqLyjWDarjtT1zdp7dc") == "token"
    assert looks_like_identifier("prefix/" + "zq" * 15 + "7/suffix") == "token"
    assert looks_like_identifier("ann@example.com") == "email"
    assert looks_like_identifier("a-long-plain-slug-without-digits") is None
