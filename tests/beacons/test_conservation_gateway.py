"""The crash half of the conservation check through the real `adgw serve`: 20,000
beacons (10% duplicates, 2% invalid) fired as players fire them, `GET /v1/b/{event}` over
keep-alive connections, with the gateway SIGKILLed mid-run and restarted on the same
spool. Players retry what got no answer. Whatever the kill caught between the dedup mark,
the fsync, the 204 and the broker's acknowledgement, Kafka must end with exactly the
unique events, the invalid topic with exactly the invalid ones, and the counters consumer
with exactly the unique counts. Also the broker frozen (SIGSTOP) for 10 s mid-run,
through the gateway. (test_conservation.py runs the same workload through the pipeline
in-process, steady and with the broker frozen.)"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import quote

import aiohttp
import pytest
import yarl

from store import RedisStore
from tests.beacons.conservation import check_topics, run_and_check_counters
from tests.beacons.helpers import KEYS, create_topics, signer, unique_topic
from tests.beacons.workload import build
from tests.support.services import start_gateway

pytestmark = pytest.mark.e2e
CONNECTIONS = 32
KILL_AFTER = 8000  # answered beacons before the kill
# the answer each invalid kind must get; every valid beacon (first copy or not) gets 204
INVALID_STATUS = {"bad_signature": 403, "expired": 410, "unknown_event": 400, "bad_code": 400, "bad_offset": 400}


def beacon_url(base: str, raw) -> yarl.URL:
    # quoted by hand: the workload's raw values (a literal "%5BTIMESTAMP%5D" among them)
    # must reach the gateway as they are, not re-encoded by the client
    query = "&".join(f"{name}={quote(value, safe='')}" for name, value in
                     (("t", raw.token), ("ts", raw.ts), ("code", raw.code), ("off", raw.off)) if value is not None)
    return yarl.URL(f"{base}/v1/b/{quote(raw.event, safe='')}?{query}", encoded=True)


async def fire(base: str, raws, todo: list[int], answers: dict[int, int], *, at: int | None = None,
               then: Callable[[], bool] | None = None, rate: float | None = None) -> list[int]:
    """Fire `todo` over CONNECTIONS keep-alive connections (at about `rate` beacons a
    second, if given); record each answer's status. A beacon whose request fails (the
    gateway died under it) is left for the retry, and returned with those never sent.
    Once `at` answers are in, `then()` runs; if it returns True the players stop."""
    queue = list(reversed(todo))
    unanswered: list[int] = []
    stopping = asyncio.Event()
    gap = CONNECTIONS / rate if rate else 0.0
    hooked = False

    async def player(session: aiohttp.ClientSession) -> None:
        nonlocal hooked
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while queue and not stopping.is_set():
            if gap:
                next_at += gap
                await asyncio.sleep(max(0.0, next_at - loop.time()))
            i = queue.pop()
            raw = raws[i]
            try:
                async with session.get(beacon_url(base, raw), headers={"X-Forwarded-For": raw.ip,
                                                                        "User-Agent": raw.ua}) as resp:
                    await resp.read()
                    answers[i] = resp.status
            except (TimeoutError, aiohttp.ClientError):
                unanswered.append(i)
                continue
            if then is not None and not hooked and len(answers) >= at:
                hooked = True
                if then():
                    stopping.set()

    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONNECTIONS), timeout=timeout) as session:
        await asyncio.gather(*(player(session) for _ in range(CONNECTIONS)))
    return unanswered + list(reversed(queue))


def gateway_env(tmp_path, redis_url: str, kafka_bootstrap: str, topic: str, invalid_topic: str) -> dict[str, str]:
    return {"ADGW_BEACON_KEYS": KEYS, "ADGW_SPOOL_DIR": str(tmp_path / "spool"), "ADGW_REDIS_URL": redis_url,
            "ADGW_KAFKA_BOOTSTRAP": kafka_bootstrap, "ADGW_KAFKA_TOPIC": topic,
            "ADGW_KAFKA_INVALID_TOPIC": invalid_topic, "ADGW_DEMO": "0", "ADGW_TRUSTED_PROXIES": "127.0.0.1",
            # the workload's players share a few hundred addresses: no 429 may hide a loss
            "ADGW_BEACON_RATE_IP": "1000000", "ADGW_BEACON_RATE_SESSION": "1000000"}


def check_answers(answers: dict[int, int], wl) -> None:
    assert sorted(answers) == list(range(len(wl.raws)))
    statuses = Counter(answers.values())
    assert statuses[204] == len(wl.raws) - wl.invalid, statuses
    assert sum(statuses[s] for s in set(INVALID_STATUS.values())) == wl.invalid, statuses


async def check_counters(kafka_bootstrap: str, topic: str, redis_url: str, wl) -> None:
    store = RedisStore(redis_url)
    try:
        await run_and_check_counters(kafka_bootstrap, topic, store, wl, group=unique_topic("g"))
    finally:
        await store.close()


async def test_conservation_gateway_broker_frozen(tmp_path, redis_url, kafka_bootstrap, kafka_service):
    """Players keep firing through a 10 s freeze of the broker (SIGSTOP): every beacon is
    answered from the spool meanwhile, and all of it reaches Kafka once the broker wakes."""
    topic, invalid_topic = unique_topic("ev"), unique_topic("inv")
    await create_topics(kafka_bootstrap, topic, invalid_topic)
    wl = build(signer())
    gw = start_gateway(gateway_env(tmp_path, redis_url, kafka_bootstrap, topic, invalid_topic))
    frozen: list[int] = []
    try:
        base = f"http://127.0.0.1:{gw.port}"
        answers: dict[int, int] = {}
        thawed = asyncio.get_running_loop().create_future()

        async def freeze() -> None:
            kafka_service.pause()
            frozen.append(len(answers))
            try:
                await asyncio.sleep(10)
            finally:
                frozen.append(len(answers))
                kafka_service.resume()
                thawed.set_result(None)

        tasks: list[asyncio.Task] = []  # a strong reference to the freeze

        def start_freeze() -> bool:
            tasks.append(asyncio.create_task(freeze()))
            return False

        # ~15 s of firing at 1,300/s: a third before the freeze, the rest during it
        left = await fire(base, wl.raws, list(range(len(wl.raws))), answers, at=len(wl.raws) // 3,
                          then=start_freeze, rate=1300)
        await asyncio.wait_for(thawed, 30)
        assert not left, f"{len(left)} beacons got no answer\n{gw.log()}"
        check_answers(answers, wl)
        paused_at, resumed_at = frozen
        assert resumed_at - paused_at > len(wl.raws) // 3, frozen  # answered while the broker was frozen
        await check_topics(kafka_bootstrap, topic, invalid_topic, wl)
        assert gw.stop() == 0, gw.log()
    finally:
        kafka_service.resume()
        gw.stop()
    await check_counters(kafka_bootstrap, topic, redis_url, wl)


async def test_conservation_gateway_killed_and_restarted(tmp_path, redis_url, kafka_bootstrap):
    topic, invalid_topic = unique_topic("ev"), unique_topic("inv")
    await create_topics(kafka_bootstrap, topic, invalid_topic)
    wl = build(signer())
    gw = start_gateway(gateway_env(tmp_path, redis_url, kafka_bootstrap, topic, invalid_topic))
    try:
        base = f"http://127.0.0.1:{gw.port}"
        answers: dict[int, int] = {}
        killed_at: list[int] = []

        def kill() -> bool:
            gw.send_signal(signal.SIGKILL)
            killed_at.append(len(answers))
            return True

        retry = await fire(base, wl.raws, list(range(len(wl.raws))), answers, at=KILL_AFTER, then=kill)
        assert killed_at, f"the gateway was never killed: {len(answers)} answers\n{gw.log()}"
        assert gw.proc.wait(10) == -signal.SIGKILL
        assert KILL_AFTER <= len(answers) < len(wl.raws)
        assert retry and set(retry).isdisjoint(answers)

        gw.restart(30)  # on the same spool: what was durable but not yet in Kafka goes now
        deadline = time.monotonic() + 120
        while retry and time.monotonic() < deadline:
            retry = await fire(base, wl.raws, retry, answers)
        assert not retry, f"{len(retry)} beacons never answered\n{gw.log()}"

        check_answers(answers, wl)
        # read while the restarted gateway still forwards what the first one left
        await check_topics(kafka_bootstrap, topic, invalid_topic, wl)
        assert gw.stop() == 0, gw.log()
    finally:
        gw.stop()
    await check_counters(kafka_bootstrap, topic, redis_url, wl)
