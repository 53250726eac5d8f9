from __future__ import annotations

import asyncio

import pytest

from ssai.errors import SessionError
from ssai.session import Sessions
from ssai.stitch import LiveBreak, LiveState
from store import MemoryStore


async def test_create_get_and_expiry() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    sessions = Sessions(store, clock=lambda: now[0], ttl_s=60)
    rec = await sessions.create("https://o.example/master.m3u8", {"sid": "dev1", "cid": "c1"})
    assert (await sessions.get(rec.id)) == rec and rec.expires_at == 1060.0
    now[0] += 61
    with pytest.raises(SessionError):
        await sessions.get(rec.id)


async def test_one_decision_per_break_under_concurrency() -> None:
    sessions = Sessions(MemoryStore())
    rec = await sessions.create("https://o.example/live.m3u8")

    def decider(n: int):
        async def decide():
            await asyncio.sleep(0.001 * (n % 3))
            return {"ads": [f"ad-{n}"]}
        return decide

    results = await asyncio.gather(*(sessions.decision(rec.id, "s100", decider(n)) for n in range(12)))
    assert len({r["ads"][0] for r in results}) == 1
    assert await sessions.decision(rec.id, "s100", decider(99)) == results[0]


async def test_live_state_round_trip() -> None:
    sessions = Sessions(MemoryStore())
    state = LiveState(6, 3, 2, (LiveBreak("s9", 9, True, 0, 0, 1, None, 11, 4.0, 12, 6.0, 2, 2, 6.0),))
    await sessions.save_live_state("x", "v0", state)
    assert await sessions.live_state("x", "v0") == state
    assert await sessions.live_state("x", "v1") == LiveState()
