"""Signed beacon tokens.

A token is `KID.PAYLOAD.MAC`: `PAYLOAD` is the base64url (RFC 4648 §5, unpadded) of a
positional JSON array (field order fixed by `_FIELDS`, so the encoding is canonical and
compact; fields added later trail and are left out while at their defaults), `MAC` is
HMAC-SHA256 over `KID.PAYLOAD` truncated to 128 bits (RFC 2104 §5 allows truncation to
half the output), compared with `hmac.compare_digest` on the encoded text, so any change
to any character (including base64 padding bits) fails.

The token carries everything the event contract needs that the beacon request does not:
the placed ad (imp id = VAST 4.1+ AdServingId, line item, campaign, advertiser,
creative, price, and the predictions and model versions that placed it), the pod, the
session, content and device context, privacy signals, the scheduled start and duration
(plausibility checks) and the expiry. It never carries a raw IFA: `device_ref` is a
one-way hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import math
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson

from beacons.errors import TokenExpired, TokenInvalid
from beacons.vocabulary import (
    BAD_SIGNATURE,
    EVENTS,
    EXPIRED,
    MALFORMED_TOKEN,
    POSITIONED_EVENTS,
    REVOKED_KEY,
    UNKNOWN_KEY,
)

log = logging.getLogger("adgw.beacons")

VERSION = 1
MAX_TOKEN_CHARS = 4096
MAC_BYTES = 16
_DOMAIN = b"adgw-beacon/1\x00"
_KID_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


class TokenClaims(NamedTuple):
    """What a beacon token carries. A NamedTuple rather than a frozen dataclass: every
    new token is decoded into one on the beacon path, and a 28-field frozen dataclass
    cost ~3.6 us to build (one `object.__setattr__` per field) against ~0.3 us for a
    tuple. Just as immutable; `_replace` stands in for `dataclasses.replace`."""

    imp_id: str
    session_id: str
    pod_id: str
    pod_pos: int
    line_item_id: str
    campaign_id: str
    advertiser_id: str
    creative_id: str
    price_micros: int
    expires_at: int  # epoch seconds
    currency: str = "USD"
    start_ms: int = 0  # scheduled start of the ad, epoch ms
    duration_ms: int = 0
    cid: str | None = None
    channel: str | None = None
    genre: str | None = None
    device_type: str | None = None
    device_ref: str | None = None  # one-way hash of the capping identity (never a raw IFA)
    lmt: bool = False
    gdpr: bool = False
    gdpr_consent: str | None = None
    us_privacy: str | None = None
    source: str = "client"
    # what scored the ad (calibration): predictions in micro-units, `name@version` labels
    p_complete_micros: int | None = None
    p_click_micros: int | None = None
    complete_model: str = ""
    click_model: str = ""
    kid: str = ""  # set by the signer / from the token

    @property
    def consent_allows_ids(self) -> bool:
        """Whether a device identifier may ride on the event (lmt, GDPR without consent,
        CCPA opt-out all say no)."""
        if self.lmt or (self.gdpr and not self.gdpr_consent):
            return False
        usp = self.us_privacy or ""
        return not (len(usp) >= 3 and usp[2] in "Yy")


# positional encoding: (attribute, type check)
_FIELDS: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("imp_id", str), ("session_id", str), ("pod_id", str), ("pod_pos", int),
    ("line_item_id", str), ("campaign_id", str), ("advertiser_id", str), ("creative_id", str),
    ("price_micros", int), ("expires_at", int), ("currency", str), ("start_ms", int),
    ("duration_ms", int), ("cid", (str, type(None))), ("channel", (str, type(None))),
    ("genre", (str, type(None))), ("device_type", (str, type(None))),
    ("device_ref", (str, type(None))), ("lmt", bool), ("gdpr", bool),
    ("gdpr_consent", (str, type(None))), ("us_privacy", (str, type(None))), ("source", str),
    # added later: optional trailing fields, left out of the payload while they hold their
    # defaults, so tokens signed before they existed (and tokens without them) still verify
    ("p_complete_micros", (int, type(None))), ("p_click_micros", (int, type(None))),
    ("complete_model", str), ("click_model", str),
)
_REQUIRED = 23  # the fields every token has carried since VERSION 1


# the exact types each field accepts, in `_FIELDS` order (also TokenClaims' order)
_ALLOWED: tuple[frozenset[type], ...] = tuple(
    frozenset(kind if isinstance(kind, tuple) else (kind,)) for _, kind in _FIELDS)
assert [name for name, _ in _FIELDS] == list(TokenClaims._fields)[:len(_FIELDS)]
assert TokenClaims._fields[-1] == "kid"
_OPTIONAL_DEFAULTS = tuple(TokenClaims._field_defaults[name] for name, _ in _FIELDS[_REQUIRED:])
_BLOCK = 64  # SHA-256 block size
_tuple_new = tuple.__new__
_GOOD_SHAPES: set[tuple[type, ...]] = set()  # tuples of field types that passed the check
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class KeyRing:
    """Active signing keys; the first signs, all verify. Revoked key ids verify nothing."""

    def __init__(self, keys: Sequence[tuple[str, bytes | str]], revoked: Iterable[str] = ()) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        parsed: dict[str, bytes] = {}
        for kid, secret in keys:
            if not kid or not set(kid) <= _KID_CHARS or len(kid) > 16:
                raise ValueError(f"key id {kid!r} must be 1-16 letters or digits")
            raw = secret.encode() if isinstance(secret, str) else bytes(secret)
            if len(raw) < 16:
                raise ValueError(f"secret of key {kid!r} is shorter than 16 bytes")
            if kid in parsed:
                raise ValueError(f"duplicate key id {kid!r}")
            parsed[kid] = raw
        self._keys = parsed
        self.signing_kid = next(iter(parsed))
        self._revoked: set[str] = set(revoked)
        if self.signing_kid in self._revoked:
            raise ValueError("the signing key is revoked")

    @classmethod
    def parse(cls, spec: str, revoked: Iterable[str] = ()) -> KeyRing:
        """`kid:secret[,kid:secret...]` (ADGW_BEACON_KEYS)."""
        items = []
        for item in (i.strip() for i in spec.split(",") if i.strip()):
            kid, sep, secret = item.partition(":")
            if not sep:
                raise ValueError("expected kid:secret[,kid:secret...]")
            items.append((kid, secret))
        return cls(items, revoked)

    @classmethod
    def ephemeral(cls) -> KeyRing:
        """A random key for this process (the embedded default): tokens die with it."""
        log.warning("no beacon keys configured: using a random per-process key; beacon URLs "
                    "will not verify on other instances or after a restart")
        return cls([("eph" + secrets.token_hex(3), secrets.token_bytes(32))])

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def revoke(self, kid: str) -> None:
        if kid == self.signing_kid:
            raise ValueError("rotate a new signing key in before revoking the current one")
        self._revoked.add(kid)

    def secret(self, kid: str) -> bytes:
        if kid in self._revoked:
            raise TokenInvalid(REVOKED_KEY, "the token's key was revoked")
        try:
            return self._keys[kid]
        except KeyError:
            raise TokenInvalid(UNKNOWN_KEY, "unknown key id") from None


class TokenSigner:
    """Signs and verifies tokens. `grace_s` is how long after the ad's scheduled end a
    beacon is still accepted (late and offline players); `skew_s` tolerates clocks."""

    def __init__(self, keys: KeyRing, *, grace_s: float = 6 * 3600, skew_s: float = 300,
                 clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.grace_s = grace_s
        self.skew_s = skew_s
        self._clock = clock
        self._pads: dict[bytes, tuple[Any, Any]] = {}
        # genuine tokens already verified (a player sends several beacons per token):
        # token text -> the payload's JSON bytes, parsed again on a hit (~3 us a hit
        # against ~0.7 us for a kept tuple, as its ~28 values are built anew; nothing
        # more on a miss). Bytes, not a tuple of the values: the collector never tracks
        # them, nor a dict of str to bytes. A tuple per new token was most of what the
        # beacon path left alive: it set off a young collection every ~3,000 new tokens,
        # each a 3-13 ms pause in the server (measured with gc.callbacks at 1,800
        # beacons/s), and with the tuples gone those passes stopped. The key's
        # revocation and the expiry are checked on every use.
        # Two generations, each up to half the size: a full young one becomes the old
        # one (dropping the previous old), so eviction is O(1). Deleting the oldest key
        # of one dict instead (`next(iter(d))`) scanned the deleted slots at its front,
        # ~1-2 us a token once the cache was full.
        self._verified: dict[str, bytes] = {}
        self._verified_old: dict[str, bytes] = {}
        self.cache_size = 8192

    def _mac(self, secret: bytes, signed: str) -> str:
        # HMAC-SHA256 (RFC 2104) from the key's precomputed inner and outer pad states:
        # the same bytes as `hmac.new(secret, msg, sha256)`, without re-keying per token
        pads = self._pads.get(secret)
        if pads is None:
            key = hashlib.sha256(secret).digest() if len(secret) > _BLOCK else secret
            key = key.ljust(_BLOCK, b"\0")
            pads = (hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD)))
            self._pads[secret] = pads
        inner = pads[0].copy()
        inner.update(_DOMAIN + signed.encode("ascii"))
        outer = pads[1].copy()
        outer.update(inner.digest())
        return _b64(outer.digest()[:MAC_BYTES])

    def sign(self, claims: TokenClaims) -> str:
        kid = self.keys.signing_kid
        values = [VERSION, *(getattr(claims, name) for name, _ in _FIELDS)]
        while len(values) > _REQUIRED + 1 and values[-1] == _OPTIONAL_DEFAULTS[len(values) - _REQUIRED - 2]:
            values.pop()  # trailing optional fields at their defaults stay out (compact, as before)
        payload = _b64(orjson.dumps(values))
        signed = f"{kid}.{payload}"
        return f"{signed}.{self._mac(self.keys.secret(kid), signed)}"

    def expiry_for(self, start_s: float, duration_s: float) -> int:
        return int(start_s + duration_s + self.grace_s) + 1

    def verify(self, token: str) -> TokenClaims:
        """The claims of a genuine, unexpired token; TokenInvalid / TokenExpired otherwise."""
        cached = None
        if isinstance(token, str):
            cached = self._verified.get(token)
            if cached is None:
                cached = self._verified_old.get(token)
        if cached is not None:
            kid = token.partition(".")[0]
            self.keys.secret(kid)  # raises once the key is revoked
            claims = _claims(_values(cached), kid)
        else:
            if not isinstance(token, str) or not token.isascii() or len(token) > MAX_TOKEN_CHARS:
                raise TokenInvalid(MALFORMED_TOKEN, "not a beacon token")
            parts = token.split(".")
            if len(parts) != 3:
                raise TokenInvalid(MALFORMED_TOKEN, "not a beacon token")
            kid, payload, mac = parts
            secret = self.keys.secret(kid)
            if not hmac.compare_digest(self._mac(secret, f"{kid}.{payload}"), mac):
                raise TokenInvalid(BAD_SIGNATURE, "signature does not match")
            claims, raw = _decode(payload, kid)
            verified = self._verified
            if len(verified) >= self.cache_size // 2:
                self._verified_old, verified = verified, {}
                self._verified = verified
            verified[token] = raw
        if self._clock() > claims.expires_at + self.skew_s:
            raise TokenExpired(EXPIRED, "token expired", claims)
        return claims


def _decode(payload: str, kid: str) -> tuple[TokenClaims, bytes]:
    """The claims of a payload whose MAC matched, and its JSON bytes (what the cache keeps)."""
    try:
        raw = _unb64(payload)
        values = _values(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise TokenInvalid(MALFORMED_TOKEN, "undecodable payload") from None
    # orjson yields exact types, so a type lookup is the isinstance check (and keeps
    # bool, an int subclass, apart from int). Tokens come in a few shapes (which optional
    # fields are set): a shape checked once is known good by its tuple of types, one
    # set lookup instead of a loop over ~25 fields (~3 us a token)
    shape = tuple(map(type, values))
    if shape not in _GOOD_SHAPES:
        for allowed, value in zip(_ALLOWED, values, strict=True):
            if type(value) not in allowed:
                name = _FIELDS[[type(v) in a for a, v in zip(_ALLOWED, values, strict=True)].index(False)][0]
                raise TokenInvalid(MALFORMED_TOKEN, f"bad field {name}")
        if len(_GOOD_SHAPES) < 1024:
            _GOOD_SHAPES.add(shape)
    return _claims(values, kid), raw


def _values(raw: bytes) -> list[Any]:
    """The fields of a payload's JSON, the optional ones at their defaults when absent
    (types unchecked)."""
    values = orjson.loads(raw)
    if not isinstance(values, list) or not _REQUIRED < len(values) <= len(_FIELDS) + 1 or values[0] != VERSION:
        raise TokenInvalid(MALFORMED_TOKEN, "unknown token version")
    del values[0]
    values.extend(_OPTIONAL_DEFAULTS[len(values) - _REQUIRED:])
    return values


def _claims(values: list[Any], kid: str) -> TokenClaims:
    values.append(kid)
    return _tuple_new(TokenClaims, values)  # skips the generated __new__'s argument binding


def with_expiry(claims: TokenClaims, signer: TokenSigner) -> TokenClaims:
    """`claims` with the expiry the signer's policy gives (ad end + grace)."""
    return claims._replace(expires_at=signer.expiry_for(claims.start_ms / 1000, claims.duration_ms / 1000))


def tracking_url(public_url: str, token: str, event: str, *, offset: str | None = None) -> str:
    """`/v1/b/{event}?t=TOKEN` with VAST macros left literal for the player to expand:
    `[TIMESTAMP]` always, `[ERRORCODE]` for `error`, `[ADPLAYHEAD]` (or the given offset)
    for positioned events."""
    if event not in EVENTS:
        raise ValueError(f"unknown tracking event {event!r}")
    url = f"{public_url.rstrip('/')}/v1/b/{event}?t={token}"
    if event == "error":
        url += "&code=[ERRORCODE]"
    if event in POSITIONED_EVENTS:
        url += "&off=" + (quote(offset, safe=":.%") if offset is not None else "[ADPLAYHEAD]")
    return url + "&ts=[TIMESTAMP]"


def tracking_urls(public_url: str, token: str, events: Iterable[str]) -> dict[str, str]:
    """One tracking URL per event (see `tracking_url`)."""
    return {event: tracking_url(public_url, token, event) for event in events}


@dataclass(frozen=True, slots=True)
class TokenContext:
    """Per-request context shared by every ad of a pod (content, device, privacy)."""

    session_id: str
    cid: str | None = None
    channel: str | None = None
    genre: str | None = None
    device_type: str | None = None
    device_ref: str | None = None
    lmt: bool = False
    gdpr: bool = False
    gdpr_consent: str | None = None
    us_privacy: str | None = None
    source: str = "client"


def context_from_request(request, source: str = "client") -> TokenContext:
    """Context from a `decision.request.AdRequest`. The capping identity is the IFA only
    when the user allows it (lmt, consent), else the session id; only its hash travels."""
    return TokenContext(
        session_id=request.sid, cid=request.cid, channel=request.channel, genre=request.genre,
        device_type=request.device_type, device_ref=request.device_key, lmt=request.lmt,
        gdpr=request.gdpr, gdpr_consent=request.gdpr_consent, us_privacy=request.us_privacy,
        source=source,
    )


def claims_for_ad(ad, *, pod_id: str, start_s: float, context: TokenContext,
                  signer: TokenSigner) -> TokenClaims:
    """Claims for a `decision.pod.PlacedAd` scheduled to start at `start_s` (epoch s)."""
    duration_s = float(ad.creative.duration_s)
    return TokenClaims(
        imp_id=ad.imp_id, session_id=context.session_id, pod_id=pod_id, pod_pos=ad.sequence,
        line_item_id=ad.line_item_id, campaign_id=ad.campaign_id, advertiser_id=ad.advertiser_id,
        creative_id=ad.creative.id, price_micros=int(ad.price_micros), currency=ad.currency,
        start_ms=int(start_s * 1000), duration_ms=int(duration_s * 1000),
        expires_at=signer.expiry_for(start_s, duration_s),
        cid=context.cid, channel=context.channel, genre=context.genre,
        device_type=context.device_type, device_ref=context.device_ref, lmt=context.lmt,
        gdpr=context.gdpr, gdpr_consent=context.gdpr_consent, us_privacy=context.us_privacy,
        source=context.source,
        p_complete_micros=_micros(getattr(ad, "p_complete", None)),
        p_click_micros=_micros(getattr(ad, "p_click", None)),
        complete_model=getattr(ad, "complete_model", ""), click_model=getattr(ad, "click_model", ""),
    )


def _micros(p: float | None) -> int | None:
    """A probability in integer micro-units (exact in JSON and in the counters)."""
    if p is None or not math.isfinite(p):
        return None
    return round(min(max(float(p), 0.0), 1.0) * 1_000_000)
