"""A beacon writer process for the crash test: drives a BeaconPipeline (spool + Kafka
forwarder + Redis dedup) over a workload file and appends one result line per answered
beacon. Restarted on the same files it resends only what was never answered, the way a
player retries a beacon that got no answer."""

from __future__ import annotations

import asyncio
import os
import sys

import orjson

from beacons.intake import IntakeConfig
from beacons.pipeline import BeaconPipeline
from beacons.tokens import KeyRing
from beacons.validate import RawBeacon
from store import RedisStore


async def main(workload_path, results_path, spool_dir, redis_url, bootstrap, topic, invalid_topic, keys) -> int:
    raws = [RawBeacon(**row) for row in orjson.loads(open(workload_path, "rb").read())]
    done: set[int] = set()
    if os.path.exists(results_path):
        for line in open(results_path, "rb").read().splitlines():
            try:
                done.add(orjson.loads(line)["i"])
            except orjson.JSONDecodeError:
                pass
    store = RedisStore(redis_url)
    ring = KeyRing.parse(keys)
    pipeline = await BeaconPipeline.open(
        store, spool_dir=spool_dir, keys=[(k, ring.secret(k)) for k in ring.kids], kafka_bootstrap=bootstrap,
        topic=topic, invalid_topic=invalid_topic,
        intake_config=IntakeConfig(ip_rate=1e6, ip_burst=1e6, session_rate=1e6, session_burst=1e6))
    todo = [i for i in range(len(raws)) if i not in done]
    with open(results_path, "ab") as out:
        for start in range(0, len(todo), 250):
            chunk = todo[start:start + 250]
            verdicts = await pipeline.intake.accept_batch([raws[i] for i in chunk])
            out.write(b"".join(orjson.dumps({"i": i, "status": v.status, "event_id": v.event_id}) + b"\n"
                               for i, v in zip(chunk, verdicts, strict=True)))
            out.flush()
    assert await pipeline.forwarder.drain(90), pipeline.forwarder.last_error
    await pipeline.close()
    await store.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(*sys.argv[1:])))
