"""Macro substitution for URLs the server fires itself (VAST 4.1 §6, "Macros").

`[NAME]` (and its percent-encoded form `%5BNAME%5D`, which appears once a URL has been
encoded by someone upstream) is replaced when a value for NAME is given; any other bracketed
name is left exactly as it was, as §6.1 asks ("unknown macros ... left unchanged"). Values
are percent-encoded (RFC 3986 unreserved characters kept), which VAST 4.1 §6.1 requires of
every macro value. Time and randomness are passed in, never read from the world.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import quote

from .escape import clock

_MACRO = re.compile(r"\[([A-Z][A-Z0-9_]*)\]|%5[Bb]([A-Z][A-Z0-9_]*)%5[Dd]")

MacroValue = str | int | float


def expand(url: str, values: Mapping[str, MacroValue]) -> str:
    """Replace the macros of `url` that have a value in `values` (keys without brackets)."""
    if "[" not in url and "%5" not in url:
        return url

    def sub(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(2)
        value = values.get(name)
        if value is None:
            return m.group(0)
        return encode(value)

    return _MACRO.sub(sub, url)


def encode(value: MacroValue) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    return quote(str(value), safe="-_.~")


def timestamp(moment: datetime) -> str:
    """[TIMESTAMP]: ISO 8601 with milliseconds and offset (VAST 4.1 §6.2.1,
    e.g. 2016-01-17T08:15:07.127-05:00); naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    text = moment.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def cachebuster(rng: random.Random) -> str:
    """[CACHEBUSTING]: a random 8-digit number (VAST 4.1 §6.2.1)."""
    return f"{rng.randrange(10_000_000, 100_000_000)}"


@dataclass(frozen=True, slots=True)
class MacroContext:
    """What the server knows when it fires a URL on a device's behalf. Unset fields leave
    their macros alone; playheads are seconds."""

    now: datetime | None = None
    cachebusting: str | None = None
    error_code: int | None = None
    ad_playhead: float | None = None
    content_playhead: float | None = None
    asset_uri: str | None = None
    ifa: str | None = None
    ifa_type: str | None = None
    device_ua: str | None = None
    device_ip: str | None = None
    server_ua: str | None = None
    ad_serving_id: str | None = None
    universal_ad_id: str | None = None
    content_id: str | None = None
    pod_sequence: int | None = None
    break_position: int | None = None
    limit_ad_tracking: bool | None = None
    gdpr_consent: str | None = None
    regulations: str | None = None
    reason: int | None = None
    extra: Mapping[str, MacroValue] = field(default_factory=dict)

    @classmethod
    def for_request(cls, now: datetime, rng: random.Random, **fields: object) -> MacroContext:
        """A context with [TIMESTAMP] and [CACHEBUSTING] drawn from the given clock/rng."""
        return cls(now=now, cachebusting=cachebuster(rng), **fields)  # type: ignore[arg-type]

    def values(self) -> dict[str, MacroValue]:
        v: dict[str, MacroValue] = {}
        if self.now is not None:
            v["TIMESTAMP"] = timestamp(self.now)
        pairs: tuple[tuple[str, MacroValue | None], ...] = (
            ("CACHEBUSTING", self.cachebusting),
            ("ERRORCODE", self.error_code),
            ("ADPLAYHEAD", None if self.ad_playhead is None else clock(self.ad_playhead)),
            ("ASSETURI", self.asset_uri),
            ("IFA", self.ifa),
            ("IFATYPE", self.ifa_type),
            ("DEVICEUA", self.device_ua),
            ("CLIENTUA", self.device_ua),
            ("DEVICEIP", self.device_ip),
            ("SERVERUA", self.server_ua),
            ("ADSERVINGID", self.ad_serving_id),
            ("UNIVERSALADID", self.universal_ad_id),
            ("CONTENTID", self.content_id),
            ("PODSEQUENCE", self.pod_sequence),
            ("BREAKPOSITION", self.break_position),
            ("LIMITADTRACKING", self.limit_ad_tracking),
            ("GDPRCONSENT", self.gdpr_consent),
            ("REGULATIONS", self.regulations),
            ("REASON", self.reason),
        )
        for name, value in pairs:
            if value is not None:
                v[name] = value
        if self.content_playhead is not None:
            # [CONTENTPLAYHEAD] was renamed [MEDIAPLAYHEAD] in VAST 4.1; fill both.
            v["CONTENTPLAYHEAD"] = v["MEDIAPLAYHEAD"] = clock(self.content_playhead)
        v.update({k: val for k, val in self.extra.items() if val is not None})
        return v

    def expand(self, url: str) -> str:
        return expand(url, self.values())


def with_error_code(url: str, code: int, context: MacroContext | None = None) -> str:
    """An Error URL ready to fire: [ERRORCODE] (and the context's macros) substituted."""
    values = context.values() if context is not None else {}
    values["ERRORCODE"] = int(code)
    return expand(url, values)
