"""Predictions ride from the placed ad to the counters: the token carries them (tokens
signed before the fields existed still verify), the event carries them (schema), and
the counters add them per model version exactly once."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import time

import orjson
import pytest

from beacons.consumer import ConsumerStats, Counters
from beacons.errors import TokenInvalid
from beacons.events import build_event, event_id
from beacons.tokens import TokenClaims, claims_for_ad, context_from_request
from beacons.validate import BeaconFields
from decision.models import outcomes
from decision.pod import Creative, PlacedAd
from decision.request import parse_ad_request
from store import MemoryStore
from tests.beacons.helpers import EVENT_VALIDATOR, KEYS, check_events, claims, signer

NOW = 1_800_000_000.0
SECRET = dict(item.split(":", 1) for item in KEYS.split(","))


def payload_of(token: str) -> list:
    return orjson.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))


def sign_raw(values: list, kid: str = "k2") -> str:
    """A token signed outside `TokenSigner` (HMAC-SHA256 over the domain and `KID.PAYLOAD`,
    truncated to 128 bits): what a gateway signed before the model fields existed."""
    payload = base64.urlsafe_b64encode(orjson.dumps(values)).rstrip(b"=").decode()
    signed = f"{kid}.{payload}"
    mac = hmac.new(SECRET[kid].encode(), b"adgw-beacon/1\x00" + signed.encode(), hashlib.sha256).digest()[:16]
    return f"{signed}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def scored(i: int = 1, **over) -> TokenClaims:
    model = dict(p_complete_micros=712_345, p_click_micros=4_100, complete_model="completion@1", click_model="click@1")
    return claims(i, now=NOW, **{**model, **over})


def test_model_fields_round_trip_and_trail_the_payload():
    s = signer(clock=lambda: NOW)
    token = s.sign(scored())
    values = payload_of(token)
    assert values[-4:] == [712_345, 4_100, "completion@1", "click@1"] and len(values) == 28
    back = s.verify(token)
    assert (back.p_complete_micros, back.p_click_micros, back.complete_model, back.click_model) == (
        712_345, 4_100, "completion@1", "click@1")
    assert back.imp_id == scored().imp_id and back.kid == "k2"


def test_tokens_without_model_fields_keep_the_old_encoding():
    s = signer(clock=lambda: NOW)
    plain = claims(1, now=NOW)
    assert len(payload_of(s.sign(plain))) == 24  # version + the 23 original fields
    # only the trailing defaults are left out
    partial = payload_of(s.sign(claims(1, now=NOW, p_complete_micros=5)))
    assert len(partial) == 25 and partial[-1] == 5


def test_tokens_signed_before_the_fields_existed_still_verify():
    s = signer(clock=lambda: NOW)
    plain = claims(3, now=NOW)
    old = [1, *(getattr(plain, f) for f in TokenClaims._fields[:23])]
    back = s.verify(sign_raw(old))
    assert back == TokenClaims(**{f: getattr(plain, f) for f in TokenClaims._fields if f != "kid"}, kid="k2")
    assert back.complete_model == "" and back.p_complete_micros is None


@pytest.mark.parametrize("values", [
    lambda v: v[:23],  # a required field missing
    lambda v: [*v, 1, 2, "a@1", "b@1", "extra"],  # more fields than we know
    lambda v: [*v, 0.5],  # micro-units are integers
    lambda v: [*v, None, None, 7, ""],  # labels are text
])
def test_malformed_model_fields_are_refused(values):
    plain = claims(3, now=NOW)
    base = [1, *(getattr(plain, f) for f in TokenClaims._fields[:23])]
    with pytest.raises(TokenInvalid):
        signer(clock=lambda: NOW).verify(sign_raw(values(base)))


def test_claims_for_ad_take_the_placed_ads_scores():
    s = signer(clock=lambda: NOW)
    ad = PlacedAd(imp_id="imp-1", sequence=1, line_item_id="li", campaign_id="c", advertiser_id="a",
                  creative=Creative("cr", 15.0, "a.example", "IAB2"), price_micros=1, tier="standard",
                  p_complete=0.7123454, p_click=0.0041, complete_model="completion@2", click_model="priors")
    ctx = context_from_request(parse_ad_request({"sid": "s1"}))
    c = claims_for_ad(ad, pod_id="p", start_s=NOW, context=ctx, signer=s)
    assert (c.p_complete_micros, c.p_click_micros, c.complete_model, c.click_model) == (
        712_345, 4_100, "completion@2", "priors")
    bare = PlacedAd(imp_id="imp-2", sequence=1, line_item_id="li", campaign_id="c", advertiser_id="a",
                    creative=Creative("cr", 15.0, "a.example", "IAB2"), price_micros=1, tier="standard")
    c = claims_for_ad(bare, pod_id="p", start_s=NOW, context=ctx, signer=s)
    assert (c.p_complete_micros, c.p_click_micros, c.complete_model, c.click_model) == (None, None, "", "")


def event_for(c: TokenClaims, name: str, received_ms: int | None = None) -> dict:
    """The event of a beacon carrying `c`'s token (signed and verified, as the intake does)."""
    s = signer(clock=lambda: NOW)
    c = s.verify(s.sign(c))
    received_ms = int(NOW * 1000) if received_ms is None else received_ms
    fields = BeaconFields(name, "t", None, None, None, None, "Roku")
    return build_event(c, fields, event_id_=event_id(c.imp_id, name), received_ms=received_ms, ip_trunc=None,
                       ua_family="roku", ifa_hash=None, flags=[], dedup="checked", gateway="gw-1")


def test_the_event_carries_the_model_block_and_validates():
    c = scored()
    ev = event_for(c, "impression")
    assert ev["model"] == {"complete": "completion@1", "click": "click@1", "p_complete": 0.712345,
                           "p_click": 0.0041, "scheduled_at": "2027-01-15T07:59:45.000Z"}
    assert ev["model"]["scheduled_at"] == time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(c.start_ms / 1000))
    plain = event_for(claims(2, now=NOW), "impression")
    assert plain["model"] is None
    check_events([ev, plain])
    for key, value in [("p_complete", 1.5), ("p_click", -0.1), ("complete", ""), ("scheduled_at", "yesterday"),
                       ("extra", 1)]:
        bad = copy.deepcopy(ev)
        bad["model"][key] = value
        assert not EVENT_VALIDATOR.is_valid(bad), key


async def test_counters_add_predictions_and_outcomes_per_version_exactly_once():
    store = MemoryStore()
    counters = Counters(store)
    stats = ConsumerStats()
    a, b = scored(1), scored(2, p_complete_micros=500_000, p_click_micros=None, click_model="priors")
    events = [event_for(a, "impression"), event_for(b, "impression"), event_for(a, "complete"),
              event_for(a, "click"), event_for(b, "click"), event_for(claims(3, now=NOW), "impression")]
    await counters.apply(events, stats)
    await counters.apply(events + [events[2]], stats)  # redelivered, and a duplicate in a batch
    assert stats.counted == 6
    cohort = outcomes.cohort_of(a.start_ms / 1000)
    assert cohort == outcomes.cohort_of(b.start_ms / 1000)
    labels = ["completion@1", "click@1"]
    got = await store.get_ints([outcomes.key(label, part) for label in labels for part in outcomes.PARTS])
    assert got == [2, 712_345 + 500_000, 1,  # completion: two impressions, one complete
                   1, 4_100, 1]  # click: only `a` was scored by click@1; `b`'s click was priors'
    assert await outcomes.read_cohorts(store, labels, [cohort]) == {
        "completion@1": (2, 1_212_345, 1), "click@1": (1, 4_100, 1)}
    assert not [k for k in store._data if k.startswith("calib:priors")]
