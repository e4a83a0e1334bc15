"""Required substrings: a pattern is only ruled out when it truly cannot match."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from beaconguard.literals import required_substrings, store_requirements, stored_requirements


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        (r"Googlebot/\d", ("Googlebot/",)),
        (r"(bingbot|msnbot)", ("bingbot", "msnbot")),
        (r"^Mozilla.{1,200}(GSA)/\d+", ("Mozilla",)),
        (r"[Ww]get/", ("get/",)),
        (r"(?:abc)+def", ("abc",)),
        (r"(?:abcd)*x", ("x",)),
        (r"foo|", None),
        (r"(?i)googlebot", None),
        (r"(?i:Googlebot)", None),
        (r"\d+", None),
        (r"(", None),
    ],
)
def test_required_substrings(pattern: str, expected: tuple[str, ...] | None) -> None:
    assert required_substrings(pattern) == expected


def test_no_pattern_is_ruled_out_where_it_matches() -> None:
    rng = random.Random(5)
    atoms = ["ab", "b", "c", "(a|bc)", "(?:ab)+", "x?", "[ab]", "(?:c|)", r"\d", ".", "b{2,3}"]
    alphabet = "abcx1 "
    for _ in range(400):
        source = "".join(rng.choice(atoms) for _ in range(rng.randrange(1, 5)))
        pattern = re.compile(source)
        need = required_substrings(source)
        for _ in range(60):
            text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12)))
            if pattern.search(text) and need is not None:
                assert any(s in text for s in need), (source, text, need)


def test_stored_requirements_are_used_only_for_the_patterns_they_were_read_from(
    tmp_path: Path,
) -> None:
    patterns = [r"Googlebot/\d", r"(bingbot|msnbot)", r"\d+"]
    path = tmp_path / "needs.json"
    store_requirements(patterns, path)
    text = path.read_text("utf-8")
    assert stored_requirements(patterns, text) == [("Googlebot/",), ("bingbot", "msnbot"), None]
    # Stored for other patterns, or unreadable: worked out again, never taken as is.
    changed = [r"Googlebot/\d", r"(bingbot|yandex)", r"\d+"]
    assert stored_requirements(changed, text)[1] == ("bingbot", "yandex")
    for broken in ("", "{", "[]", '{"digest": 1}', None):
        assert stored_requirements(patterns, broken)[0] == ("Googlebot/",)
