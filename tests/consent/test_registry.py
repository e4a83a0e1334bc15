"""Cookie registry: exact, prefix and glob names → category, compiled once, bounded cache."""

from __future__ import annotations

import pytest

from beaconguard.consent.registry import CookieEntry, CookieRegistry

ENTRIES = [
    {"name": "_ga", "category": "statistics"},
    {"name": "_g*", "category": "marketing"},
    {"name": "_ga_*", "category": "statistics"},
    {"name": "_hj*_ses?", "category": "preferences"},
    {"name": "x[0-9]y", "category": "marketing"},
    {"name": "literal*star", "category": "preferences", "match": "exact"},
]


def test_exact_prefix_and_glob():
    reg = CookieRegistry(ENTRIES)
    assert reg.category("_ga") == "statistics"  # exact beats the "_g*" prefix
    assert reg.category("_ga_ABC") == "statistics"  # the longest prefix wins
    assert reg.category("_gid") == "marketing"
    assert reg.category("_hjFoo_ses1") == "preferences"
    assert reg.category("_hjFoo_ses12") is None  # '?' is exactly one character
    assert reg.category("x5y") == "marketing"
    assert reg.category("xay") is None
    assert reg.category("literal*star") == "preferences"
    assert reg.category("literalXstar") is None
    assert reg.category("GA") is None  # names are case-sensitive
    assert reg.category("unknown") is None


def test_bytes_and_text_agree():
    reg = CookieRegistry(ENTRIES)
    for name in ("_ga", "_ga_X", "_hjA_ses1", "nothing"):
        assert reg.category(name.encode()) == reg.category(name)


def test_necessary_names_always_win():
    reg = CookieRegistry([{"name": "bg_*", "category": "marketing"}], necessary=["bg_consent"])
    assert reg.category("bg_consent") == "necessary"
    assert reg.category("bg_other") == "marketing"


def test_cache_is_bounded():
    reg = CookieRegistry(ENTRIES, cache_size=16)
    for i in range(1000):
        reg.category(f"visitor-chosen-{i}")
    assert len(reg._cache) <= 16
    assert reg.category("_ga") == "statistics"


def test_entry_fields_and_kinds():
    entry = CookieEntry({"name": "_fbp", "category": "marketing", "purpose": "ads",
                         "lifetime": 90, "domain": ".Shop.Example", "path": "/shop"})
    assert entry.match == "exact" and entry.domain == ".shop.example" and entry.path == "/shop"
    assert CookieEntry({"name": "a_*", "category": "marketing"}).match == "prefix"
    assert CookieEntry({"name": "a*b", "category": "marketing"}).match == "glob"
    assert entry.as_dict()["lifetime"] == 90


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"category": "statistics"}, "name"),
        ({"name": "a=b", "category": "statistics"}, "name"),
        ({"name": "a b", "category": "statistics"}, "name"),
        ({"name": "_ga", "category": "analytics"}, "category"),
        ({"name": "_ga", "category": "statistics", "colour": "red"}, "unknown key"),
        ({"name": "_ga", "category": "statistics", "match": "regex"}, "match"),
        ({"name": "_ga", "category": "statistics", "party": "fourth"}, "party"),
        ({"name": "fr", "category": "marketing", "party": "third"}, "domain"),
        ({"name": "_ga", "category": "statistics", "path": "blog"}, "path"),
        ({"name": "_ga", "category": "statistics", "lifetime": True}, "lifetime"),
        ("_ga", "table"),
    ],
)
def test_bad_entries_are_refused_with_the_field_named(raw, message):
    with pytest.raises(ValueError, match=message):
        CookieRegistry([raw])


def test_purge_helpers():
    reg = CookieRegistry([
        {"name": "_ga", "category": "statistics"},
        {"name": "_ga_*", "category": "statistics", "path": "/x"},
        {"name": "fr", "category": "marketing", "party": "third", "domain": ".facebook.com"},
        {"name": "_fbp", "category": "marketing"},
    ])
    assert reg.exact_names(["marketing"]) == ("_fbp",)  # not the third party's "fr"
    assert [e.name for e in reg.entries_for("_ga_1")] == ["_ga_*"]
    assert reg.third_party_domains() == {"marketing": (".facebook.com",)}
