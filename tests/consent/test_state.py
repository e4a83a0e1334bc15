"""ConsentState: the contract the other parts rely on."""

from __future__ import annotations

import pytest

from beaconguard.consent.state import ConsentState


def test_allows_and_necessary():
    state = ConsentState({"statistics": True, "marketing": False}, "explicit", 3)
    assert state.allows("necessary") and state.allows("statistics")
    assert not state.allows("marketing") and not state.allows("preferences")
    assert not state.allows("anything-else")
    assert state.source == "explicit" and state.revision == 3 and state.explicit
    assert dict(state.decisions) == {
        "necessary": True, "preferences": False, "statistics": True, "marketing": False
    }


def test_necessary_cannot_be_refused():
    state = ConsentState({"necessary": False}, "default", 1)
    assert state.allows("necessary")


def test_immutable():
    state = ConsentState.granting(["marketing"], "region", 1)
    with pytest.raises(AttributeError):
        state.source = "explicit"  # type: ignore[misc]
    with pytest.raises(TypeError):
        state.decisions["marketing"] = False  # type: ignore[index]


def test_mask_and_equality():
    a = ConsentState.granting(["preferences", "marketing"], "gpc", 1)
    b = ConsentState({"preferences": True, "marketing": True}, "gpc", 1)
    assert a == b and hash(a) == hash(b) and a.mask == 0b101
    assert ConsentState.granting([], "default", 1).mask == 0
    assert a.as_dict()["decided"] is False
    assert "granted=preferences,marketing" in repr(a)
