"""End to end through the CLI: the real gateway takes beacons and forwards them to a real
Kafka-protocol broker; `adgw events consume` counts them into a real Redis; `adgw events
tail` prints them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis
from lxml import etree

from tests.support.services import start_gateway

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
NS = "{http://www.iab.com/VAST}"
KEYS = "e2e1:0123456789abcdef0123456789abcdef"


def adgw(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("adgw")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "gateway.cli", *args]


def test_beacons_reach_kafka_and_the_consumer_counts_them(redis_url, kafka_bootstrap, tmp_path):
    # a database of its own: the session's Redis also holds other tests' counters
    redis_url = redis_url.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(redis_url).flushdb()
    topic = f"ad-events-{uuid.uuid4().hex[:8]}"
    env = {"ADGW_REDIS_URL": redis_url, "ADGW_KAFKA_BOOTSTRAP": kafka_bootstrap, "ADGW_KAFKA_TOPIC": topic,
           "ADGW_KAFKA_INVALID_TOPIC": topic + "-invalid", "ADGW_BEACON_KEYS": KEYS,
           "ADGW_SPOOL_DIR": str(tmp_path / "spool")}
    gw = start_gateway(env)
    consumer = None
    try:
        base = f"http://127.0.0.1:{gw.port}"
        with urllib.request.urlopen(f"{base}/v1/vast?sid=e2e-dev&dur=60&country=US", timeout=5) as resp:
            root = etree.fromstring(resp.read())
        fired: dict[str, int] = {}
        for ad in root.iter(f"{NS}Ad"):
            url = next(u.text.strip() for u in ad.iter(f"{NS}Impression") if "/v1/b/" in u.text)
            parts = urlsplit(url)
            with urllib.request.urlopen(f"{base}{parts.path}?{parts.query.replace('[TIMESTAMP]', '-1')}", timeout=5) as r:
                assert r.status == 204
            fired[ad.get("id")] = 1
        assert fired, "the fixture catalog fills a 60 s break"

        consumer = subprocess.Popen(adgw("events", "consume", "--group", f"g-{topic}"), cwd=ROOT,
                                    env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(redis_url)
        deadline = time.monotonic() + 60
        counted = 0
        while time.monotonic() < deadline:
            keys = client.keys("dlv:*:impression:total")
            counted = sum(int(v) for v in client.mget(keys)) if keys else 0
            if counted >= len(fired):
                break
            time.sleep(0.5)
        assert counted == len(fired), f"consumer counted {counted} of {len(fired)}"

        tail = subprocess.run(adgw("events", "tail", "--limit", str(len(fired)), "--from-beginning"), cwd=ROOT,
                              env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
        assert tail.returncode == 0, tail.stderr[-2000:]
        events = [json.loads(line) for line in tail.stdout.splitlines() if line.startswith("{")]
        assert sorted(e["imp_id"] for e in events) == sorted(fired)
        assert all(e["schema"] == "ad_event/1" and e["event"] == "impression" for e in events)
    finally:
        if consumer is not None:
            consumer.terminate()
            assert consumer.wait(20) == 0, consumer.stdout.read().decode()[-2000:]
        assert gw.stop() == 0
