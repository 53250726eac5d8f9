import asyncio
import uuid

from decision.caps import CapEvent, apply_cap_events, bucket, record_impression, release_reservation
from decision.catalog import parse_catalog
from decision.pod import BreakSpec
from decision.request import AdRequest
from store import MemoryStore, RedisStore
from tests.decision.builders import NOW, adv, catalog, creative, engine, li


def capped_doc(caps):
    return catalog(
        [adv("a", "IAB2"), adv("h", "IAB1-7")],
        [creative("ca", "a", 15), creative("ch", "h", 15)],
        [li("la", "a", ["ca"], rate=20_000_000, caps=caps), li("lh", "h", ["ch"], tier="house", rate=0)],
    )


def req(ifa="dev-1", **kw):
    return AdRequest(sid="s-" + ifa, ifa=ifa, **kw)


async def served(e, request, n=1):
    count = 0
    for _ in range(n):
        (pod,) = await e.decide(request, [BreakSpec("b", 15)])
        count += sum(1 for a in pod.ads if a.line_item_id == "la")
    return count


async def test_day_cap_per_device_and_window_roll():
    e = engine(capped_doc([{"n": 2, "per": "day"}]))
    assert await served(e, req(), 5) == 2
    assert await served(e, req("dev-2"), 5) == 2
    e.clock.now += 86400
    assert await served(e, req(), 5) == 2


async def test_lmt_caps_by_session_not_ifa():
    e = engine(capped_doc([{"n": 1, "per": "hour"}]))
    assert await served(e, req(lmt=True), 3) == 1
    assert await served(e, AdRequest(sid="other", ifa="dev-1", lmt=True), 3) == 1


async def test_advertiser_scope_counts_every_line_item():
    doc = capped_doc([{"n": 2, "per": "week", "scope": "advertiser"}])
    doc["creatives"].append(creative("ca2", "a", 15))
    doc["line_items"].append(li("la2", "a", ["ca2"], rate=10_000_000))
    e = engine(doc)
    ids = []
    for _ in range(4):
        (pod,) = await e.decide(req(), [BreakSpec("b", 15)])
        ids += [a.line_item_id for a in pod.ads]
    assert ids.count("la") == 2  # la's cap counts la2's impressions too
    assert ids[:2] == ["la", "la"]


async def test_record_impression_confirms_reservation_or_counts():
    store = MemoryStore()
    e = engine(capped_doc([{"n": 2, "per": "day"}]), store=store)
    snap = e.catalog
    (pod,) = await e.decide(req(), [BreakSpec("b", 15)])
    imp = pod.ads[0].imp_id
    assert not await record_impression(store, snap, device_key=req().device_key, line_item_id="la", creative_id="ca",
                                       at=NOW, imp_id=imp)  # already counted at decision time
    assert await record_impression(store, snap, device_key=req().device_key, line_item_id="la", creative_id="ca", at=NOW)
    assert await served(e, req(), 3) == 0
    key = f"cap:{req().device_key}:line_item:la:day:{bucket('day', NOW)}"
    assert (await store.get_ints([key])) == [2]


async def test_release_reservation_gives_the_impression_back():
    store = MemoryStore()
    e = engine(capped_doc([{"n": 1, "per": "day"}]), store=store)
    (pod,) = await e.decide(req(), [BreakSpec("b", 15)])
    assert await served(e, req(), 1) == 0
    assert await release_reservation(store, pod.ads[0].imp_id)
    assert not await release_reservation(store, pod.ads[0].imp_id)
    assert await served(e, req(), 1) == 1


async def test_a_batch_of_cap_events_counts_like_one_at_a_time(redis_url):
    for store in (MemoryStore(), RedisStore(redis_url)):
        try:
            e = engine(capped_doc([{"n": 9, "per": "day"}]), store=store)
            viewer = req(f"dev-batch-{uuid.uuid4().hex}")  # its own counters in the shared Redis
            snap, dev = e.catalog, viewer.device_key
            pods = [(await e.decide(viewer, [BreakSpec("b", 15)]))[0] for _ in range(3)]
            reserved = [p.ads[0].imp_id for p in pods]  # three reservations: counted at decision
            key = f"cap:{dev}:line_item:la:day:{bucket('day', NOW)}"
            assert await store.get_ints([key]) == [3]
            batch = [
                CapEvent("impression", reserved[0], dev, "la", "ca", NOW),  # already counted
                CapEvent("error", reserved[1], dev, "la", "ca", NOW),  # never played: given back
                CapEvent("error", reserved[1], dev, "la", "ca", NOW),  # a repeat gives nothing more
                CapEvent("impression", reserved[2], dev, "la", "ca", NOW),
                CapEvent("error", reserved[2], dev, "la", "ca", NOW),  # after its impression: nothing
                CapEvent("impression", "from-elsewhere", dev, "la", "ca", NOW),  # no marker: counted
                CapEvent("impression", None, dev, "gone", "ca", NOW),  # unknown line item
            ]
            assert await apply_cap_events(store, snap, batch) == [False, True, False, False, False, True, False]
            assert await store.get_ints([key]) == [3]  # 3 reserved - 1 released + 1 counted now
        finally:
            await store.close()


async def test_pod_cap_means_one_per_pod():
    doc = catalog([adv("a", "IAB2")], [creative("c1", "a", 15), creative("c2", "a", 15)],
                  [li("l1", "a", ["c1", "c2"], caps=[{"n": 1, "per": "pod", "scope": "campaign"}])])
    (pod,) = await engine(doc, separate_advertisers=False, separate_categories=False).decide(req(), [BreakSpec("b", 30)])
    assert len(pod.ads) == 1


async def test_three_per_day_holds_across_concurrent_requests_on_redis(redis_url):
    store = RedisStore(redis_url)
    try:
        await store.client.flushdb()
        doc = capped_doc([{"n": 3, "per": "day"}])
        engines = [engine(doc, store=store, seed=i) for i in range(10)]  # like 10 gateway workers
        request = req("dev-concurrent")
        pods = await asyncio.gather(*(e.decide(request, [BreakSpec("b", 15)]) for e in engines))
        capped = [a for (p,) in pods for a in p.ads if a.line_item_id == "la"]
        assert len(capped) == 3
        assert all(len(p.ads) == 1 for (p,) in pods)  # the others got the house ad
        key = f"cap:{request.device_key}:line_item:la:day:{bucket('day', NOW)}"
        assert await store.get_ints([key]) == [3]
        later = await asyncio.gather(*(e.decide(request, [BreakSpec("b", 15)]) for e in engines))
        assert not [a for (p,) in later for a in p.ads if a.line_item_id == "la"]
        snap = parse_catalog(doc)
        for a in capped:
            assert not await record_impression(store, snap, device_key=request.device_key, line_item_id="la",
                                               creative_id="ca", at=NOW, imp_id=a.imp_id)
        assert await store.get_ints([key]) == [3]
    finally:
        await store.close()
