"""Region defaults map: groups, specific countries, '*', validation."""

from __future__ import annotations

import pytest

from beaconguard.consent.regions import EEA, expand_regions


def test_groups_expand_and_single_countries_win():
    regions = expand_regions({"DE": "opt-out", "EEA": "opt-in", "US": "statistics, preferences",
                              "*": ["statistics"]})
    assert regions["FR"] == frozenset() and regions["NO"] == frozenset()
    assert regions["DE"] == frozenset({"preferences", "statistics", "marketing"})
    assert regions["US"] == frozenset({"statistics", "preferences"})
    assert regions["*"] == frozenset({"statistics"})
    assert len(EEA) == 30
    assert expand_regions({"UK": "opt-in"}) == {"GB": frozenset()}


@pytest.mark.parametrize("raw", [{"Germany": "opt-in"}, {"DE": "maybe"}, {"DE": ["ads"]},
                                 {"DE": 5}])
def test_bad_region_maps_are_refused(raw):
    with pytest.raises(ValueError, match="region_defaults"):
        expand_regions(raw)
