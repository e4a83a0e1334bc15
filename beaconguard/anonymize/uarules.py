"""The mobile, tablet, PC and bot rules of ``user-agents`` (2.2), over a uap-core parse.

``user_agents.parse`` is uap-core's parse (browser, OS and device fields) plus these rules.
Importing ``user_agents`` imports the pure-Python uap-core parser, which compiles all of
its 1,300 patterns (a third of a second) although the fast route never runs them; so the
rules are restated here for the fields the fast route finds, and ``user_agents`` is only
imported when a string needs the pure-Python parser. The family lists and the order of
the tests are that library's (MIT licence), unchanged: ``tests/anonymize`` holds
:class:`Parsed` to ``user_agents.parsers.UserAgent`` on every user agent at hand.
"""

from __future__ import annotations

from typing import NamedTuple

MOBILE_DEVICE_FAMILIES = frozenset((
    "iPhone", "iPod", "Generic Smartphone", "Generic Feature Phone", "PlayStation Vita",
    "iOS-Device",
))  # fmt: skip
PC_OS_FAMILIES = frozenset(("Windows 95", "Windows 98", "Solaris"))
MOBILE_OS_FAMILIES = frozenset((
    "Windows Phone", "Windows Phone OS", "Symbian OS", "Bada", "Windows CE",
    "Windows Mobile", "Maemo",
))  # fmt: skip
MOBILE_BROWSER_FAMILIES = frozenset((
    "IE Mobile", "Opera Mobile", "Opera Mini", "Chrome Mobile", "Chrome Mobile WebView",
    "Chrome Mobile iOS",
))  # fmt: skip
TABLET_DEVICE_FAMILIES = frozenset((
    "iPad", "BlackBerry Playbook", "Blackberry Playbook", "Kindle", "Kindle Fire",
    "Kindle Fire HD", "Galaxy Tab", "Xoom", "Dell Streak",
))  # fmt: skip


class Browser(NamedTuple):
    """``user_agents.parsers.Browser``: family, version tuple, dotted version."""

    family: str
    version: tuple[int | str, ...]
    version_string: str


class OperatingSystem(NamedTuple):
    """``user_agents.parsers.OperatingSystem``."""

    family: str
    version: tuple[int | str, ...]
    version_string: str


class Device(NamedTuple):
    """``user_agents.parsers.Device``."""

    family: str
    brand: str | None
    model: str | None


def _number(part: str | None) -> int | str | None:
    # A field of digits becomes an int, as user_agents' verify_attribute does.
    return int(part) if isinstance(part, str) and part.isdigit() else part


def _version(
    major: str | None, minor: str | None, patch: str | None
) -> tuple[tuple[int | str, ...], str]:
    """The version tuple (missing parts left out, wherever they are) and its dotted form."""
    version = tuple(v for v in (_number(major), _number(minor), _number(patch)) if v is not None)
    return version, ".".join(str(v) for v in version)


class Parsed:
    """What ``user_agents.parsers.UserAgent`` answers, from uap-core's fields.

    ``ua`` is (family, major, minor, patch), ``os`` is (family, major, minor, patch,
    patch_minor), ``device`` is (family, brand, model), as uap-core's parsers give them.
    """

    __slots__ = ("browser", "device", "os", "ua_string")

    def __init__(
        self,
        ua_string: str,
        ua: tuple[str, str | None, str | None, str | None],
        os: tuple[str, str | None, str | None, str | None, str | None],
        device: tuple[str, str | None, str | None],
    ) -> None:
        self.ua_string = ua_string
        self.browser = Browser(ua[0], *_version(ua[1], ua[2], ua[3]))
        # user_agents ignores the OS's patch_minor.
        self.os = OperatingSystem(os[0], *_version(os[1], os[2], os[3]))
        self.device = Device(*device)

    def _is_android_tablet(self) -> bool:
        return "Mobile Safari" not in self.ua_string and self.browser.family != "Firefox Mobile"

    @property
    def is_tablet(self) -> bool:
        """user_agents' ``is_tablet``."""
        os_family = self.os.family
        return (
            self.device.family in TABLET_DEVICE_FAMILIES
            or (os_family == "Android" and self._is_android_tablet())
            or (os_family == "Windows" and self.os.version_string.startswith("RT"))
            or (os_family == "Firefox OS" and "Mobile" not in self.browser.family)
        )

    @property
    def is_mobile(self) -> bool:
        """user_agents' ``is_mobile``."""
        ua, os_family, device = self.ua_string, self.os.family, self.device.family
        return (
            device in MOBILE_DEVICE_FAMILIES
            or self.browser.family in MOBILE_BROWSER_FAMILIES
            or (os_family in ("Android", "Firefox OS") and not self.is_tablet)
            or (os_family == "BlackBerry OS" and device != "Blackberry Playbook")
            or os_family in MOBILE_OS_FAMILIES
            or "J2ME" in ua
            or "MIDP" in ua
            or "iPhone;" in ua
            or "Googlebot-Mobile" in ua
            or (device == "Spider" and "Mobile" in self.browser.family)
            or ("NokiaBrowser" in ua and "Mobile" in ua)
        )

    @property
    def is_pc(self) -> bool:
        """user_agents' ``is_pc``."""
        ua, os_family = self.ua_string, self.os.family
        if (
            "Windows NT" in ua
            or os_family in PC_OS_FAMILIES
            or (os_family == "Windows" and self.os.version_string == "ME")
        ):
            return True
        if os_family == "Mac OS X" and "Silk" not in ua:
            return True
        if "Maemo" in ua:
            return False
        return "Chrome OS" in os_family or ("Linux" in ua and "X11" in ua)

    @property
    def is_bot(self) -> bool:
        """user_agents' ``is_bot``: uap-core calls the device a spider."""
        return self.device.family == "Spider"
