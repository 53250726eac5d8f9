"""Beacon request fields into typed values, with a reason for every rejection.

Players leave macros unexpanded (`[TIMESTAMP]`, `%5BTIMESTAMP%5D`) or send `-1`/`-2`
(VAST 4.2 §6.1 "unknown" / "not applicable"): those mean unknown, not malformed.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import NamedTuple

from beacons.errors import Malformed
from beacons.vocabulary import (
    BAD_CODE,
    BAD_OFFSET,
    BAD_TIMESTAMP,
    BAD_UTF8,
    EVENTS,
    MALFORMED_TOKEN,
    OVERSIZE,
    UNKNOWN_EVENT,
    UNKNOWN_VALUES,
)

MAX_EVENT = 32
MAX_TOKEN = 4096
MAX_FIELD = 64
MAX_UA = 512
_MACRO = re.compile(r"^(?:\[[A-Za-z_]{1,40}\]|%5B[A-Za-z_]{1,40}%5D|\$\{[A-Za-z_]{1,40}\})$", re.I)
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d):([0-5]\d)(?:\.(\d{1,3}))?$")
_MIN_MS = 946684800000  # 2000-01-01
_MAX_MS = 4102444800000  # 2100-01-01


class RawBeacon(NamedTuple):
    """One beacon as the edge received it. `ip` is the client address as resolved by
    `privacy.client_ip` (used for rate limiting, then truncated). Text fields may be
    bytes when the edge could not decode them.

    This, `BeaconFields`, `Verdict`, `SpoolRecord` and `Claim` are NamedTuples rather
    than frozen dataclasses for the reason `TokenClaims` is: each is built once or more
    per beacon, and a frozen dataclass pays an `object.__setattr__` per field. As tuples
    the server's instructions per beacon fell 4.6% (callgrind over 3,000 beacons of the
    real server, twice each way). Just as immutable."""

    event: str | bytes
    token: str | bytes
    ts: str | bytes | None = None
    code: str | bytes | None = None
    off: str | bytes | None = None
    ua: str | bytes | None = None
    ip: str | None = None


class BeaconFields(NamedTuple):
    """A beacon's fields, typed (a NamedTuple: see `RawBeacon`)."""

    event: str
    token: str
    ts_ms: int | None
    code: int | None
    offset_ms: int | None
    offset_pct: float | None
    ua: str | None

    @property
    def offset_key(self) -> str:
        """The offset as part of the event's identity."""
        if self.offset_ms is not None:
            return f"{self.offset_ms}ms"
        if self.offset_pct is not None:
            return f"{self.offset_pct:g}%"
        return ""


def _text(value: str | bytes | None, limit: int, name: str) -> str | None:
    if value is None:
        return None
    # nearly every value: ASCII text has neither U+FFFD nor lone surrogates, and
    # `isascii` reads a flag of the string rather than scanning and encoding it
    if type(value) is str and value.isascii():
        if len(value) > limit:
            raise Malformed(OVERSIZE, f"{name} longer than {limit} characters")
        return value
    if isinstance(value, bytes | bytearray):
        try:
            value = bytes(value).decode("utf-8")
        except UnicodeDecodeError:
            raise Malformed(BAD_UTF8, f"{name} is not UTF-8") from None
    elif not isinstance(value, str):
        raise Malformed(BAD_UTF8, f"{name} is not text")
    if "\ufffd" in value:  # the edge replaced undecodable bytes
        raise Malformed(BAD_UTF8, f"{name} is not UTF-8")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates (surrogateescape'd bytes)
        raise Malformed(BAD_UTF8, f"{name} is not UTF-8") from None
    if len(value) > limit:
        raise Malformed(OVERSIZE, f"{name} longer than {limit} characters")
    return value


def unknown(value: str | None) -> bool:
    return value is None or value.strip() in UNKNOWN_VALUES or bool(_MACRO.match(value.strip()))


def parse_timestamp(value: str | None) -> int | None:
    """Epoch milliseconds, or ISO 8601 as `[TIMESTAMP]` expands to (VAST 4.2 §6.1.1);
    None when unknown. A `+` decoded to a space by form decoding is restored."""
    if unknown(value):
        return None
    assert value is not None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is True, int("²") fails
        ms = int(text)
        if ms < 100_000_000_000:  # 11 digits or fewer: seconds, not milliseconds
            ms *= 1000
    else:
        text = text.replace(" ", "+")
        if text.endswith(("z", "Z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise Malformed(BAD_TIMESTAMP, "ts is neither epoch ms nor ISO 8601") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ms = int(moment.timestamp() * 1000)
    if not _MIN_MS <= ms <= _MAX_MS:
        raise Malformed(BAD_TIMESTAMP, "ts out of range")
    return ms


def parse_code(value: str | None) -> int | None:
    """A VAST error code (VAST 4.2 §2.3.6.3: 100-999); None when unknown."""
    if unknown(value):
        return None
    assert value is not None
    text = value.strip()
    if not (text.isascii() and text.isdigit()) or not 100 <= int(text) <= 999:
        raise Malformed(BAD_CODE, "code is not a VAST error code (100-999)")
    return int(text)


def parse_offset(value: str | None) -> tuple[int | None, float | None]:
    """`off`: seconds (`12.5`), `HH:MM:SS[.mmm]` as `[ADPLAYHEAD]` expands, or a
    percentage (`25%`). Returns (milliseconds, percent), both None when unknown."""
    if unknown(value):
        return None, None
    assert value is not None
    text = value.strip()
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            raise Malformed(BAD_OFFSET, "off is not a percentage") from None
        if not math.isfinite(pct) or not 0 <= pct <= 100:
            raise Malformed(BAD_OFFSET, "off percentage out of range")
        return None, pct
    match = _CLOCK.match(text)
    if match:
        h, m, s, frac = match.groups()
        ms = ((int(h) * 60 + int(m)) * 60 + int(s)) * 1000 + int((frac or "0").ljust(3, "0"))
        return ms, None
    try:
        seconds = float(text)
    except ValueError:
        raise Malformed(BAD_OFFSET, "off is not an offset") from None
    if not math.isfinite(seconds) or not 0 <= seconds <= 86400:
        raise Malformed(BAD_OFFSET, "off out of range")
    return round(seconds * 1000), None


def check_shape(raw: RawBeacon) -> tuple[str, str]:
    """Cheap checks before any cryptography: UTF-8 and sizes. Returns (event, token)."""
    event = _text(raw.event, MAX_EVENT, "event") or ""
    token = _text(raw.token, MAX_TOKEN, "t") or ""
    if not token:
        raise Malformed(MALFORMED_TOKEN, "t (the beacon token) is missing")
    return event, token


def parse_fields(raw: RawBeacon, event: str, token: str) -> BeaconFields:
    if event not in EVENTS:
        raise Malformed(UNKNOWN_EVENT, "not a VAST tracking event")
    ts = parse_timestamp(_text(raw.ts, MAX_FIELD, "ts"))
    code = parse_code(_text(raw.code, MAX_FIELD, "code"))
    offset_ms, offset_pct = parse_offset(_text(raw.off, MAX_FIELD, "off"))
    ua = raw.ua
    if isinstance(ua, bytes | bytearray):
        ua = bytes(ua).decode("utf-8", "replace")
    if ua is not None:
        ua = ua[:MAX_UA]
    return BeaconFields(event, token, ts, code, offset_ms, offset_pct, ua)


def safe_label(text: str | bytes | None, limit: int = 32) -> str | None:
    """A value fit for the invalid topic: printable ASCII, bounded, else None."""
    if text is None:
        return None
    if isinstance(text, bytes | bytearray):
        text = bytes(text).decode("ascii", "replace")
    clean = "".join(c if c.isascii() and c.isprintable() else "?" for c in text[:limit])
    return clean or None
