"""The consent fields of Settings: validated at construction, from kwargs, env and TOML."""

from __future__ import annotations

from pathlib import Path

import pytest

from beaconguard import Settings
from tests.conftest import SECRET


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("cookie_registry", [{"name": "_ga", "category": "analytics"}], "category"),
        ("cookie_registry", ["_ga"], "NAME:CATEGORY"),
        ("region_defaults", {"Europe": "opt-in"}, "region_defaults"),
        ("region_defaults", {"DE": "sometimes"}, "region_defaults"),
        ("third_party_hosts", {"ads": ["pixel.example"]}, "unknown category"),
        ("third_party_hosts", {"marketing": ["*"]}, "third_party_hosts"),
        ("third_party_hosts", ["pixel.example"], "third_party_hosts"),
        ("consent_text", {"stats": {"label": "x"}}, "consent_text"),
        ("consent_text", {"statistics": {"colour": "x"}}, "consent_text"),
        ("consent_cookie", "bad name", "consent_cookie"),
        ("csp_mode", "sometimes", "csp_mode"),
        ("unregistered_cookies", "ignore", "unregistered_cookies"),
    ],
)
def test_bad_consent_settings_fail_at_construction(field, value, message):
    with pytest.raises(ValueError, match=message):
        Settings(secret_key=SECRET, **{field: value})


def test_env_forms():
    settings = Settings.from_env({
        "BEACONGUARD_SECRET_KEY": SECRET,
        "BEACONGUARD_COOKIE_REGISTRY": "_ga:statistics, _ga_*:statistics, _fbp:marketing",
        "BEACONGUARD_THIRD_PARTY_HOSTS": "marketing=https://a.example https://b.example",
        "BEACONGUARD_REGION_DEFAULTS": "EEA=opt-in,GB=opt-in,*=opt-out",
        "BEACONGUARD_CONSENT_CLEAR_SITE_DATA": "true",
    })
    assert settings.cookie_registry[1] == {"name": "_ga_*", "category": "statistics"}
    assert settings.third_party_hosts == {"marketing": ("https://a.example", "https://b.example")}
    assert settings.region_defaults["*"] == "opt-out"
    assert settings.consent_clear_site_data is True


def test_toml_form(tmp_path: Path):
    path = tmp_path / "bg.toml"
    path.write_text(f"""
[beaconguard]
secret_key = ["{SECRET}"]
policy_revision = 2
region_defaults = {{ EEA = "opt-in", GB = "opt-in", "*" = "opt-out" }}

[[beaconguard.cookie_registry]]
name = "_ga"
category = "statistics"
purpose = "Analytics visitor id"
lifetime = "2 years"

[[beaconguard.cookie_registry]]
name = "_fbp"
category = "marketing"
party = "first"

[beaconguard.third_party_hosts]
marketing = ["https://pixel.example"]

[beaconguard.consent_text.statistics]
label = "Counting visits"
""")
    settings = Settings.from_toml(path)
    assert [e["name"] for e in settings.cookie_registry] == ["_ga", "_fbp"]
    assert settings.third_party_hosts["marketing"] == ("https://pixel.example",)
    assert settings.consent_text["statistics"]["label"] == "Counting visits"
    assert settings.policy_revision == 2
