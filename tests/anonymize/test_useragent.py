from beaconguard.anonymize import useragent
from beaconguard.anonymize.useragent import make_classifier, parse

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.6367.91 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
)
IPAD = (
    "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/16.6 Mobile/15E148 Safari/604.1"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def test_coarsens_to_family_major_os_device() -> None:
    info = parse(CHROME)
    assert (info.browser, info.browser_version, info.os, info.device, info.is_bot) == (
        "Chrome", "124", "Windows", "desktop", False,
    )
    assert parse(IPHONE).device == "mobile"
    assert parse(IPAD).device == "tablet"


def test_bots() -> None:
    bot = parse(GOOGLEBOT)
    assert bot.is_bot and bot.device == "bot" and bot.bot_reason == "crawler"
    assert parse("").bot_reason == "empty"
    assert parse("Mozilla/5.0 HeadlessChrome/120.0").bot_reason == "headless"


def test_garbage_and_huge_values_become_placeholders() -> None:
    assert parse("x" * 70_000) == useragent.ABSURD
    assert parse("Mozilla\x00\x01") == useragent.ABSURD
    info = parse("!!!???")
    assert info.browser == "Other" and info.browser_version is None


def test_nothing_of_the_full_string_is_kept() -> None:
    info = parse(CHROME)
    assert "6367" not in repr(info) and "AppleWebKit" not in repr(info)


def test_cache_is_bounded() -> None:
    classify = make_classifier(cache_size=16)
    for i in range(200):
        classify(f"Mozilla/5.0 RandomBrowser/{i}.0")
    assert classify.cache_info().currsize <= 16  # type: ignore[attr-defined]
    classify(CHROME)
    classify(CHROME)
    assert classify.cache_info().hits >= 1  # type: ignore[attr-defined]
