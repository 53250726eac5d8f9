import numpy as np
import pytest

from decision.auction import AuctionConfig, Bid, clearing_price, context_floor, ecpm_micros, floors
from decision.catalog import TIER_RANK, FloorRule
from decision.pod import BreakSpec
from decision.policy import PolicyConfig, category_in, domain_in
from decision.request import AdRequest
from tests.decision.builders import adv, catalog, creative, engine, li


def test_category_and_domain_matching():
    assert category_in("IAB8-5", ("IAB8",)) and category_in("IAB7-1", ("IAB7",))
    assert not category_in("IAB70", ("IAB7",))
    assert domain_in("shop.acme.com", ("acme.com",)) and not domain_in("notacme.com", ("acme.com",))


def doc():
    return catalog(
        [adv("beer", "IAB8-5"), adv("pharma", "IAB7-1"), adv("rival", "IAB2", "rival.com"), adv("ok", "IAB3"),
         adv("seg", "IAB4")],
        [creative("cb", "beer"), creative("cp", "pharma"), creative("cr", "rival"), creative("co", "ok"),
         creative("cs", "seg")],
        [li("lb", "beer", ["cb"], rate=50_000_000), li("lp", "pharma", ["cp"], rate=45_000_000,
                                                       allowed_ratings=["TV-14", "TV-MA"]),
         li("lr", "rival", ["cr"], rate=40_000_000), li("lo", "ok", ["co"], rate=1_000_000),
         li("ls", "seg", ["cs"], rate=60_000_000, targeting={"in": ["segment", ["sports-fan"]]})],
    )


async def reasons(e, request):
    (pod,) = await e.decide(request, [BreakSpec("b", 60)], trace=True)
    return {d["line_item"]: d["reason"] for d in pod.trace["dropped"]}, [a.line_item_id for a in pod.ads]


async def test_kids_content_blocks_sensitive_categories():
    why, ids = await reasons(engine(doc()), AdRequest(sid="s", rating="TV-Y", segments=("sports-fan",)))
    assert why["lb"] == "kids_content" and why["lp"] == "rating_not_allowed"
    assert set(ids) == {"lr", "lo", "ls"}


async def test_unrated_requests_skip_rating_restricted_line_items():
    why, ids = await reasons(engine(doc()), AdRequest(sid="s"))
    assert why["lp"] == "rating_not_allowed" and "lb" in ids


async def test_publisher_blocklists():
    e = engine(doc(), policy=PolicyConfig(blocked_domains=("rival.com",), channel_blocked_categories={"kids": ("IAB3",)}))
    why, ids = await reasons(e, AdRequest(sid="s", rating="TV-14", channel="kids"))
    assert why["lr"] == "blocked_domain" and why["lo"] == "blocked_category"


@pytest.mark.parametrize("privacy", [{"lmt": True}, {"us_privacy": "1YYN"}, {"gdpr": True}])
async def test_no_segment_targeting_without_consent(privacy):
    why, ids = await reasons(engine(doc()), AdRequest(sid="s", rating="TV-14", segments=("sports-fan",), **privacy))
    assert why["ls"] == "privacy_segment_targeting"
    _, ids = await reasons(engine(doc()), AdRequest(sid="s", rating="TV-14", segments=("sports-fan",)))
    assert "ls" in ids


def test_ecpm_and_floors():
    e = ecpm_micros(np.array([20e6, 40_000.0]), np.array([False, True]), np.array([0.9, 0.5]))
    assert list(e) == [20e6, 20e6]
    cfg = AuctionConfig(floor_cpm_micros=1_000_000)
    rules = [FloorRule(5_000_000, channel="sports"), FloorRule(0, 400_000, daypart="prime")]
    cpm, per_s = context_floor(rules, cfg, channel="sports", genre=None, daypart="prime", rating=None)
    assert (cpm, per_s) == (5_000_000, 400_000)
    f = floors(np.array([10.0, 30.0, 30.0]), np.array([3, 3, TIER_RANK["house"]]), cpm, per_s, cfg)
    assert list(f) == [5_000_000, 12_000_000, 0]


def test_second_price_pays_runner_up_plus_a_cent():
    cfg = AuctionConfig(mode="second")
    w = Bid(0, "standard", 30e6, 2e6, 0, "a")
    others = [w, Bid(1, "standard", 25e6, 2e6, 0, "b"), Bid(2, "standard", 35e6, 2e6, 0, "c"),
              Bid(3, "programmatic", 29e6, 2e6, 0, "d")]
    assert clearing_price(w, others, {"a", "c"}, cfg) == 25_010_000
    assert clearing_price(w, [w], {"a"}, cfg) == 2_000_000  # nobody else: the floor
    assert clearing_price(w, others, {"a"}, AuctionConfig()) == 30_000_000
    assert clearing_price(Bid(0, "sponsorship", 30e6, 0, 0, "s"), others, {"s"}, cfg) == 30_000_000


async def test_floor_drops_cheap_bids():
    e = engine(doc(), auction=AuctionConfig(floor_cpm_micros=5_000_000))
    why, ids = await reasons(e, AdRequest(sid="s", rating="TV-14"))
    assert why["lo"] == "below_floor" and "lo" not in ids
