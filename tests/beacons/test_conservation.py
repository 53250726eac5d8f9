"""20,000 beacons with 10% duplicates and 2% invalid, against real Redis and Tansu:
distinct events on the topic == accepted unique events, the invalid topic holds exactly
the invalid ones, counters == unique counts; also with the broker frozen for 10 s and
with the intake process SIGKILLed and restarted on the same spool."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import orjson
import pytest

from beacons.forwarder import Forwarder
from beacons.intake import BeaconIntake, IntakeConfig
from beacons.spool import Spool
from store import RedisStore
from tests.beacons.conservation import check_topics, run_and_check_counters
from tests.beacons.helpers import KEYS, create_topics, signer, unique_topic
from tests.beacons.workload import build

OPEN_LIMITS = IntakeConfig(ip_rate=1e6, ip_burst=1e6, session_rate=1e6, session_burst=1e6, gateway_id="test")
BATCH = 500


async def drive(intake: BeaconIntake, raws, *, concurrency: int = 4, on_progress=None):
    verdicts = [None] * len(raws)
    chunks = [range(i, min(i + BATCH, len(raws))) for i in range(0, len(raws), BATCH)]
    queue = list(reversed(chunks))
    done = 0

    async def worker():
        nonlocal done
        while queue:
            chunk = queue.pop()
            for i, v in zip(chunk, await intake.accept_batch([raws[i] for i in chunk]), strict=True):
                verdicts[i] = v
            done += len(chunk)
            if on_progress is not None:
                await on_progress(done)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return verdicts


def check_verdicts(verdicts, wl):
    outcomes = Counter(v.outcome for v in verdicts)
    assert outcomes["accepted"] == len(wl.unique_ids)
    assert outcomes["invalid"] == wl.invalid
    assert outcomes["accepted"] + outcomes["duplicate"] + outcomes["invalid"] == len(verdicts)
    assert {v.event_id for v in verdicts if v.outcome == "accepted"} == wl.unique_ids


@pytest.mark.parametrize("freeze_broker", [False, True], ids=["steady", "broker-frozen-10s"])
async def test_conservation(tmp_path, redis_url, kafka_bootstrap, kafka_service, freeze_broker):
    topic, invalid_topic = unique_topic("ev"), unique_topic("inv")
    await create_topics(kafka_bootstrap, topic, invalid_topic)
    s = signer()
    wl = build(s)
    store = RedisStore(redis_url)
    spool = await Spool(tmp_path / "spool").open()
    forwarder = Forwarder(spool, kafka_bootstrap, topic=topic, invalid_topic=invalid_topic)
    await forwarder.start()
    intake = BeaconIntake(s, spool, store, config=OPEN_LIMITS)
    frozen = {"done": False}

    async def freeze(done: int):
        if freeze_broker and not frozen["done"] and done >= len(wl.raws) // 3:
            frozen["done"] = True
            kafka_service.pause()
            try:
                await asyncio.sleep(10)  # beacons keep arriving meanwhile, into the spool
                assert spool.depth_bytes > 0
            finally:
                kafka_service.resume()

    t0 = time.monotonic()
    try:
        verdicts = await drive(intake, wl.raws, on_progress=freeze)
        intake_s = time.monotonic() - t0
        assert await forwarder.drain(90), forwarder.last_error
    finally:
        kafka_service.resume()
        await forwarder.stop(0)
        await spool.close()
    check_verdicts(verdicts, wl)
    if not freeze_broker:
        assert intake_s < 30, f"20k beacons took {intake_s:.1f}s"
    else:
        assert frozen["done"]
    await check_topics(kafka_bootstrap, topic, invalid_topic, wl)
    await run_and_check_counters(kafka_bootstrap, topic, store, wl, group=unique_topic("g"))
    await store.close()


WRITER = Path(__file__).with_name("writer.py")


def start_writer(workload_path, results_path, spool_dir, redis_url, bootstrap, topic, invalid_topic):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    return subprocess.Popen(
        [sys.executable, str(WRITER), str(workload_path), str(results_path), str(spool_dir), redis_url, bootstrap,
         topic, invalid_topic, KEYS], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def answered(results_path) -> dict[int, dict]:
    out = {}
    if results_path.exists():
        for line in results_path.read_bytes().splitlines():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue  # a line torn by the kill
            out[row["i"]] = row
    return out


async def test_conservation_intake_killed_and_restarted(tmp_path, redis_url, kafka_bootstrap):
    topic, invalid_topic = unique_topic("ev"), unique_topic("inv")
    await create_topics(kafka_bootstrap, topic, invalid_topic)
    wl = build(signer())
    workload_path, results_path, spool_dir = tmp_path / "workload.json", tmp_path / "results.jsonl", tmp_path / "spool"
    workload_path.write_bytes(orjson.dumps(wl.to_json()))
    args = (workload_path, results_path, spool_dir, redis_url, kafka_bootstrap, topic, invalid_topic)

    first = start_writer(*args)
    deadline = time.monotonic() + 60
    while len(answered(results_path)) < 8000 and first.poll() is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert first.poll() is None, first.stdout.read().decode()
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    got = answered(results_path)
    assert 8000 <= len(got) < len(wl.raws)

    second = start_writer(*args)  # resends whatever was not answered, on the same spool
    out, _ = await asyncio.to_thread(second.communicate, timeout=120)
    assert second.returncode == 0, out.decode()
    got = answered(results_path)
    assert sorted(got) == list(range(len(wl.raws)))
    statuses = Counter(row["status"] for row in got.values())
    assert statuses[204] == len(wl.raws) - wl.invalid
    assert {row["event_id"] for row in got.values() if row["status"] == 204} == wl.unique_ids
    await check_topics(kafka_bootstrap, topic, invalid_topic, wl)
    store = RedisStore(redis_url)
    await run_and_check_counters(kafka_bootstrap, topic, store, wl, group=unique_topic("g"))
    await store.close()
