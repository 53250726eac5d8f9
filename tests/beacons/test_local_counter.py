"""The embedded counter (no Kafka): what an earlier process spooled is counted from the
spool, what this one accepts from the intake's feed, each event once; a feed that
outgrows its bound falls back on the spool without losing or doubling a count."""

import asyncio

from beacons.intake import BeaconIntake
from beacons.local_counter import LocalCounter
from beacons.spool import Spool
from store import MemoryStore, StoreUnavailable
from tests.beacons.helpers import LINE_ITEMS, beacon, claims, signer


class FlakyStore(MemoryStore):
    """The in-memory store with an outage switch (reads fail while `down`)."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False

    async def get_ints(self, keys):
        if self.down:
            raise StoreUnavailable("store down (test)")
        return await super().get_ints(keys)


async def impressions(store: MemoryStore) -> int:
    return sum(await store.get_ints([f"dlv:{li}:impression:total" for li in LINE_ITEMS]))


async def accept(intake: BeaconIntake, s, ids: range) -> None:
    verdicts = await intake.accept_batch([beacon(s.sign(claims(i))) for i in ids])
    assert all(v.status == 204 for v in verdicts)


async def test_spool_of_an_earlier_process_then_the_feed(tmp_path):
    s, store = signer(), MemoryStore()
    spool = await Spool(tmp_path).open()
    await accept(BeaconIntake(s, spool, store), s, range(0, 30))  # no counter attached
    await spool.close()

    spool = await Spool(tmp_path).open()  # the next process
    intake = BeaconIntake(s, spool, store)
    counter = LocalCounter(spool, store, idle_s=0.01, pause_s=0.0, slice_=7)
    intake.on_durable = counter.feed
    counter.start()
    await accept(intake, s, range(30, 75))
    await accept(intake, s, range(0, 10))  # copies of the first process's: not counted again
    await asyncio.sleep(0.3)
    await counter.stop()
    await spool.close()
    assert await impressions(store) == 75
    assert counter.stats.counted == 75


async def test_a_feed_past_its_bound_falls_back_on_the_spool(tmp_path):
    s, store = signer(), FlakyStore()
    spool = await Spool(tmp_path).open()
    intake = BeaconIntake(s, spool, store)
    counter = LocalCounter(spool, store, idle_s=0.01, pause_s=0.0, slice_=10, max_feed_events=25)
    intake.on_durable = counter.feed
    await counter.step()  # the (empty) catch-up: counting from the feed now
    await accept(intake, s, range(0, 8))
    assert await counter.step() == 8
    store.down = True  # the counter stalls; beacons keep coming
    await accept(intake, s, range(8, 20))
    try:
        await counter.step()
    except StoreUnavailable:
        pass
    await accept(intake, s, range(20, 40))  # 32 waiting > 25: the feed goes, the spool counts
    store.down = False
    while await counter.step():
        pass
    await accept(intake, s, range(40, 45))  # caught up: fed again
    while await counter.step():
        pass
    await spool.close()
    assert await impressions(store) == 45
    assert counter.stats.counted == 45


async def test_short_feed_slices_do_not_idle_while_events_wait(tmp_path):
    """Intake batches of 30 fill a slice of 100 with 90: the counter goes on at its
    pause, not its idle wait, while the feed still holds events."""
    s, store = signer(), MemoryStore()
    spool = await Spool(tmp_path).open()
    intake = BeaconIntake(s, spool, store)
    counter = LocalCounter(spool, store, idle_s=5.0, pause_s=0.001, slice_=100)
    intake.on_durable = counter.feed
    await counter.step()  # the (empty) catch-up: counting from the feed now
    for start in range(0, 300, 30):
        await accept(intake, s, range(start, start + 30))
    assert counter.behind
    counter.start()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 3.0  # at the idle wait it would take 5 s a slice
    while counter.behind and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert not counter.behind
    assert await impressions(store) == 300
    await counter.stop()
    await spool.close()
