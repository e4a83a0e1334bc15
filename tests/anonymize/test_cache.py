"""Processor caches are bounded in entries and never keep an over-long key."""

from __future__ import annotations

from beaconguard.anonymize.cache import bounded_cache
from beaconguard.anonymize.ip import make_ip_filter
from beaconguard.anonymize.referrer import MAX_REFERRER, make_referrer_filter
from beaconguard.anonymize.useragent import ABSURD, MAX_UA, make_classifier


def test_long_keys_are_computed_not_stored() -> None:
    calls: list[str] = []

    def upper(value: str) -> str:
        calls.append(value)
        return value.upper()

    cached = bounded_cache(upper, maxsize=2, max_len=5)
    assert cached("abc") == cached("abc") == "ABC" and calls == ["abc"]
    assert cached("abcdefgh") == "ABCDEFGH" and cached("abcdefgh") == "ABCDEFGH"
    assert calls == ["abc", "abcdefgh", "abcdefgh"]
    assert cached.cache_info().currsize == 1  # type: ignore[attr-defined]
    for word in ("x", "y", "z"):
        cached(word)
    assert cached.cache_info().currsize == 2  # type: ignore[attr-defined]


def test_a_flood_of_huge_headers_leaves_the_caches_empty() -> None:
    # What a visitor sends: 15 KB user agents and referrers, each new. Before, each filled an
    # entry of the 4096-entry caches (about 120 MB in all).
    classify = make_classifier(4096)
    referrer = make_referrer_filter(4096)
    address = make_ip_filter("truncate", v4_prefix=24, v6_prefix=48, cache_size=4096)
    for i in range(50):
        huge = f"Mozilla/5.0 {i} " + "x" * 15_000
        assert len(huge) > MAX_UA and len(huge) > MAX_REFERRER
        assert classify(huge) == ABSURD
        assert referrer("https://a.example/" + huge, "shop.example") is None
        assert address("1" * 1000 + str(i), 0.0) is None
    assert classify.cache_info().currsize == 0  # type: ignore[attr-defined]
    assert referrer.cache_info().currsize == 0  # type: ignore[attr-defined]
