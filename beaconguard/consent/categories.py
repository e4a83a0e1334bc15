"""The consent categories and the text the banner shows for each.

``necessary`` is always granted: it covers what the site cannot work without (the consent
cookie itself, a session, a basket). The other three are asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

NECESSARY = "necessary"
PREFERENCES = "preferences"
STATISTICS = "statistics"
MARKETING = "marketing"

#: Every category, in banner order.
CATEGORIES: tuple[str, ...] = (NECESSARY, PREFERENCES, STATISTICS, MARKETING)
#: The categories a visitor decides on (``necessary`` is not a choice).
OPTIONAL: tuple[str, ...] = (PREFERENCES, STATISTICS, MARKETING)

DEFAULT_TEXT: dict[str, dict[str, str]] = {
    NECESSARY: {
        "label": "Necessary",
        "description": "Keeps the site working and remembers this choice. Always on.",
    },
    PREFERENCES: {
        "label": "Preferences",
        "description": "Remembers settings such as language or layout.",
    },
    STATISTICS: {
        "label": "Statistics",
        "description": "Helps us understand how the site is used.",
    },
    MARKETING: {
        "label": "Marketing",
        "description": "Lets advertising partners measure and personalise ads.",
    },
    # Not a category: the banner's own heading and sentence.
    "banner": {
        "label": "Your privacy choices",
        "description": "We ask before setting cookies or loading beacons that are not "
        "necessary. You can change your mind at any time.",
    },
}


def category_text(overrides: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Labels and descriptions: the defaults with ``overrides`` applied.

    ``overrides`` is shaped like ``{"statistics": {"label": "...", "description": "..."}}``
    (a TOML table per category; the key ``banner`` holds the banner's heading and
    sentence). Raises ``ValueError`` naming what is wrong.
    """
    out = {name: dict(text) for name, text in DEFAULT_TEXT.items()}
    for name, text in overrides.items():
        if name not in out:
            raise ValueError(
                f"consent_text: unknown key {name!r}; use one of {', '.join(out)}"
            )
        if not isinstance(text, Mapping):
            raise ValueError(
                f"consent_text: {name!r} must be a table with 'label' and/or 'description'"
            )
        for key, value in text.items():
            if key not in ("label", "description") or not isinstance(value, str):
                raise ValueError(
                    f"consent_text: {name}.{key} is not a text 'label' or 'description'"
                )
            out[name][key] = value
    return out
