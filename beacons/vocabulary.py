"""Beacon vocabulary: event names (VAST 4.2 §3.14.1 tracking events, plus `impression`,
`click`, `error`, `loaded`), rejection reasons, flags and sources. Bottom of the import
graph of `beacons`."""

from __future__ import annotations

EVENTS: frozenset[str] = frozenset({
    "impression", "creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile",
    "complete", "pause", "resume", "mute", "unmute", "skip", "progress", "closeLinear",
    "click", "error", "loaded",
})

# Events a player may legitimately fire several times per impression; the player's
# position (`off`) is part of their identity so that each distinct one counts once.
POSITIONED_EVENTS: frozenset[str] = frozenset({"progress", "pause", "resume", "mute", "unmute"})

SOURCES = ("client", "ssai", "verifier")

# VAST macros a player may leave unexpanded (VAST 4.2 §6.1; -1 "unknown", -2 "not
# applicable" per IAB macro conventions); they mean "unknown", never "malformed".
UNKNOWN_VALUES: frozenset[str] = frozenset({"", "-1", "-2"})

# rejection reasons (the label set of the `invalid` metric and the invalid topic)
BAD_SIGNATURE = "bad_signature"
UNKNOWN_KEY = "unknown_key"
REVOKED_KEY = "revoked_key"
MALFORMED_TOKEN = "malformed_token"
EXPIRED = "expired"
UNKNOWN_EVENT = "unknown_event"
BAD_CODE = "bad_code"
BAD_OFFSET = "bad_offset"
BAD_TIMESTAMP = "bad_timestamp"
OVERSIZE = "oversize"
BAD_UTF8 = "bad_utf8"
REASONS = (BAD_SIGNATURE, UNKNOWN_KEY, REVOKED_KEY, MALFORMED_TOKEN, EXPIRED, UNKNOWN_EVENT,
           BAD_CODE, BAD_OFFSET, BAD_TIMESTAMP, OVERSIZE, BAD_UTF8)

# plausibility and invalid-traffic flags: kept on the event, never a rejection
BEFORE_START = "before_start"
COMPLETE_TOO_EARLY = "complete_too_early"
LONG_AFTER_END = "long_after_end"
CLIENT_CLOCK_SKEW = "client_clock_skew"
BOT_UA = "bot_ua"
DATACENTER_IP = "datacenter_ip"
FLAGS = (BEFORE_START, COMPLETE_TOO_EARLY, LONG_AFTER_END, CLIENT_CLOCK_SKEW, BOT_UA, DATACENTER_IP)

# dedup outcome written on each event
DEDUP_CHECKED = "checked"
DEDUP_UNCHECKED = "unchecked"  # the store was unreachable: accepted without the check
DEDUP_TAKEOVER = "takeover"  # a pending mark from a writer that never confirmed
