"""The real `adgw serve` against a real Redis and a real Kafka-protocol broker."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request

import pytest

from tests.support.services import Service, free_port, start_gateway, start_redis, start_tansu

pytestmark = pytest.mark.e2e


def get(port: int, path: str) -> tuple[int, dict | str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as resp:
            raw = resp.read().decode()
            status = resp.status
    except urllib.error.HTTPError as err:
        raw, status = err.read().decode(), err.code
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw


def wait_state(port: int, dep: str, state: str, within: float) -> float:
    started = time.monotonic()
    deadline = started + within
    last = None
    while time.monotonic() < deadline:
        _, body = get(port, "/readyz")
        last = body
        if isinstance(body, dict) and body["dependencies"].get(dep, {}).get("state") == state:
            return time.monotonic() - started
        time.sleep(0.2)
    raise AssertionError(f"{dep} did not become {state} within {within}s; last /readyz: {last}")


@pytest.fixture(scope="module")
def private_redis():
    svc = start_redis()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def private_kafka():
    svc = start_tansu()
    yield svc
    svc.stop()


@pytest.fixture(scope="module")
def gateway(private_redis: Service, private_kafka: Service, tmp_path_factory):
    env = {"ADGW_REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0",
           "ADGW_KAFKA_BOOTSTRAP": f"127.0.0.1:{private_kafka.port}",
           "ADGW_SPOOL_DIR": str(tmp_path_factory.mktemp("spool"))}
    svc = start_gateway(env)
    yield svc
    svc.stop()


def test_embedded_default_serves_without_configuration(tmp_path):
    svc = start_gateway({"ADGW_SPOOL_DIR": str(tmp_path / "spool")})
    try:
        status, body = get(svc.port, "/readyz")
        assert status == 200
        assert body["dependencies"]["store"]["detail"] == "memory"
        assert "redis" not in body["dependencies"] and "kafka" not in body["dependencies"]
    finally:
        assert svc.stop() == 0


def test_readyz_names_configured_services(gateway: Service):
    status, body = get(gateway.port, "/readyz")
    assert status == 200, body
    assert body["dependencies"]["redis"]["state"] == "ok"
    assert body["dependencies"]["kafka"]["state"] == "ok"


@pytest.mark.parametrize("dep", ["redis", "kafka"])
def test_outage_shows_down_within_5s_and_recovers(gateway: Service, private_redis, private_kafka, dep):
    service = private_redis if dep == "redis" else private_kafka
    service.pause()
    try:
        wait_state(gateway.port, dep, "down", within=5.0)
        assert get(gateway.port, "/healthz")[0] == 200
        status, body = get(gateway.port, "/readyz")
        # a shared dependency's outage degrades; it does not take the instance out of the LB
        assert status == 200 and body["status"] == "degraded", body
    finally:
        service.resume()
    wait_state(gateway.port, dep, "ok", within=10.0)


def test_sigterm_exits_zero(private_redis):
    svc = start_gateway({"ADGW_REDIS_URL": f"redis://127.0.0.1:{private_redis.port}/0"})
    svc.send_signal(signal.SIGTERM)
    assert svc.proc.wait(20) == 0


def test_workers_share_the_port(tmp_path):
    port = free_port()
    svc = start_gateway({"ADGW_SPOOL_DIR": str(tmp_path / "spool")}, port=port, extra_args=["--workers", "2"])
    try:
        # Each worker process prefixes its request ids with its own random 8 hex digits
        # (gateway/middleware.py); two prefixes mean two processes answered on one port.
        # start_gateway waited for the first worker only; the second loads its own catalog
        # and models, which on a loaded 2-core machine has taken over 20 s.
        prefixes: set[str] = set()
        deadline = time.monotonic() + 60
        while len(prefixes) < 2 and time.monotonic() < deadline:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=3) as resp:
                assert resp.status == 200
                prefixes.add(resp.headers["X-Request-Id"][:8])
        assert len(prefixes) == 2, prefixes
    finally:
        assert svc.stop() == 0
