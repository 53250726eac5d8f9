"""The ad request as a typed value: contract `GET /v1/vast` / `/v1/vmap` parameters.

`parse_ad_request` is the only place query strings become an `AdRequest`; every
unknown or malformed value raises `InvalidRequest` naming the parameter.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from decision.errors import InvalidRequest

VAST_VERSIONS = ("2.0", "3.0", "4.0", "4.1", "4.2", "4.3")
POSITIONS = ("pre", "mid", "post")
RATINGS = ("TV-Y", "TV-G", "TV-PG", "TV-14", "TV-MA")
DEVICE_TYPES = ("ctv", "mobile", "desktop")

# Every parameter the contract defines for /v1/vast and /v1/vmap (plus debug and a few
# common player extras we accept and ignore rather than reject).
KNOWN_PARAMS = frozenset({
    "sid", "dur", "pos", "v", "cid", "genre", "rating", "channel", "live", "ifa", "dt", "ua", "ip",
    "country", "region", "dma", "gdpr", "gdpr_consent", "us_privacy", "lmt", "gpp", "seg",
    "cdur", "cues", "pre", "post", "inline", "debug", "cb", "correlator", "origin", "max_ads",
})
MAX_LEN = 512
MAX_DURATION_S = 600.0


@dataclass(frozen=True, slots=True)
class AdRequest:
    sid: str
    duration_s: float = 30.0
    position: str = "mid"
    vast_version: str = "4.2"
    # content
    cid: str | None = None
    genre: str | None = None
    rating: str | None = None
    channel: str | None = None
    live: bool = False
    # device
    ifa: str | None = None
    device_type: str = "ctv"
    ua: str | None = None
    ip: str | None = None
    country: str | None = None
    region: str | None = None
    dma: str | None = None
    segments: tuple[str, ...] = ()
    # privacy
    gdpr: bool = False
    gdpr_consent: str | None = None
    us_privacy: str | None = None
    gpp: str | None = None
    lmt: bool = False
    # VMAP
    content_duration_s: float | None = None
    cues: tuple[float, ...] = ()
    pre: bool = False
    post: bool = False
    inline: bool = True
    max_ads: int | None = None
    debug: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def device_key(self) -> str:
        """Frequency-capping identity: a one-way reference to the IFA when the user allows
        its use, else to the session. Tokens, events and cap counters all carry this
        reference, so the consumer counts impressions under the keys the engine reads,
        and no raw IFA reaches the store."""
        return device_ref(self.ifa if (self.ifa and self.personalised) else self.sid)

    @property
    def personalised(self) -> bool:
        """Whether user-level data may be used (VAST/IAB privacy signals)."""
        if self.lmt:
            return False
        if self.gdpr and not self.gdpr_consent:
            return False
        return not (self.us_privacy and len(self.us_privacy) >= 3 and self.us_privacy[2].upper() == "Y")


@functools.lru_cache(maxsize=1 << 16)
def device_ref(identity: str) -> str:
    """One-way reference to a capping identity (IFA or session id). Cached: a device asks
    many times, and the engine, caps and beacons each ask per request."""
    digest = hashlib.sha256(b"adgw-device/1\x00" + identity.encode()).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _text(params: Mapping[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if len(value) > MAX_LEN:
        raise InvalidRequest(name, f"longer than {MAX_LEN} characters")
    if any(ord(c) < 0x20 for c in value):
        raise InvalidRequest(name, "contains control characters")
    return value


def _flag(params: Mapping[str, str], name: str, default: bool = False) -> bool:
    value = _text(params, name)
    if value is None:
        return default
    if value in ("1", "true"):
        return True
    if value in ("0", "false"):
        return False
    raise InvalidRequest(name, f"must be 0 or 1, got {value!r}")


def _seconds(params: Mapping[str, str], name: str, default: float | None, *, allow_zero: bool = False) -> float | None:
    value = _text(params, name)
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidRequest(name, f"must be a number of seconds, got {value!r}") from None
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero) or seconds > 86400 * 7:
        raise InvalidRequest(name, f"out of range: {value!r}")
    return seconds


def _choice(params: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str | None) -> str | None:
    value = _text(params, name)
    if value is None:
        return default
    if value not in allowed:
        raise InvalidRequest(name, f"must be one of {', '.join(allowed)}, got {value!r}")
    return value


def parse_ad_request(params: Mapping[str, str], *, ua_header: str | None = None,
                     ip_fallback: str | None = None, strict: bool = True) -> AdRequest:
    """Parse query parameters. `ua_header`/`ip_fallback` come from the HTTP request (the
    gateway decides which peer headers to trust). With `strict`, unknown parameters are
    rejected so typos surface instead of silently changing targeting."""
    if strict:
        unknown = sorted(k for k in params if k not in KNOWN_PARAMS)
        if unknown:
            raise InvalidRequest(unknown[0], "unknown parameter")
    sid = _text(params, "sid")
    if sid is None:
        raise InvalidRequest("sid", "required")
    duration = _seconds(params, "dur", 30.0)
    assert duration is not None
    if duration > MAX_DURATION_S:
        raise InvalidRequest("dur", f"a break is at most {MAX_DURATION_S:.0f} s")
    cues: list[float] = []
    raw_cues = _text(params, "cues")
    if raw_cues:
        for part in raw_cues.split(","):
            try:
                cue = float(part)
            except ValueError:
                raise InvalidRequest("cues", f"not a number of seconds: {part!r}") from None
            if not math.isfinite(cue) or cue <= 0:
                raise InvalidRequest("cues", f"offset must be positive: {part!r}")
            cues.append(cue)
        if len(cues) > 50:
            raise InvalidRequest("cues", "at most 50 mid-roll cues")
    max_ads = _text(params, "max_ads")
    if max_ads is not None and (not (max_ads.isascii() and max_ads.isdigit()) or not 1 <= int(max_ads) <= 10):
        raise InvalidRequest("max_ads", "must be an integer 1..10")
    segs = _text(params, "seg")
    return AdRequest(
        sid=sid,
        duration_s=duration,
        position=_choice(params, "pos", POSITIONS, "mid") or "mid",
        vast_version=_choice(params, "v", VAST_VERSIONS, "4.2") or "4.2",
        cid=_text(params, "cid"),
        genre=(_text(params, "genre") or None) and params["genre"].lower(),
        rating=_choice(params, "rating", RATINGS, None),
        channel=_text(params, "channel"),
        live=_flag(params, "live"),
        ifa=_text(params, "ifa"),
        device_type=_choice(params, "dt", DEVICE_TYPES, "ctv") or "ctv",
        ua=_text(params, "ua") or ua_header,
        ip=_text(params, "ip") or ip_fallback,
        country=(_text(params, "country") or None) and params["country"].upper(),
        region=_text(params, "region"),
        dma=_text(params, "dma"),
        segments=tuple(s for s in (segs or "").split(",") if s),
        gdpr=_flag(params, "gdpr"),
        gdpr_consent=_text(params, "gdpr_consent"),
        us_privacy=_text(params, "us_privacy"),
        gpp=_text(params, "gpp"),
        lmt=_flag(params, "lmt"),
        content_duration_s=_seconds(params, "cdur", None),
        cues=tuple(sorted(cues)),
        pre=_flag(params, "pre"),
        post=_flag(params, "post"),
        inline=_flag(params, "inline", True),
        max_ads=int(max_ads) if max_ads else None,
        debug=_flag(params, "debug"),
    )
