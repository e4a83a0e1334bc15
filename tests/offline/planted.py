"""The raw identifiers planted in ``fixtures/``: none may survive anonymization."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPV6 = "2001:db8:85a3:1234:5678:8a2e:370:7334"
TOKEN = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.abcDEFghiJKL"
SESSION = "9f8e7d6c5b4a39281706f5e4d3c2b1a0"
COOKIE = "Zx81Kq0pLmN3vB7tQ9"

#: Every raw value planted in the fixtures that identifies someone.
PLANTED = (
    "203.0.113.77",
    "203.0.113.78",
    "203.0.113.79",
    "203.0.113.80",
    "198.51.100.23",
    "192.0.2.55",
    "192.0.2.199",
    IPV6,
    "2001:db8:85a3:1234:",
    "alice.smith@example.com",
    "alice.smith",
    "bob@example.org",
    "bob%40example.org",
    "carol@example.net",
    "mallory",
    TOKEN,
    JWT,
    "eyJ",
    SESSION,
    COOKIE,
    "4915123456789",
    "123456",
    FIREFOX,
    "Gecko/20100101",
    IPHONE,
    "AppleWebKit",
    "QuotedAgent",
    "Weird",
    "\x1b",
    "\x00",
)

FORMATS = ("combined.log", "common.log", "xff.log", "escapes.log", "json.log", "garbage.log")


def leaks(text: str) -> list[str]:
    """The planted values found in ``text``."""
    return [value for value in PLANTED if value in text]
