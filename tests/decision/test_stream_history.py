"""Stream separation from a session's history knows which advertiser showed which
category: an advertiser may repeat its own category, not take a competitor's."""

from decision.pod import BreakSpec, StreamHistory
from decision.request import AdRequest
from tests.decision.builders import adv, catalog, creative, engine, li

REQ = AdRequest(sid="s1", country="US", rating="TV-14")
ONCE_PER_STREAM = [{"n": 1, "per": "stream"}]


def doc():
    return catalog(
        [adv("auto1", "IAB2"), adv("bank1", "IAB13")],
        [creative("c-auto1", "auto1", 15), creative("c-bank1", "bank1", 15),
         # the automaker's financing offer: a finance creative, a bank's competitor
         creative("c-auto1-finance", "auto1", 15, iab_category="IAB13")],
        [li("l-auto1", "auto1", ["c-auto1"], rate=30_000_000, caps=ONCE_PER_STREAM),
         li("l-bank1", "bank1", ["c-bank1"], rate=20_000_000, caps=ONCE_PER_STREAM),
         li("l-auto1-finance", "auto1", ["c-auto1-finance"], rate=10_000_000)],
    )


async def test_history_keeps_each_category_with_its_own_advertiser():
    e = engine(doc())
    history = StreamHistory()
    shown = []
    for name in ("b1", "b2"):
        (pod,) = await e.decide(REQ, [BreakSpec(name, 15)], history)
        shown += [a.line_item_id for a in pod.ads]
        history = history.extended(pod.ads)
    assert shown == ["l-auto1", "l-bank1"]
    (third,) = await e.decide(REQ, [BreakSpec("b3", 15)], history, trace=True)
    # bank1 owns finance in this stream: auto1 showed something too, but not finance, so
    # its finance creative is a competitor (a flat history let it through)
    assert [a.line_item_id for a in third.ads] == []
    reasons = {(d["line_item"], d["reason"]) for d in third.trace["dropped"]}
    assert ("l-auto1-finance", "stream_separation") in reasons


def test_extended_history_records_who_showed_what():
    h = StreamHistory()
    assert h.extended([]) is h
