import gc
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from beacons.errors import TokenExpired, TokenInvalid
from beacons.tokens import (
    KeyRing,
    TokenClaims,
    TokenSigner,
    claims_for_ad,
    context_from_request,
    tracking_url,
    tracking_urls,
)
from beacons.vocabulary import BAD_SIGNATURE, MALFORMED_TOKEN, REVOKED_KEY, UNKNOWN_KEY
from decision.pod import Creative, PlacedAd
from decision.request import device_ref, parse_ad_request
from tests.beacons.helpers import KEYS, claims, signer

NOW = 1_800_000_000.0
ident = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
opt = st.none() | ident


@st.composite
def token_claims(draw) -> TokenClaims:
    return TokenClaims(
        imp_id=draw(ident), session_id=draw(ident), pod_id=draw(ident), pod_pos=draw(st.integers(0, 100)),
        line_item_id=draw(ident), campaign_id=draw(ident), advertiser_id=draw(ident), creative_id=draw(ident),
        price_micros=draw(st.integers(0, 10**12)), expires_at=draw(st.integers(int(NOW), int(NOW) + 10**6)),
        currency=draw(st.sampled_from(["USD", "EUR"])), start_ms=draw(st.integers(0, 2**53)),
        duration_ms=draw(st.integers(0, 10**6)), cid=draw(opt), channel=draw(opt), genre=draw(opt),
        device_type=draw(st.sampled_from([None, "ctv", "mobile", "desktop"])), device_ref=draw(opt),
        lmt=draw(st.booleans()), gdpr=draw(st.booleans()), gdpr_consent=draw(opt), us_privacy=draw(opt),
        source=draw(st.sampled_from(["client", "ssai", "verifier"])),
    )


FIXED = signer(clock=lambda: NOW)


@given(token_claims())
def test_round_trip(c):
    token = FIXED.sign(c)
    assert token.isascii() and "=" not in token and "/" not in token and "+" not in token
    back = FIXED.verify(token)
    assert back == TokenClaims(**{f: getattr(c, f) for f in TokenClaims._fields if f != "kid"}, kid="k2")


SAMPLE = FIXED.sign(claims(7, now=NOW))


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_tampered_character_is_rejected(data):
    i = data.draw(st.integers(0, len(SAMPLE) - 1))
    replacement = data.draw(st.characters(codec="utf-8", exclude_categories=("Cs",)).filter(lambda ch: ch != SAMPLE[i]))
    tampered = SAMPLE[:i] + replacement + SAMPLE[i + 1:]
    with pytest.raises(TokenInvalid):
        FIXED.verify(tampered)


@settings(max_examples=200)
@given(st.integers(0, len(SAMPLE) - 1), st.integers(1, 7))
def test_any_flipped_bit_is_rejected(i, bit):
    tampered = SAMPLE[:i] + chr(ord(SAMPLE[i]) ^ (1 << (bit - 1))) + SAMPLE[i + 1:]
    with pytest.raises(TokenInvalid):
        FIXED.verify(tampered)


@given(st.integers(0, len(SAMPLE) - 1))
def test_truncated_or_extended_is_rejected(n):
    with pytest.raises(TokenInvalid):
        FIXED.verify(SAMPLE[:n])
    with pytest.raises(TokenInvalid):
        FIXED.verify(SAMPLE + "A")


def test_errors_carry_reasons():
    with pytest.raises(TokenInvalid) as e:
        FIXED.verify("x9." + SAMPLE.split(".", 1)[1])
    assert e.value.reason == UNKNOWN_KEY and e.value.status_hint == 403
    with pytest.raises(TokenInvalid) as e:
        FIXED.verify(SAMPLE[:-2] + ("AA" if SAMPLE[-2:] != "AA" else "BB"))
    assert e.value.reason == BAD_SIGNATURE
    with pytest.raises(TokenInvalid) as e:
        FIXED.verify("not a token")
    assert e.value.reason == MALFORMED_TOKEN


def test_a_genuine_token_with_a_mistyped_field_is_malformed_even_after_good_ones():
    """Field types are checked once per token shape; a shape never seen is checked field
    by field, whatever good tokens came before (the key holder's own bug, not a forgery)."""
    import orjson

    from beacons.tokens import VERSION, _b64

    signer_ = signer(clock=lambda: NOW)
    good = claims(1, now=NOW)
    assert signer_.verify(signer_.sign(good)).imp_id == good.imp_id
    values = [VERSION, *good]
    values[TokenClaims._fields.index("pod_pos") + 1] = True  # a bool where an int belongs
    signed = f"k2.{_b64(orjson.dumps(values[:-1]))}"  # without kid, as sign() writes
    token = f"{signed}.{signer_._mac(signer_.keys.secret('k2'), signed)}"
    with pytest.raises(TokenInvalid) as e:
        signer_.verify(token)
    assert e.value.reason == MALFORMED_TOKEN and "pod_pos" in str(e.value)


def test_verified_token_cache_is_bounded_and_still_checks_revocation_and_expiry():
    now = [NOW]
    ring = KeyRing.parse(KEYS)  # k2 signs, k1 verifies
    signer_ = TokenSigner(ring, clock=lambda: now[0])
    signer_.cache_size = 4
    tokens = [signer_.sign(claims(i, now=NOW, expires_at=int(NOW) + 60)) for i in range(10)]
    for _ in range(2):  # the second pass meets evicted and cached tokens alike
        for i, token in enumerate(tokens):
            assert signer_.verify(token).imp_id == claims(i, now=NOW).imp_id
            assert len(signer_._verified) + len(signer_._verified_old) <= signer_.cache_size
    cached = tokens[-1]
    now[0] = NOW + 60 + signer_.skew_s + 1
    with pytest.raises(TokenExpired):
        signer_.verify(cached)
    now[0] = NOW
    old = TokenSigner(KeyRing.parse("k1:first-secret-0123456789"), clock=lambda: NOW)
    token = old.sign(claims(3, now=NOW))
    assert signer_.verify(token).kid == "k1"  # now cached
    ring.revoke("k1")
    with pytest.raises(TokenInvalid) as e:
        signer_.verify(token)
    assert e.value.reason == REVOKED_KEY


def test_wrong_key_same_kid_is_forged():
    forger = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789"), clock=lambda: NOW)
    with pytest.raises(TokenInvalid) as e:
        FIXED.verify(forger.sign(claims(1, now=NOW)))
    assert e.value.reason == BAD_SIGNATURE


def test_rotation_and_revocation():
    old = TokenSigner(KeyRing.parse("k1:first-secret-0123456789"), clock=lambda: NOW)
    token = old.sign(claims(3, now=NOW))
    ring = KeyRing.parse(KEYS)  # k2 signs now, k1 still verifies
    current = TokenSigner(ring, clock=lambda: NOW)
    assert current.verify(token).kid == "k1"
    ring.revoke("k1")
    with pytest.raises(TokenInvalid) as e:
        current.verify(token)
    assert e.value.reason == REVOKED_KEY
    with pytest.raises(ValueError):
        ring.revoke("k2")
    assert current.verify(current.sign(claims(3, now=NOW))).kid == "k2"


def test_expiry_with_skew():
    c = claims(5, now=NOW, expires_at=int(NOW) + 10)
    token = FIXED.sign(c)
    assert TokenSigner(KeyRing.parse(KEYS), clock=lambda: NOW + 10 + 299, skew_s=300).verify(token)
    with pytest.raises(TokenExpired) as e:
        TokenSigner(KeyRing.parse(KEYS), clock=lambda: NOW + 10 + 301, skew_s=300).verify(token)
    assert e.value.status_hint == 410 and e.value.claims.imp_id == c.imp_id


def test_expired_but_forged_is_403_not_410():
    c = claims(5, now=NOW, expires_at=int(NOW) - 10_000)
    forged = TokenSigner(KeyRing.parse("k2:attacker-secret-0123456789")).sign(c)
    with pytest.raises(TokenInvalid):
        FIXED.verify(forged)


def test_key_ring_validation():
    for bad in ("", "nokey", "k1:short", "k-1:0123456789abcdef", "k1:0123456789abcdef,k1:0123456789abcdeX"):
        with pytest.raises(ValueError):
            KeyRing.parse(bad)
    ring = KeyRing.ephemeral()
    assert len(ring.kids) == 1


def test_tracking_urls_keep_macros_literal():
    urls = tracking_urls("https://ads.example.com/", SAMPLE, ["impression", "error", "complete", "pause"])
    assert urls["impression"] == f"https://ads.example.com/v1/b/impression?t={SAMPLE}&ts=[TIMESTAMP]"
    assert urls["error"] == f"https://ads.example.com/v1/b/error?t={SAMPLE}&code=[ERRORCODE]&ts=[TIMESTAMP]"
    assert urls["pause"].endswith("&off=[ADPLAYHEAD]&ts=[TIMESTAMP]")
    assert tracking_url("http://x", SAMPLE, "progress", offset="00:00:05.000").endswith(
        "&off=00:00:05.000&ts=[TIMESTAMP]")
    with pytest.raises(ValueError):
        tracking_urls("http://x", SAMPLE, ["bogus"])


def test_claims_from_decision_types_never_carry_raw_ifa():
    ifa = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
    req = parse_ad_request({"sid": "s1", "ifa": ifa, "cid": "c1", "channel": "ch", "genre": "Drama"})
    ctx = context_from_request(req)
    assert ctx.device_ref == device_ref(ifa)
    ad = PlacedAd(imp_id="imp-1", sequence=2, line_item_id="li", campaign_id="c", advertiser_id="a",
                  creative=Creative(id="cr", duration_s=15, advertiser_domain="a.com", iab_category="IAB1"),
                  price_micros=1_000_000, tier="standard")
    s = signer(clock=time.time)
    c = claims_for_ad(ad, pod_id="p", start_s=time.time(), context=ctx, signer=s)
    token = s.sign(c)
    assert ifa not in token and ifa.encode() not in __import__("base64").urlsafe_b64decode(token.split(".")[1] + "==")
    back = s.verify(token)
    assert back.pod_pos == 2 and back.genre == "drama" and back.expires_at >= time.time() + 15
    lmt = context_from_request(parse_ad_request({"sid": "s1", "ifa": ifa, "lmt": "1"}))
    assert lmt.device_ref == device_ref("s1")


def test_cached_tokens_give_the_same_claims_and_leave_nothing_for_the_collector():
    """A hit rebuilds exactly the claims of the first verification. The cache holds only
    str and bytes, so the cyclic GC never tracks it: a tracked object kept per new token
    set off a young collection every few thousand tokens, a pause on every answer."""
    signer_ = signer(clock=lambda: NOW)
    tokens = [signer_.sign(claims(i, now=NOW)) for i in range(50)]
    first = [signer_.verify(t) for t in tokens]
    assert [signer_.verify(t) for t in tokens] == first  # hits
    assert all(type(c) is TokenClaims and c.kid == "k2" for c in first)
    assert not gc.is_tracked(signer_._verified) and not gc.is_tracked(signer_._verified_old)
    gc.disable()
    try:
        more = [signer_.sign(claims(i, now=NOW)) for i in range(50, 2050)]
        before = gc.get_count()[0]
        for token in more:
            signer_.verify(token)
        assert gc.get_count()[0] - before < 100  # net tracked objects left by 2,000 new tokens
    finally:
        gc.enable()
