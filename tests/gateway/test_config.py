from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gateway.config import ConfigError, load_settings


def test_defaults_are_the_embedded_default():
    s = load_settings(env={})
    assert s.redis_url is None and s.kafka_bootstrap is None
    assert s.kafka_topic == "ad-events" and s.kafka_invalid_topic == "ad-events-invalid"
    assert s.port == 8080 and s.demo is True and s.admin_token is None
    assert s.base_url == "http://127.0.0.1:8080"


def test_every_problem_is_reported_at_once():
    env = {"ADGW_PORT": "70000", "ADGW_REDIS_URL": "http//nope", "ADGW_NOPE": "1",
           "ADGW_BEACON_KEYS": "k1", "ADGW_DEMO": "maybe", "ADGW_KAFKA_BOOTSTRAP": "host"}
    with pytest.raises(ConfigError) as err:
        load_settings(env=env)
    problems = err.value.problems
    assert len(problems) == 6, problems
    for name in ("ADGW_PORT", "ADGW_REDIS_URL", "ADGW_NOPE", "ADGW_BEACON_KEYS", "ADGW_DEMO", "ADGW_KAFKA_BOOTSTRAP"):
        assert any(p.startswith(name) for p in problems), (name, problems)


def test_toml_file_and_env_precedence(tmp_path: Path):
    cfg = tmp_path / "adgw.toml"
    cfg.write_text('port = 9000\nkafka_topic = "from-file"\nwrapper_allow = ["10.0.0.0/8", "ads.local"]\n')
    s = load_settings(env={"ADGW_PORT": "9100"}, config_file=cfg)
    assert s.port == 9100  # environment wins over the file
    assert s.kafka_topic == "from-file"
    assert s.wrapper_allow == ("10.0.0.0/8", "ads.local")


def test_toml_unknown_key_and_bad_file(tmp_path: Path):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("colour = 'blue'\nport = 'x'\n")
    with pytest.raises(ConfigError) as err:
        load_settings(env={}, config_file=cfg)
    assert len(err.value.problems) == 2
    broken = tmp_path / "broken.toml"
    broken.write_text("port = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(env={}, config_file=broken)


def test_beacon_keys_parse_in_order():
    s = load_settings(env={"ADGW_BEACON_KEYS": "k2:0123456789abcdef0123,k1:fedcba9876543210fedc"})
    assert [kid for kid, _ in s.beacon_keys] == ["k2", "k1"]


def test_bad_configuration_exits_2_with_one_line_per_problem():
    env = {"ADGW_PORT": "0", "ADGW_UNKNOWN": "x", "ADGW_REDIS_URL": "mysql://db", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-m", "gateway.cli", "serve"], env=env, capture_output=True,
                            text=True, timeout=30, cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 3, result.stderr
    assert all(line.startswith("adgw: configuration: ") for line in lines)
    assert "Traceback" not in result.stderr


def test_beacon_traffic_settings(tmp_path: Path):
    listed = tmp_path / "datacenters.txt"
    listed.write_text("# a published data-centre list\n192.0.2.0/24\n\n2001:db8::/32  # v6 too\n")
    s = load_settings(env={"ADGW_BEACON_DATACENTER_NETWORKS": f"198.51.100.7, @{listed}",
                           "ADGW_BEACON_RATE_IP": "50", "ADGW_BEACON_RATE_SESSION": "5:8"})
    assert s.beacon_datacenter_networks == ("198.51.100.7", "192.0.2.0/24", "2001:db8::/32")
    assert s.beacon_rate_ip == (50.0, 500.0) and s.beacon_rate_session == (5.0, 8.0)
    defaults = load_settings(env={})
    assert defaults.beacon_datacenter_networks == () and defaults.beacon_rate_ip == (100.0, 1000.0)
    with pytest.raises(ConfigError) as e:
        load_settings(env={"ADGW_BEACON_DATACENTER_NETWORKS": f"10.0.0.0/8,300.1.2.3,@{tmp_path / 'missing'}",
                           "ADGW_BEACON_RATE_IP": "0", "ADGW_BEACON_RATE_SESSION": "10:5"})
    text = "\n".join(e.value.problems)
    assert "ADGW_BEACON_RATE_IP" in text and "ADGW_BEACON_RATE_SESSION" in text
    assert "ADGW_BEACON_DATACENTER_NETWORKS" in text
    for bad in ("300.1.2.3", "nan", "inf:inf", "x:1"):
        key = "ADGW_BEACON_DATACENTER_NETWORKS" if bad == "300.1.2.3" else "ADGW_BEACON_RATE_IP"
        with pytest.raises(ConfigError):
            load_settings(env={key: bad})
