from pathlib import Path

import pytest

from beaconguard import Settings

KEY = "0123456789abcdef-secret"


def test_defaults_and_key_list() -> None:
    s = Settings(secret_key=f"old-key-0123456789,{KEY}")
    assert s.secret_key == ("old-key-0123456789", KEY)
    assert s.signing_key == KEY.encode()
    assert s.ip_mode == "truncate" and s.ipv4_prefix == 24 and s.ipv6_prefix == 48


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ip_mode": "scramble"}, "ip_mode"),
        ({"ipv4_prefix": 33}, "ipv4_prefix"),
        ({"ipv6_prefix": -1}, "ipv6_prefix"),
        ({"store": "postgres://x"}, "store"),
        ({"trusted_proxies": "10.0.0.0/8,not-a-net"}, "trusted_proxies"),
        ({"secret_key": "short"}, "at least 16"),
        ({"log_buffer_size": 0}, "log_buffer_size"),
        ({"flush_interval": 0}, "flush_interval"),
        ({"geoip_db": "/nonexistent.mmdb"}, "geoip_db"),
        ({"route_prefix": "_bg/"}, "route_prefix"),
        ({"report_token": " report-token-0123456789 "}, "report_token: use visible ASCII"),
        ({"report_token": "report-token-0123456789\n"}, "report_token: use visible ASCII"),
        ({"report_token": "report token 0123456789"}, "report_token: use visible ASCII"),
        ({"report_token": "rapport-clé-0123456789"}, "report_token: use visible ASCII"),
        ({"report_token": "tok-123"}, "report_token: must be at least 16"),
    ],
)
def test_bad_values_raise_at_construction(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings(**{"secret_key": KEY, **kwargs})


def test_report_token_accepts_a_generated_token_and_empty_means_off() -> None:
    assert Settings(secret_key=KEY, report_token="0123456789abcdef").report_token
    assert Settings(secret_key=KEY, report_token="").report_token is None


def test_report_token_from_env_with_a_stray_newline_is_refused(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("BEACONGUARD_SECRET_KEY", KEY)
    monkeypatch.setenv("BEACONGUARD_REPORT_TOKEN", "report-token-0123456789\n")
    with pytest.raises(ValueError, match="report_token"):
        Settings.from_env()


def test_missing_secret_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="BEACONGUARD_SECRET_KEY"):
        Settings().require_secret()


def test_from_env() -> None:
    env = {
        "BEACONGUARD_SECRET_KEY": f"a-very-old-secret-key,{KEY}",
        "BEACONGUARD_ACCESS_LOG": "-",
        "BEACONGUARD_STORE": "memory://",
        "BEACONGUARD_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
        "BEACONGUARD_IP_MODE": "hash",
        "BEACONGUARD_IPV4_PREFIX": "16",
        "BEACONGUARD_COOKIELESS": "yes",
        "BEACONGUARD_NOISE_EPSILON": "0.5",
    }
    s = Settings.from_env(env)
    assert s.secret_key[-1] == KEY
    assert s.access_log == "-"
    assert s.trusted_proxies == ("10.0.0.0/8", "127.0.0.1")
    assert (s.ip_mode, s.ipv4_prefix, s.cookieless, s.noise_epsilon) == ("hash", 16, True, 0.5)
    assert Settings.from_env({"BEACONGUARD_ACCESS_LOG": ""}).access_log is None


def test_from_env_bad_number() -> None:
    with pytest.raises(ValueError, match="BEACONGUARD_IPV4_PREFIX"):
        Settings.from_env({"BEACONGUARD_IPV4_PREFIX": "twenty"})


def test_toml(tmp_path: Path) -> None:
    conf = tmp_path / "bg.toml"
    conf.write_text(f'[beaconguard]\nsecret_key = ["{KEY}"]\nip_mode = "drop"\n')
    assert Settings.from_toml(conf).ip_mode == "drop"
    s = Settings.from_env({"BEACONGUARD_CONFIG": str(conf), "BEACONGUARD_IP_MODE": "hash"})
    assert s.ip_mode == "hash"  # variables override the file
    conf.write_text('ip_mod = "drop"\n')
    with pytest.raises(ValueError, match="unknown setting"):
        Settings.from_toml(conf)
    conf.write_text("not = [toml")
    with pytest.raises(ValueError, match="not valid TOML"):
        Settings.from_toml(conf)


def test_settings_are_frozen() -> None:
    s = Settings(secret_key=KEY)
    with pytest.raises(AttributeError):
        s.ip_mode = "drop"  # type: ignore[misc]
