"""Engine invariants over random catalogs and breaks (Hypothesis): no pod exceeds its
break, repeats a creative, or breaks a separation rule (pod scope: advertiser, category,
label; stream scope: no competitor of what the stream already showed)."""

from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from decision.pod import BreakSpec, StreamHistory
from decision.request import AdRequest
from tests.decision.builders import adv, catalog, creative, engine, li

CATS = ["IAB2", "IAB3", "IAB8-9", "IAB13-7"]
LABELS = ["x", "y", "z"]


@st.composite
def worlds(draw):
    n_adv = draw(st.integers(2, 8))
    advs = [adv(f"a{i}", draw(st.sampled_from(CATS))) for i in range(n_adv)]
    creatives, lis = [], []
    for i in range(draw(st.integers(1, 16))):
        a = draw(st.integers(0, n_adv - 1))
        crs = []
        for k in range(draw(st.integers(1, 3))):
            cid = f"c{i}-{k}"
            creatives.append(creative(cid, f"a{a}", draw(st.sampled_from([10, 15, 20, 30])),
                                      **({"iab_category": draw(st.sampled_from(CATS))} if draw(st.booleans()) else {})))
            crs.append(cid)
        lis.append(li(f"l{i}", f"a{a}", crs, tier=draw(st.sampled_from(["sponsorship", "standard", "house"])),
                      rate=draw(st.integers(0, 50)) * 1_000_000,
                      exclusion_labels=draw(st.lists(st.sampled_from(LABELS), max_size=2, unique=True)),
                      caps=draw(st.lists(st.builds(lambda n, w: {"n": n, "per": w}, st.integers(1, 2),
                                                   st.sampled_from(["day", "stream", "pod"])), max_size=1)),
                      position=draw(st.sampled_from([None, "first", "last"]))))
    breaks = [BreakSpec(f"b{j}", draw(st.sampled_from([15, 30, 45, 60, 90])), max_ads=draw(st.sampled_from([None, 2, 3])))
              for j in range(draw(st.integers(1, 4)))]
    history = StreamHistory(advertiser_ids=("a0",), iab_categories=(advs[0]["iab_category"],)) if draw(st.booleans()) else None
    return catalog(advs, creatives, lis), breaks, history


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.sampled_from([2, 4, 6]))
async def test_pods_respect_duration_uniqueness_and_separation(world, max_ads):
    doc, breaks, history = world
    e = engine(doc, max_ads=max_ads)
    for _ in range(2):  # twice: the second call sees the first one's caps
        pods = await e.decide(AdRequest(sid="s", ifa="dev"), breaks, history)
        owners = defaultdict(set)
        if history:
            owners[("k", history.iab_categories[0])].add("a0")
        for pod in pods:
            ads = pod.ads
            assert pod.filled_s <= pod.break_spec.duration_s + 1e-6
            assert len(ads) <= min(max_ads, pod.break_spec.max_ads or 99)
            for key in (lambda a: a.creative.id, lambda a: a.advertiser_id, lambda a: a.creative.iab_category):
                assert len({key(a) for a in ads}) == len(ads)
            labels = [x for a in ads for x in a.exclusion_labels]
            assert len(labels) == len(set(labels))
            assert [a.sequence for a in ads] == list(range(1, len(ads) + 1))
            assert all(abs(a.offset_s - sum(b.creative.duration_s for b in ads[:i])) < 1e-9 for i, a in enumerate(ads))
            for a in ads:
                for key in [("k", a.creative.iab_category), *(("l", x) for x in a.exclusion_labels)]:
                    assert not owners[key] or a.advertiser_id in owners[key], (key, owners[key], a.advertiser_id)
            for a in ads:
                owners[("k", a.creative.iab_category)].add(a.advertiser_id)
                for x in a.exclusion_labels:
                    owners[("l", x)].add(a.advertiser_id)
        history = None  # the next call is a new stream


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(worlds())
async def test_store_caps_are_never_exceeded(world):
    doc, breaks, _ = world
    e = engine(doc)
    served = defaultdict(int)
    for _ in range(3):
        for pod in await e.decide(AdRequest(sid="s", ifa="dev"), breaks):
            for a in pod.ads:
                served[a.line_item_id] += 1
    for item in doc["line_items"]:
        for cap in item["caps"]:
            if cap["per"] == "day":
                assert served[item["id"]] <= cap["n"]
