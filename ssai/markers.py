"""Ad-break detection in a media playlist, across the marker dialects seen in the field:

- Elemental/Adobe: `#EXT-X-CUE-OUT:DURATION=30` … `#EXT-X-CUE-OUT-CONT:ElapsedTime=4,Duration=30`
  … `#EXT-X-CUE-IN`, often with `#EXT-OATCLS-SCTE35:<base64>` beside the CUE-OUT;
- Wowza/Anvato: `#EXT-X-CUE-OUT:30` (or bare `#EXT-X-CUE-OUT`), `#EXT-X-CUE-OUT-CONT:4/30`;
- RFC 8216 §4.3.2.7.1: `#EXT-X-DATERANGE` with SCTE35-OUT / SCTE35-IN / SCTE35-CMD and
  DURATION / PLANNED-DURATION;
- `#EXT-OATCLS-SCTE35` or `#EXT-X-SPLICEPOINT-SCTE35` alone (the payload says out or in).

The result is a tuple of `Cue`s in segment-index space; `plan` turns them into breaks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ssai import scte35
from ssai import vocabulary as v
from ssai.errors import MarkerError, PlaylistError
from ssai.playlist import MediaPlaylist, parse_attributes, parse_pdt

_LOOSE_ATTR = re.compile(r'([A-Za-z0-9-]+)=("[^"]*"|[^,]*)')  # CUE tags use mixed case names
_TOLERANCE_S = 0.25  # a duration-ended break snaps to the segment boundary this close


@dataclass(frozen=True, slots=True)
class Cue:
    """A signalled avail: content from segment `start_index` up to (not including)
    `end_index` is the break (a zero-length span is an insertion point). `end_index` is
    None while a live break is still open."""

    start_index: int
    end_index: int | None
    duration: float | None
    source: str  # cue-out | daterange | oatcls | splicepoint
    event_id: str | None = None
    upid: str | None = None
    has_start: bool = True  # False: the CUE-OUT slid out of the window (joined mid-break)
    elapsed: float | None = None  # from CUE-OUT-CONT when the start is not in the window
    tag: str = ""


@dataclass(slots=True)
class _Open:
    start_index: int
    duration: float | None
    source: str
    event_id: str | None
    upid: str | None
    has_start: bool
    elapsed: float | None
    tag: str


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise MarkerError(f"{what} is not a number: {text!r}") from None
    if value != value or value < 0 or value == float("inf"):
        raise MarkerError(f"{what} is out of range: {text!r}")
    return value


def _loose(text: str) -> dict[str, str]:
    return {k: val.strip('"') for k, val in _LOOSE_ATTR.findall(text)}


def cue_out_duration(value: str) -> float | None:
    """`DURATION=30`, `30`, `30.000,…` or nothing."""
    value = value.strip()
    if not value:
        return None
    if "=" in value:
        attrs = _loose(value)
        found = attrs.get(v.DURATION) or attrs.get("Duration")
        return _number(found, "CUE-OUT DURATION") if found else None
    return _number(value.split(",")[0], "CUE-OUT duration")


def cue_out_cont(value: str) -> tuple[float | None, float | None]:
    """(elapsed, duration) from `ElapsedTime=4,Duration=30` or `4/30`."""
    value = value.strip()
    if "/" in value and "=" not in value.split("/")[0]:
        elapsed, _, duration = value.partition("/")
        return _number(elapsed, "CUE-OUT-CONT elapsed"), _number(duration.split(",")[0], "CUE-OUT-CONT duration")
    attrs = _loose(value)
    elapsed = attrs.get("ElapsedTime") or attrs.get("ELAPSEDTIME")
    duration = attrs.get("Duration") or attrs.get(v.DURATION)
    return (
        _number(elapsed, "ElapsedTime") if elapsed else None,
        _number(duration, "Duration") if duration else None,
    )


def detect(playlist: MediaPlaylist) -> tuple[Cue, ...]:
    """Every avail signalled in the playlist, in order. Malformed markers raise
    `MarkerError` (a `Scte35Error` for a bad payload)."""
    segments = playlist.segments
    count = len(segments)
    cues: list[Cue] = []
    current: _Open | None = None
    dateranges: dict[str, _Open] = {}

    def close(end: int) -> None:
        nonlocal current
        assert current is not None
        cues.append(_cue(current, end))
        current = None

    def open_(start: int, duration: float | None, source: str, event_id=None, upid=None, tag="") -> None:
        nonlocal current
        if current is not None:
            if current.start_index == start:
                # Two dialects for the same avail (CUE-OUT beside OATCLS): merge.
                # The HLS tag's own duration wins over the SCTE-35 one (what players show).
                if source == "cue-out" and duration is not None or current.duration is None:
                    current.duration = duration
                    current.source = source
                current.event_id = current.event_id or event_id
                current.upid = current.upid or upid
                return
            close(start)
        current = _Open(start, duration, source, event_id, upid, True, None, tag)

    for index in range(count + 1):
        tags = segments[index].tags if index < count else playlist.trailing_tags
        # a duration-ended break closes at the first segment boundary past its duration
        if current is not None and current.duration is not None and index > current.start_index:
            start = segments[current.start_index].start if current.start_index < count else playlist.duration
            here = segments[index].start if index < count else playlist.duration
            if here - start + (current.elapsed or 0.0) >= current.duration - _TOLERANCE_S:
                close(index)
        for line in tags:
            name, _, value = line[1:].partition(":")
            if name == v.EXT_X_CUE_OUT:
                open_(index, cue_out_duration(value), "cue-out", tag=line)
            elif name == v.EXT_X_CUE_OUT_CONT:
                if current is None:
                    elapsed, duration = cue_out_cont(value)
                    current = _Open(index, duration, "cue-out", None, None, False, elapsed, line)
            elif name == v.EXT_X_CUE_IN:
                if current is not None:
                    close(index)
            elif name == v.EXT_OATCLS_SCTE35 or name == v.EXT_X_SPLICEPOINT_SCTE35:
                info = scte35.decode(value)
                source = "oatcls" if name == v.EXT_OATCLS_SCTE35 else "splicepoint"
                if info.is_out:
                    open_(index, info.duration, source, info.id, info.upid, line)
                elif info.is_in and current is not None:
                    close(index)
            elif name == v.EXT_X_DATERANGE:
                _daterange(playlist, index, value, line, dateranges, open_, close, current)
    if current is not None:
        cues.append(_cue(current, None if playlist.is_live else count))
    cues.sort(key=lambda c: c.start_index)
    return tuple(cues)


def _cue(state: _Open, end: int | None) -> Cue:
    return Cue(state.start_index, end, state.duration, state.source, state.event_id, state.upid,
               state.has_start, state.elapsed, state.tag)  # fmt: skip


def _daterange(playlist, index, value, line, dateranges, open_, close, opened) -> None:
    attrs = parse_attributes(value)
    range_id = attrs.get(v.ID)
    if not range_id:
        raise MarkerError("EXT-X-DATERANGE without ID")
    out = attrs.get(v.SCTE35_OUT)
    into = attrs.get(v.SCTE35_IN)
    cmd = attrs.get(v.SCTE35_CMD)
    duration = attrs.get(v.DURATION) or attrs.get(v.PLANNED_DURATION)
    seconds = _number(duration, "DATERANGE duration") if duration else None
    start = _date_index(playlist, attrs.get(v.START_DATE), index)
    info = scte35.decode(out or into or cmd) if (out or into or cmd) else None
    if out or (cmd and info is not None and info.is_out):
        if range_id in dateranges:
            return
        if seconds is None and info is not None:
            seconds = info.duration
        open_(start, seconds, "daterange", range_id, info.upid if info else None, line)
        dateranges[range_id] = True
    elif into or (cmd and info is not None and info.is_in):
        if opened is not None:
            close(max(index, opened.start_index))


def _date_index(playlist: MediaPlaylist, start_date: str | None, index: int) -> int:
    """A DATERANGE is placed by its START-DATE (RFC 8216 §4.3.2.7), not by where its tag
    stands; without program date-times the tag's position is all there is."""
    if not start_date:
        raise MarkerError("EXT-X-DATERANGE without START-DATE")
    try:
        when = parse_pdt(start_date)
    except PlaylistError:
        raise MarkerError(f"bad DATERANGE START-DATE {start_date!r}") from None
    segments = playlist.segments
    if not segments or segments[0].program_date_time is None:
        return index
    for i, seg in enumerate(segments):
        pdt = seg.program_date_time
        if pdt is not None and pdt + seg.duration / 2 > when:
            return i
    return len(segments)
