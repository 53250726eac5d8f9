"""Settings: read once from `ADGW_*` environment variables and an optional TOML file,
validated all at once (every problem reported), frozen, passed down as typed pieces.

A TOML file may set the same keys in lower case without the prefix; the environment
wins over the file.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


class ConfigError(Exception):
    """Bad configuration; `problems` has one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str | None = None
    redis_url: str | None = None
    kafka_bootstrap: str | None = None
    kafka_topic: str = "ad-events"
    kafka_invalid_topic: str = "ad-events-invalid"
    spool_dir: Path = Path("var/spool")
    spool_max_bytes: int = 1 << 30
    beacon_keys: tuple[tuple[str, bytes], ...] = ()
    admin_token: str | None = None
    catalog: Path = FIXTURES / "catalog.json"
    models_dir: Path = FIXTURES / "models"
    wrapper_allow: tuple[str, ...] = ()
    demo: bool = True
    trusted_proxies: tuple[str, ...] = ()
    request_timeout_s: float = 10.0
    max_body_bytes: int = 1 << 20
    log_level: str = "info"
    # invalid-traffic list: beacons from these networks carry the `datacenter_ip` flag
    beacon_datacenter_networks: tuple[str, ...] = ()
    # token buckets (beacons per second, burst) per client IP and per ad session
    beacon_rate_ip: tuple[float, float] = (100.0, 1000.0)
    beacon_rate_session: tuple[float, float] = (20.0, 400.0)
    # MaxMind-format database for geo from the client address (None: no lookups)
    geoip_db: Path | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        """Base URL written into beacon, segment and tracking URLs."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    def redacted(self) -> dict[str, object]:
        """For logs and /readyz: no secrets."""
        return {
            "public_url": self.base_url,
            "redis": "configured" if self.redis_url else "memory",
            "kafka": "configured" if self.kafka_bootstrap else "spool-only",
            "catalog": str(self.catalog),
            "models_dir": str(self.models_dir),
            "demo": self.demo,
            "admin_api": self.admin_token is not None,
            "beacon_key_ids": [kid for kid, _ in self.beacon_keys],
        }


# key -> parser(value, problems) ; each parser appends to problems and returns a value
def _str(name: str, value: str, problems: list[str]) -> str:
    return value


def _url(schemes: tuple[str, ...]):
    def parse(name: str, value: str, problems: list[str]) -> str | None:
        parts = urlsplit(value)
        if parts.scheme not in schemes or not parts.hostname:
            problems.append(f"{name}: not a {'/'.join(schemes)} URL: {value!r}")
            return None
        try:
            _ = parts.port
        except ValueError:
            problems.append(f"{name}: bad port in {value!r}")
            return None
        return value

    return parse


def _port(name: str, value: str, problems: list[str]) -> int | None:
    if not (value.isascii() and value.isdigit()) or not 0 < int(value) < 65536:
        problems.append(f"{name}: not a TCP port (1-65535): {value!r}")
        return None
    return int(value)


def _bootstrap(name: str, value: str, problems: list[str]) -> str | None:
    for server in (s.strip() for s in value.split(",")):
        host, _, port = server.rpartition(":")
        if not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
            problems.append(f"{name}: expected host:port[,host:port...], got {server!r}")
            return None
    return value


def _bool(name: str, value: str, problems: list[str]) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}: expected 0/1, got {value!r}")
    return None


def _path(must_exist: bool):
    def parse(name: str, value: str, problems: list[str]) -> Path | None:
        path = Path(value)
        if must_exist and not path.exists():
            problems.append(f"{name}: {value!r} does not exist")
            return None
        return path

    return parse


def _keys(name: str, value: str, problems: list[str]) -> tuple[tuple[str, bytes], ...] | None:
    keys: list[tuple[str, bytes]] = []
    for item in (i.strip() for i in value.split(",") if i.strip()):
        kid, sep, secret = item.partition(":")
        if not sep or not kid or not secret:
            problems.append(f"{name}: expected kid:secret[,kid:secret...], got an item without ':'")
            return None
        if len(secret) < 16:
            problems.append(f"{name}: secret of key {kid!r} is shorter than 16 characters")
            return None
        if not kid.isalnum() or len(kid) > 16:
            problems.append(f"{name}: key id {kid!r} must be 1-16 letters/digits")
            return None
        keys.append((kid, secret.encode()))
    if not keys:
        problems.append(f"{name}: no keys given")
        return None
    if len({k for k, _ in keys}) != len(keys):
        problems.append(f"{name}: duplicate key id")
        return None
    return tuple(keys)


def _hosts(name: str, value: str, problems: list[str]) -> tuple[str, ...] | None:
    items = tuple(i.strip() for i in value.split(",") if i.strip())
    for item in items:
        if "/" in item:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                problems.append(f"{name}: bad CIDR {item!r}")
                return None
    return items


def _networks(name: str, value: str, problems: list[str]) -> tuple[str, ...] | None:
    """CIDRs or addresses, comma-separated; an item `@PATH` reads a file of them, one a
    line (`#` comments), as published data-centre lists come."""
    items: list[str] = []
    for item in (i.strip() for i in value.split(",")):
        if item.startswith("@"):
            try:
                lines = Path(item[1:]).read_text().splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                problems.append(f"{name}: cannot read {item[1:]}: {getattr(exc, 'strerror', None) or exc}")
                return None
            items += [line.split("#", 1)[0].strip() for line in lines]
        else:
            items.append(item)
    items = [i for i in items if i]
    for item in items:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            problems.append(f"{name}: bad network {item!r}")
            return None
    return tuple(items)


def _geoip_db(name: str, value: str, problems: list[str]) -> Path | None:
    from gateway.geo import check_database  # maxminddb only when the setting is used

    path = _path(True)(name, value, problems)
    if path is None:
        return None
    wrong = check_database(path)
    if wrong:
        problems.append(f"{name}: {value!r} is {wrong}")
        return None
    return path


def _rate(name: str, value: str, problems: list[str]) -> tuple[float, float] | None:
    """`RATE` or `RATE:BURST` (per second; the burst defaults to ten seconds' worth)."""
    rate_text, _, burst_text = value.partition(":")
    try:
        rate = float(rate_text)
        burst = float(burst_text) if burst_text else rate * 10
    except ValueError:
        rate = burst = -1.0
    if not (0 < rate < float("inf") and rate <= burst < float("inf")):
        problems.append(f"{name}: expected RATE[:BURST] per second, burst >= rate > 0, got {value!r}")
        return None
    return rate, burst


def _positive_float(name: str, value: str, problems: list[str]) -> float | None:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number > 0:
        problems.append(f"{name}: expected a positive number, got {value!r}")
        return None
    return number


def _positive_int(name: str, value: str, problems: list[str]) -> int | None:
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:
        problems.append(f"{name}: expected a positive integer, got {value!r}")
        return None
    return int(value)


def _level(name: str, value: str, problems: list[str]) -> str | None:
    if value.lower() not in ("debug", "info", "warning", "error"):
        problems.append(f"{name}: expected debug/info/warning/error, got {value!r}")
        return None
    return value.lower()


_FIELDS = {
    "host": ("host", _str),
    "port": ("port", _port),
    "public_url": ("public_url", _url(("http", "https"))),
    "redis_url": ("redis_url", _url(("redis", "rediss", "unix"))),
    "kafka_bootstrap": ("kafka_bootstrap", _bootstrap),
    "kafka_topic": ("kafka_topic", _str),
    "kafka_invalid_topic": ("kafka_invalid_topic", _str),
    "spool_dir": ("spool_dir", _path(False)),
    "spool_max_bytes": ("spool_max_bytes", _positive_int),
    "beacon_keys": ("beacon_keys", _keys),
    "admin_token": ("admin_token", _str),
    "catalog": ("catalog", _path(True)),
    "models_dir": ("models_dir", _path(True)),
    "wrapper_allow": ("wrapper_allow", _hosts),
    "demo": ("demo", _bool),
    "trusted_proxies": ("trusted_proxies", _hosts),
    "request_timeout": ("request_timeout_s", _positive_float),
    "max_body_bytes": ("max_body_bytes", _positive_int),
    "log_level": ("log_level", _level),
    "beacon_datacenter_networks": ("beacon_datacenter_networks", _networks),
    "beacon_rate_ip": ("beacon_rate_ip", _rate),
    "beacon_rate_session": ("beacon_rate_session", _rate),
    "geoip_db": ("geoip_db", _geoip_db),
}
PREFIX = "ADGW_"


def load_settings(env: Mapping[str, str] | None = None, config_file: str | Path | None = None,
                  overrides: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from a TOML file, then `ADGW_*` env, then explicit overrides (CLI
    flags). Raises ConfigError with every problem found."""
    env = os.environ if env is None else env
    problems: list[str] = []
    raw: dict[str, tuple[str, str]] = {}  # key -> (source name, value)

    if config_file is not None:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            problems.append(f"--config: cannot read {config_file}: {exc.strerror}")
            data = {}
        except tomllib.TOMLDecodeError as exc:
            problems.append(f"--config: {config_file} is not valid TOML: {exc}")
            data = {}
        for key, value in data.items():
            if key not in _FIELDS:
                problems.append(f"{config_file}: unknown key {key!r}")
                continue
            if isinstance(value, list):
                value = ",".join(str(v) for v in value)
            raw[key] = (f"{config_file}:{key}", str(value).lower() if isinstance(value, bool) else str(value))

    for name, value in env.items():
        if not name.startswith(PREFIX):
            continue
        key = name[len(PREFIX):].lower()
        if key not in _FIELDS:
            problems.append(f"{name}: unknown setting")
            continue
        raw[key] = (name, value)

    for key, value in (overrides or {}).items():
        raw[key] = (f"--{key.replace('_', '-')}", value)

    values: dict[str, object] = {}
    for key, (source, value) in raw.items():
        attr, parse = _FIELDS[key]
        if value == "" and key not in ("demo",):
            continue  # set but empty means unset
        before = len(problems)
        parsed = parse(source, value, problems)
        if len(problems) == before:
            values[attr] = parsed

    if problems:
        raise ConfigError(problems)
    return Settings(**values)  # type: ignore[arg-type]
