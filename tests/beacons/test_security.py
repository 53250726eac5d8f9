"""Forged, tampered, wrong-key, expired and replayed beacons are never counted; 50
concurrent copies of one beacon (across two gateway instances sharing Redis) are
accepted once. Real Redis, real Tansu, the real counters consumer."""

from __future__ import annotations

import asyncio
import base64
import time
from collections import Counter

import orjson

from beacons.consumer import run_consumer
from beacons.forwarder import Forwarder
from beacons.intake import BeaconIntake, IntakeConfig
from beacons.spool import Spool
from beacons.tokens import KeyRing, TokenSigner
from store import RedisStore
from tests.beacons.helpers import (
    PRICE,
    beacon,
    check_invalid,
    claims,
    create_topics,
    read_topic,
    signer,
    unique_topic,
)

LIMITS = IntakeConfig(ip_rate=1e6, ip_burst=1e6, session_rate=1e6, session_burst=1e6)


def tamper_price(token: str) -> str:
    kid, payload, mac = token.split(".")
    values = orjson.loads(base64.urlsafe_b64decode(payload + "=="))
    values[9] = 1  # price_micros
    forged = base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()
    return f"{kid}.{forged}.{mac}"


async def test_attacks_are_never_counted(tmp_path, redis_url, kafka_bootstrap):
    topic, invalid_topic = unique_topic("sec"), unique_topic("secinv")
    await create_topics(kafka_bootstrap, topic, invalid_topic)
    run = unique_topic("r")
    li = f"li-{run}"
    s = signer()
    store = RedisStore(redis_url)
    spools = [await Spool(tmp_path / f"spool{i}").open() for i in range(2)]
    forwarders = [Forwarder(sp, kafka_bootstrap, topic=topic, invalid_topic=invalid_topic) for sp in spools]
    for f in forwarders:
        await f.start()
    # two gateway instances: separate spools and in-process caches, one Redis
    a, b = (BeaconIntake(s, sp, store, config=LIMITS) for sp in spools)

    good = claims(1, imp_id=f"imp-{run}-good", line_item_id=li)
    token = s.sign(good)
    attacker = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789"))
    stranger = TokenSigner(KeyRing.parse("k9:stranger-secret-0123456789"))
    expired = s.sign(claims(2, imp_id=f"imp-{run}-old", line_item_id=li, expires_at=int(time.time()) - 3600))
    attacks = {
        "forged": beacon(attacker.sign(claims(3, imp_id=f"imp-{run}-f", line_item_id=li))),
        "tampered": beacon(tamper_price(token)),
        "wrong_key": beacon(stranger.sign(claims(4, imp_id=f"imp-{run}-w", line_item_id=li))),
        "expired": beacon(expired),
    }
    first = await a.accept(beacon(token))
    assert first.outcome == "accepted"
    verdicts = {name: await a.accept(raw) for name, raw in attacks.items()}
    assert {n: v.status for n, v in verdicts.items()} == {"forged": 403, "tampered": 403, "wrong_key": 403,
                                                          "expired": 410}
    replays = [await inst.accept(beacon(token, ts=str(int(time.time() * 1000)))) for inst in (a, b) * 5]
    assert all(v.status == 204 and v.duplicate for v in replays)

    crowd_token = s.sign(claims(5, imp_id=f"imp-{run}-crowd", line_item_id=li))
    crowd = await asyncio.gather(*(inst.accept(beacon(crowd_token)) for inst in (a, b) * 25))
    assert Counter(v.outcome for v in crowd) == {"accepted": 1, "duplicate": 49}
    assert all(v.status == 204 for v in crowd)

    for f in forwarders:
        assert await f.drain(30)
        await f.stop(0)
    for sp in spools:
        await sp.close()

    events = await read_topic(kafka_bootstrap, topic, expect_at_least=2)
    assert sorted(e["imp_id"] for e in events) == [f"imp-{run}-crowd", f"imp-{run}-good"]
    invalid = await read_topic(kafka_bootstrap, invalid_topic, expect_at_least=4)
    check_invalid(invalid)
    assert sorted(r["reason"] for r in invalid) == ["bad_signature", "bad_signature", "expired", "unknown_key"]
    raw = orjson.dumps(invalid)
    assert token.encode() not in raw and b"203.0.113.7" not in raw

    stop = asyncio.Event()
    task = asyncio.create_task(run_consumer(kafka_bootstrap, store, topic=topic, group_id=unique_topic("g"),
                                            stop=stop, on_batch=lambda st: stop.set() if st.counted >= 2 else None))
    stats = await asyncio.wait_for(task, 60)
    assert stats.counted == 2
    assert await store.get_ints([f"dlv:{li}:impression:total", f"pace:spend:{li}:total",
                                 f"pace:imps:{li}:total"]) == [2, 2 * PRICE // 1000, 2]
    await store.close()
