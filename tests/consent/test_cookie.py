"""The signed consent cookie: anything untrustworthy reads as no decision, never raises."""

from __future__ import annotations

import os
import time

from hypothesis import given, settings
from hypothesis import strategies as st
from itsdangerous import URLSafeTimedSerializer

from beaconguard.consent.cookie import MAX_COOKIE_LEN, ConsentCookie
from tests.conftest import SECRET

OLD_KEY = "an-older-secret-key-0123456789"
NEW_KEY = "the-newest-secret-key-987654321"


def test_round_trip(make_settings):
    cookie = ConsentCookie(make_settings())
    value, state = cookie.dumps({"statistics": True, "marketing": False})
    loaded = cookie.loads(value)
    assert loaded is not None
    assert loaded.source == "explicit"
    assert dict(loaded.decisions) == {
        "necessary": True, "preferences": False, "statistics": True, "marketing": False
    }
    assert loaded.revision == 1 and loaded.consent_id == state.consent_id
    assert len(value) < MAX_COOKIE_LEN


def test_forged_payload_is_no_decision(make_settings):
    cookie = ConsentCookie(make_settings())
    value, _ = cookie.dumps({"statistics": False})
    forger = URLSafeTimedSerializer("not-the-secret-key-at-all!!", salt="beaconguard.consent")
    forged = forger.dumps({"d": {"preferences": 1, "statistics": 1, "marketing": 1}, "r": 1,
                           "t": int(time.time()), "s": "explicit", "i": "x"})
    assert cookie.loads(forged) is None
    payload, _, signature = value.rpartition(".")
    assert cookie.loads(payload + "." + signature[::-1]) is None
    # Swap the payload of one cookie onto another's signature.
    other, _ = cookie.dumps({"marketing": True})
    other_payload = other.rsplit(".", 2)[0]
    _, stamp, sig = value.rsplit(".", 2)
    assert cookie.loads(f"{other_payload}.{stamp}.{sig}") is None


def test_truncated_cookie_is_no_decision(make_settings):
    cookie = ConsentCookie(make_settings())
    value, _ = cookie.dumps({"statistics": True})
    for cut in (1, 5, len(value) // 2, len(value) - 1):
        assert cookie.loads(value[:cut]) is None


def test_wrong_key_is_no_decision(make_settings):
    value, _ = ConsentCookie(make_settings(secret_key=OLD_KEY)).dumps({"statistics": True})
    assert ConsentCookie(make_settings(secret_key=NEW_KEY)).loads(value) is None


def test_oversized_cookie_is_no_decision(make_settings):
    cookie = ConsentCookie(make_settings())
    serializer = URLSafeTimedSerializer(SECRET, salt="beaconguard.consent")
    big = serializer.dumps({"d": {"preferences": 1, "statistics": 1, "marketing": 1}, "r": 1,
                            "t": int(time.time()), "s": "explicit", "i": os.urandom(600).hex()})
    assert len(big) > MAX_COOKIE_LEN
    assert cookie.loads(big) is None
    assert cookie.loads("a" * 100_000) is None


def test_expired_cookie_is_no_decision(make_settings, monkeypatch):
    cookie = ConsentCookie(make_settings(consent_max_age_days=1))
    value, _ = cookie.dumps({"statistics": True})
    assert cookie.loads(value) is not None  # now cached as valid
    later = time.time() + 2 * 86400
    monkeypatch.setattr(time, "time", lambda: later)
    assert cookie.loads(value) is None  # the cached answer expires too
    assert ConsentCookie(make_settings(consent_max_age_days=1)).loads(value) is None


def test_old_revision_is_no_decision(make_settings):
    value, _ = ConsentCookie(make_settings(policy_revision=3)).dumps({"statistics": True})
    assert ConsentCookie(make_settings(policy_revision=4)).loads(value) is None
    assert ConsentCookie(make_settings(policy_revision=3)).loads(value) is not None


def test_key_rotation_keeps_older_cookies_valid(make_settings):
    old = ConsentCookie(make_settings(secret_key=OLD_KEY))
    value, _ = old.dumps({"marketing": True})
    rotated = ConsentCookie(make_settings(secret_key=[OLD_KEY, NEW_KEY]))
    loaded = rotated.loads(value)
    assert loaded is not None and loaded.allows("marketing")
    # The newest key signs: a fresh cookie does not verify under the old key alone.
    fresh, _ = rotated.dumps({"marketing": True})
    assert rotated.loads(fresh) is not None
    assert old.loads(fresh) is None


def test_validly_signed_but_misshapen_payloads_are_no_decision(make_settings):
    cookie = ConsentCookie(make_settings())
    serializer = URLSafeTimedSerializer(SECRET, salt="beaconguard.consent")
    now = int(time.time())
    good = {"d": {"preferences": 0, "statistics": 1, "marketing": 0}, "r": 1, "t": now,
            "s": "explicit", "i": "abc"}
    assert cookie.loads(serializer.dumps(good)) is not None
    bad_payloads = [
        [],
        "text",
        {**good, "d": {"statistics": 1}},
        {**good, "d": {"preferences": 0, "statistics": 2, "marketing": 0}},
        {**good, "d": {"preferences": 0, "statistics": "yes", "marketing": 0}},
        {**good, "d": {"preferences": 0, "statistics": 1.0, "marketing": 0}},
        {**good, "d": {"preferences": 0, "statistics": 1, "marketing": 0, "extra": 1}},
        {**good, "t": True},
        {**good, "t": "now"},
        {**good, "i": ""},
        {**good, "i": 5},
        {k: v for k, v in good.items() if k != "r"},
    ]
    for payload in bad_payloads:
        assert cookie.loads(serializer.dumps(payload)) is None, payload


def test_garbage_never_raises(make_settings):
    cookie = ConsentCookie(make_settings())
    for value in ["", ".", "..", "a.b.c", ".eJzz.x.y", "%%%", "\x00\xff", "é" * 10, None]:
        assert cookie.loads(value) is None


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=600))
def test_fuzzed_values_never_raise(value):
    from beaconguard import Settings

    cookie = ConsentCookie(Settings(secret_key=SECRET, store="memory://"))
    assert cookie.loads(value) is None


def test_verified_cache_is_bounded(make_settings):
    cookie = ConsentCookie(make_settings())
    for _ in range(1100):
        value, _ = cookie.dumps({"statistics": True})
        assert cookie.loads(value) is not None
    assert len(cookie._verified) <= 1024
