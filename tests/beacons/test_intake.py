import asyncio
import time

import orjson
import pytest

from beacons.dedup import DONE, ClaimState, Deduper
from beacons.intake import BeaconIntake, IntakeConfig
from beacons.privacy import parse_networks
from beacons.spool import KIND_EVENT, KIND_INVALID, Spool
from beacons.tokens import KeyRing, TokenSigner
from beacons.validate import RawBeacon
from store import MemoryStore, RedisStore
from tests.beacons.helpers import beacon, check_events, check_invalid, claims, signer

RAW_IP = "203.0.113.77"
RAW_IFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"


@pytest.fixture
async def spool(tmp_path):
    s = await Spool(tmp_path / "spool").open()
    yield s
    await s.close()


def spooled(spool):
    events = [orjson.loads(r.value) for r in spool.iter_all() if r.kind == KIND_EVENT]
    invalid = [orjson.loads(r.value) for r in spool.iter_all() if r.kind == KIND_INVALID]
    check_events(events)
    check_invalid(invalid)
    return events, invalid


async def test_statuses_and_records(spool):
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore())
    token = s.sign(claims(1))
    expired = s.sign(claims(2, expires_at=int(time.time()) - 4000))
    forged = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789")).sign(claims(3))
    cases = [
        (beacon(token, ts="[TIMESTAMP]"), 204, "accepted"),
        (beacon(token, ts="%5BTIMESTAMP%5D"), 204, "duplicate"),
        (beacon(token, "error", code="[ERRORCODE]", ts="-1"), 204, "accepted"),
        (beacon(token, "error", code="abc"), 400, "invalid"),
        (beacon(token, "bogus"), 400, "invalid"),
        (beacon(token, "progress", off="xx"), 400, "invalid"),
        (beacon(token, "complete", ts="not-a-time"), 400, "invalid"),
        (beacon(expired), 410, "invalid"),
        (beacon(forged), 403, "invalid"),
        (beacon(token[:-1] + ("A" if token[-1] != "A" else "B")), 403, "invalid"),
        (RawBeacon(event="impression", token=token, ip="1.1.1.1", ts=b"\xff\xfe"), 400, "invalid"),
    ]
    verdicts = [await intake.accept(raw) for raw, _, _ in cases]
    assert [(v.status, v.outcome) for v in verdicts] == [(st, out) for _, st, out in cases]
    assert verdicts[0].event_id == verdicts[1].event_id
    events, invalid = spooled(spool)
    assert len(events) == 2 and len(invalid) == 8
    assert [r["reason"] for r in invalid] == ["bad_code", "unknown_event", "bad_offset", "bad_timestamp",
                                              "expired", "bad_signature", "bad_signature", "bad_utf8"]
    assert invalid[4]["imp_id"] == claims(2).imp_id  # expired: verified claims kept
    assert invalid[5]["imp_id"] is None  # forged: nothing from the token is trusted


async def test_positioned_events_count_once_per_offset(spool):
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore())
    token = s.sign(claims(1))
    offs = ["00:00:05.000", "5", "00:00:10.000", "[ADPLAYHEAD]", None]
    verdicts = await intake.accept_batch([beacon(token, "progress", off=o) for o in offs])
    assert [v.outcome for v in verdicts] == ["accepted", "duplicate", "accepted", "accepted", "duplicate"]
    events, _ = spooled(spool)
    assert sorted(e["offset_ms"] or -1 for e in events) == [-1, 5000, 10000]


async def test_privacy_no_raw_ip_or_ifa(spool):
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore())
    allowed = claims(1)
    lmt = claims(2, lmt=True)
    no_consent = claims(3, gdpr=True, gdpr_consent=None)
    usp = claims(4, us_privacy="1YYN")
    for c in (allowed, lmt, no_consent, usp):
        assert (await intake.accept(beacon(s.sign(c), ip=RAW_IP, ua=f"Roku {RAW_IFA}"))).ok
    await intake.accept(beacon("garbage", ip=RAW_IP))
    raw = b"".join(r.value for r in spool.iter_all())
    assert RAW_IP.encode() not in raw and RAW_IFA.encode() not in raw and b"Roku" not in raw
    events, invalid = spooled(spool)
    by_imp = {e["imp_id"]: e for e in events}
    assert by_imp[allowed.imp_id]["device"]["ifa_hash"] is not None
    assert by_imp[allowed.imp_id]["device"]["ip_trunc"] == "203.0.113.0"
    for c in (lmt, no_consent, usp):
        assert by_imp[c.imp_id]["device"]["ifa_hash"] is None
    assert by_imp[no_consent.imp_id]["privacy"] == {"lmt": False, "gdpr": True, "gdpr_consent": None,
                                                   "us_privacy": None}
    assert invalid[0]["device"]["ip_trunc"] == "203.0.113.0"


async def test_flags(spool):
    now = time.time()
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore(),
                          config=IntakeConfig(datacenter_networks=parse_networks(["198.18.0.0/15"])))
    future_ad = s.sign(claims(1, start_ms=int((now + 3600) * 1000)))
    old_ad = s.sign(claims(2, start_ms=int((now - 7200) * 1000), expires_at=int(now + 3600)))
    v1 = await intake.accept(beacon(future_ad, "complete", ua="Googlebot/2.1", ip="198.18.0.9"))
    v2 = await intake.accept(beacon(old_ad, "impression", ts=str(int((now + 3600) * 1000))))
    assert v1.ok and set(v1.flags) == {"before_start", "complete_too_early", "bot_ua", "datacenter_ip"}
    assert v2.ok and set(v2.flags) == {"long_after_end", "client_clock_skew"}
    events, _ = spooled(spool)
    assert {tuple(sorted(e["flags"])) for e in events} == {tuple(sorted(v1.flags)), tuple(sorted(v2.flags))}


async def test_rate_limits_with_injected_clock(spool):
    now = [0.0]
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore(), mono_clock=lambda: now[0],
                          config=IntakeConfig(ip_rate=1, ip_burst=3, session_rate=1, session_burst=2))
    tokens = [s.sign(claims(i)) for i in range(8)]  # claims 0..3 share session sess-0
    v = [await intake.accept(beacon(t, ip="192.0.2.1")) for t in tokens[:4]]
    assert [x.status for x in v] == [204, 204, 429, 429]  # session burst 2
    v = await intake.accept(beacon(tokens[5], ip="192.0.2.1"))
    assert v.status == 429 and v.retry_after >= 1  # ip burst 3 spent
    now[0] = 10.0
    assert (await intake.accept(beacon(tokens[2], ip="192.0.2.1"))).status == 204
    assert (await intake.accept(beacon(tokens[6], ip="192.0.2.2"))).status == 204


async def test_spool_full_undoes_the_mark(tmp_path):
    small = await Spool(tmp_path / "small", max_bytes=1500).open()
    s = signer()
    store = MemoryStore()
    intake = BeaconIntake(s, small, store)
    verdicts = [await intake.accept(beacon(s.sign(claims(i)), ip=f"192.0.2.{i}")) for i in range(6)]
    refused = [i for i, v in enumerate(verdicts) if v.status == 503]
    assert refused and verdicts[refused[0]].retry_after
    assert all(verdicts[i].ok for i in range(refused[0]))
    await small.close()
    bigger = await Spool(tmp_path / "small", max_bytes=1 << 20).open()
    intake = BeaconIntake(s, bigger, store)
    again = await intake.accept(beacon(s.sign(claims(refused[0])), ip="192.0.2.99"))
    assert again.outcome == "accepted"  # not a duplicate: the refused one never counted
    await bigger.close()


async def test_store_down_accepts_unchecked(spool, redis_service, redis_url):
    s = signer()
    store = RedisStore(redis_url, socket_timeout=0.3)
    intake = BeaconIntake(s, spool, store, deduper=Deduper(store, prefix="t-down:"))
    token = s.sign(claims(42))
    redis_service.pause()
    try:
        v = await intake.accept(beacon(token))
    finally:
        redis_service.resume()
    assert v.ok and v.outcome == "accepted"
    events, _ = spooled(spool)
    assert events[0]["dedup"] == "unchecked"
    await store.close()


async def test_batch_with_copies_and_concurrent_batches(spool):
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore())
    t1, t2 = s.sign(claims(1)), s.sign(claims(2))
    a, b = await asyncio.gather(intake.accept_batch([beacon(t1), beacon(t2), beacon(t1)]),
                                intake.accept_batch([beacon(t2), beacon(t1)]))
    outcomes = [v.outcome for v in a + b]
    assert outcomes.count("accepted") == 2 and outcomes.count("duplicate") == 3
    events, _ = spooled(spool)
    assert len(events) == 2


async def test_the_shared_mark_is_confirmed_after_the_answer(tmp_path, redis_url):
    s = signer()
    store = RedisStore(redis_url)
    prefix = f"t-settle-{time.time_ns()}:"
    spool_a = await Spool(tmp_path / "a").open()
    spool_b = await Spool(tmp_path / "b").open()
    try:
        a = BeaconIntake(s, spool_a, store, deduper=Deduper(store, prefix=prefix))
        # another instance: its own cache, and no patience for a pending mark
        b = BeaconIntake(s, spool_b, store, deduper=Deduper(store, prefix=prefix, pending_wait_s=0.0))
        token = s.sign(claims(7))
        assert (await a.accept(beacon(token))).outcome == "accepted"
        await a.deduper.drain()  # what the pipeline's close waits for
        assert (await b.accept(beacon(token))).outcome == "duplicate"
        assert not list(spool_b.iter_all())
    finally:
        await spool_a.close()
        await spool_b.close()
        await store.close()


async def spread_out(intake: BeaconIntake, s: TokenSigner, n: int, gap_s: float) -> list:
    """`n` single beacons of distinct ads, the i-th arriving at i * gap_s."""
    tokens = [s.sign(claims(i)) for i in range(n)]

    async def one(i: int):
        await asyncio.sleep(i * gap_s)
        return await intake.accept(beacon(tokens[i]))

    return await asyncio.gather(*(one(i) for i in range(n)))


async def test_single_beacons_form_one_batch_per_spool_commit(tmp_path):
    """Under load every group commit carries one coalesced batch: beacons arriving while a
    batch waits for its commit gather for the next rather than forming batches of a few."""
    sp = await Spool(tmp_path / "paced", commit_interval_s=0.05).open()
    s = signer()
    intake = BeaconIntake(s, sp, MemoryStore())
    try:
        verdicts = await spread_out(intake, s, 200, 0.001)  # 200 beacons spread over ~0.2 s
        assert [v.status for v in verdicts] == [204] * 200
        assert intake.coalesced_batches <= sp.syncs + 1
        assert sp.syncs <= 8  # ~0.2 s of arrivals at one commit per 50 ms
        assert len([r for r in sp.iter_all() if r.kind == KIND_EVENT]) == 200
    finally:
        await sp.close()


async def test_a_batch_is_cut_when_the_next_commit_is_due(tmp_path):
    """Beacons arriving while a commit is written wait in the intake's queue and go with
    the next commit when it comes due: one commit after the first, not a batch cut at
    once (waiting a whole interval in the spool) and a second one for the latecomer."""
    sp = await Spool(tmp_path / "due", commit_interval_s=1.0).open()
    s = signer()
    intake = BeaconIntake(s, sp, MemoryStore())
    try:
        started = time.monotonic()
        verdicts = await spread_out(intake, s, 3, 0.25)  # the first commits at once; then 0.25, 0.5 s
        assert [v.status for v in verdicts] == [204] * 3
        assert sp.syncs == 2  # the first alone; both latecomers in the commit due at 1 s
        assert intake.coalesced_batches == 2
        assert time.monotonic() - started < 1.9  # a third commit would end after 2 s
        assert len([r for r in sp.iter_all() if r.kind == KIND_EVENT]) == 3
    finally:
        await sp.close()


class CountingStore(MemoryStore):
    """The in-memory store, counting the batch calls it receives."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    async def incr_many(self, ops):
        self.calls.append(len(ops))
        return await super().incr_many(ops)


async def test_dedup_confirmations_ride_on_the_next_claim():
    store = CountingStore()
    dedup = Deduper(store, prefix="ride:", settle_delay_s=5.0)
    first = await dedup.claim_many(["e1", "e2"])
    dedup.settle_soon(first, durable=True)
    assert store.calls == [2]  # nothing sent yet: the confirmations wait for the next claim
    # a copy of e1 arriving in the next batch is a duplicate: its confirmation went first
    dedup._seen.clear()  # as another instance would be: only the store's mark says so
    second = await dedup.claim_many(["e1", "e3"])
    assert [c.state for c in second] == [ClaimState.DUPLICATE, ClaimState.NEW]
    assert store.calls == [2, 4]  # one call carried both confirmations and both claims
    assert await store.get_ints(["ride:e1", "ride:e2", "ride:e3"]) == [DONE + 2, DONE + 1, 1]
    dedup.settle_soon([c for c in second if c.owned], durable=True)
    await dedup.drain()  # close sends what is still queued
    assert await store.get_ints(["ride:e3"]) == [DONE + 1]


async def test_an_idle_intake_sends_its_confirmations_after_the_delay():
    store = CountingStore()
    dedup = Deduper(store, prefix="idle:", settle_delay_s=0.02)
    dedup.settle_soon(await dedup.claim_many(["e1"]), durable=False)  # undone: a retry may claim it
    await asyncio.sleep(0.1)
    assert store.calls == [1, 1]
    assert await store.get_ints(["idle:e1"]) == [0]
    assert [c.state for c in await dedup.claim_many(["e1"])] == [ClaimState.NEW]


async def test_a_batch_cancelled_before_its_first_step_releases_the_intake(spool):
    """A coalesced batch counts as forming from the moment it is cut from the queue; if
    its task is cancelled before it runs, its callers are cancelled and the next batch
    still forms (a batch left forming would stall every later beacon)."""
    s = signer()
    intake = BeaconIntake(s, spool, MemoryStore())
    first = asyncio.ensure_future(intake.accept(beacon(s.sign(claims(1)))))
    await asyncio.sleep(0)  # accept() queues the beacon and schedules the flush
    await asyncio.sleep(0)  # the flush cuts the batch and creates its task
    (task,) = intake._batches
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 5.0)
    verdict = await asyncio.wait_for(intake.accept(beacon(s.sign(claims(2)))), 5.0)
    assert verdict.outcome == "accepted"
    assert not intake._batches
