"""``uarules.Parsed`` answers what ``user_agents.parsers.UserAgent`` answers.

Both are given the same uap-core parse (the pure-Python parser's), so any difference is a
difference in the restated rules. The corpus is the fast-route test's: every real user
agent at hand, plus strings made to reach the rules' rarer branches.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from ua_parser import user_agent_parser
from user_agents.parsers import UserAgent

from beaconguard.anonymize.uarules import Parsed
from tests.anonymize.test_useragent_fast import CORPUS, ROOT

# Each reaches a branch the browser corpus may not: RT and ME Windows, Firefox OS,
# BlackBerry, Maemo, Silk on a Mac, J2ME and Nokia phones, a mobile spider, version
# fields that are not numbers.
RARE = [
    "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; ARM; Trident/6.0; Touch)",
    "Mozilla/4.0 (compatible; MSIE 5.5; Windows ME)",
    "Mozilla/5.0 (Mobile; rv:26.0) Gecko/26.0 Firefox/26.0",
    "Mozilla/5.0 (Tablet; rv:26.0) Gecko/26.0 Firefox/26.0",
    "BlackBerry9700/5.0.0.351 Profile/MIDP-2.1 Configuration/CLDC-1.1 VendorID/123",
    "Mozilla/5.0 (PlayBook; U; RIM Tablet OS 2.1.0; en-US) AppleWebKit/536.2+ (KHTML, like "
    "Gecko) Version/7.2.1.0 Safari/536.2+",
    "Mozilla/5.0 (X11; U; Linux armv7l; en-GB; rv:1.9.2a1pre) Gecko/20090928 Firefox/3.5 "
    "Maemo Browser 1.4.1.22 RX-51 N900",
    "Mozilla/5.0 (Macintosh; U; Intel Mac OS X 10_6_3; en-us; Silk/1.0.146.3-Gen4_12000410) "
    "AppleWebKit/533.16 (KHTML, like Gecko) Version/5.0 Safari/533.16 Silk-Accelerated=true",
    "Nokia6300/2.0 (05.00) Profile/MIDP-2.0 Configuration/CLDC-1.1 J2ME",
    "Mozilla/5.0 (Series40; Nokia501/11.1.1/java_runtime_version=Nokia_Asha_1_1_1; "
    "Profile/MIDP-2.1 Configuration/CLDC-1.1) Gecko/20100401 S40OviBrowser/3.1.1.0.27",
    "Mozilla/5.0 (SymbianOS/9.4; Series60/5.0 NokiaN97-1/12.0.024; Profile/MIDP-2.1 "
    "Configuration/CLDC-1.1; en-us) AppleWebKit/525 (KHTML, like Gecko) BrowserNG/7.1.18124 "
    "NokiaBrowser/7.1 Mobile",
    "SAMSUNG-SGH-E250/1.0 Profile/MIDP-2.0 Configuration/CLDC-1.1 UP.Browser/6.2.3.3.c.1.101 "
    "(GUI) MMP/2.0 (compatible; Googlebot-Mobile/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (Linux; U; Android 2.2; en-us; Kindle Fire Build/FRF91) AppleWebKit/533.1 "
    "(KHTML, like Gecko) Version/4.0 Mobile Safari/533.1",
    "Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/52.0.2743.116 Mobile Safari/537.36 Edge/15.14977",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) "
    "Presto/2.5.25 Version/10.54",
    "SomeApp/beta.x (Solaris; SunOS 5.10)",
]


def _fields(ua: str) -> tuple[tuple, tuple, tuple]:
    parsed = user_agent_parser.Parse(ua)
    agent, os_, device = parsed["user_agent"], parsed["os"], parsed["device"]
    return (
        (agent["family"], agent["major"], agent["minor"], agent["patch"]),
        (os_["family"], os_["major"], os_["minor"], os_["patch"], os_["patch_minor"]),
        (device["family"], device["brand"], device["model"]),
    )


def _answers(parsed: object) -> tuple:
    names = ("browser", "os", "device", "is_tablet", "is_mobile", "is_pc", "is_bot")
    return tuple(tuple(getattr(parsed, n)) if n in names[:3] else getattr(parsed, n)
                 for n in names)  # fmt: skip


@pytest.mark.parametrize("chunk", range(4))
def test_same_answers_as_user_agents(chunk: int) -> None:
    agents = [*CORPUS, *RARE][chunk::4]
    differ = [
        (ua, _answers(UserAgent(ua)), _answers(Parsed(ua, *_fields(ua))))
        for ua in agents
        if _answers(UserAgent(ua)) != _answers(Parsed(ua, *_fields(ua)))
    ]
    assert differ == []


def test_the_rare_branches_are_reached() -> None:
    parsed = [Parsed(ua, *_fields(ua)) for ua in RARE]
    assert any(p.is_tablet and not p.is_mobile for p in parsed)
    assert any(p.is_mobile and p.device.family not in ("iPhone", "Generic Smartphone")
               for p in parsed)  # fmt: skip
    assert any(p.is_bot for p in parsed)
    assert any(p.os.family == "Windows" and p.os.version_string in ("ME", "RT") for p in parsed)


def test_version_tuples_skip_missing_parts_and_keep_words() -> None:
    parsed = Parsed("x", ("Browser", None, "2", "beta"), ("OS", "10", None, None, "7"),
                    ("Other", None, None))  # fmt: skip
    assert parsed.browser.version == (2, "beta") and parsed.browser.version_string == "2.beta"
    assert parsed.os.version == (10,) and parsed.os.version_string == "10"


def test_the_fast_route_imports_no_pure_python_parser() -> None:
    code = (
        "import sys; from beaconguard.anonymize import useragent as u; "
        "e = u._get_engine(); "
        "assert e.extractors is not None; "
        "u.parse('Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0'); "
        "heavy = [m for m in ('user_agents', 'ua_parser.user_agent_parser') "
        "if m in sys.modules]; assert not heavy, heavy; "
        # A string that is not ASCII takes the pure-Python parser, imported now.
        "u.parse('Mozilla/5.0 (Linux; Android 14; Pixel \\uff18) Chrome/124.0 Mobile'); "
        "assert 'user_agents' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
