"""A live session's own timeline: its anchor (the first segment of the first playlist the
session saw), the live pre-roll placed from it, and avail start times on the player's
timeline, so the tracking JSON says the same thing on every refresh.

Live insertion replaces content one for one, so the player's timeline is the content's:
seconds since the anchor segment, from EXT-X-PROGRAM-DATE-TIME when both ends carry one,
else media sequence × target duration (RFC 8216 §4.3.3.1 bounds every segment by it).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssai.plan import PRE, Break, Plan
from ssai.playlist import MediaPlaylist
from ssai.stitch import LiveState, live_breaks

PREROLL_ID = "preroll"
# RFC 8216 §6.3.3: a client starts no closer than three target durations to the live edge.
HOLDBACK_TARGETS = 3
_TOL = 0.25


@dataclass(frozen=True, slots=True)
class LiveAnchor:
    sequence: int  # media sequence of the first segment of the session's first playlist
    pdt: float | None  # its program date time (epoch seconds), when the origin has one
    target_duration: int
    preroll_sequence: int  # where a player joining that playlist starts: the live pre-roll's start
    preroll_pdt: float | None = None

    def to_json(self) -> dict:
        return {f: getattr(self, f) for f in LiveAnchor.__slots__}

    @classmethod
    def from_json(cls, data: dict) -> LiveAnchor:
        return cls(**{f: data.get(f) for f in LiveAnchor.__slots__})

    def time_of(self, sequence: int, pdt: float | None) -> float:
        """Seconds from the anchor to the start of the segment `sequence` (at `pdt`)."""
        if pdt is not None and self.pdt is not None:
            return pdt - self.pdt
        return float((sequence - self.sequence) * self.target_duration)


def anchor_of(playlist: MediaPlaylist, holdback: int = HOLDBACK_TARGETS) -> LiveAnchor | None:
    """The anchor a session takes from its first live playlist (None when it is empty)."""
    segments = playlist.segments
    if not segments:
        return None
    edge = segments[-1].end - holdback * playlist.target_duration
    join = next((s for s in segments if s.start >= edge - _TOL), segments[-1])
    first = segments[0]
    return LiveAnchor(first.sequence, first.program_date_time, playlist.target_duration, join.sequence,
                      join.program_date_time)  # fmt: skip


def preroll_break(playlist: MediaPlaylist, anchor: LiveAnchor, duration_s: float) -> Break | None:
    """The live pre-roll as a break over the content from where the first playlist's player
    joined, `duration_s` long; None once it has slid out of the window (or before it, which
    only a rewound origin does)."""
    segments = playlist.segments
    if not segments or duration_s <= 0:
        return None
    start_seq = anchor.preroll_sequence
    first, last = segments[0].sequence, segments[-1].sequence
    if start_seq > last:
        return None
    index = {s.sequence: i for i, s in enumerate(segments)}
    start_i = index.get(start_seq)

    def offset(i: int) -> float:
        seg = segments[i]
        if start_i is not None:
            return seg.start - segments[start_i].start
        if seg.program_date_time is not None and anchor.preroll_pdt is not None:
            return seg.program_date_time - anchor.preroll_pdt
        return float((seg.sequence - start_seq) * anchor.target_duration)

    lo = start_i if start_i is not None else 0
    end_i = next((i for i in range(lo, len(segments)) if offset(i) >= duration_s - _TOL), None)
    if end_i is not None and segments[end_i].sequence <= first and start_seq < first:
        return None  # content has resumed before this window: nothing left to replace
    if start_i is not None:
        start_time = segments[start_i].start
    else:
        start_time = segments[0].start
    return Break(PREROLL_ID, PRE, lo, end_i, start_time, duration_s, "preroll", start_seq)


def with_preroll(playlist: MediaPlaylist, state: LiveState, anchor: LiveAnchor | None,
                 preroll_s: float | None) -> tuple[Break, ...]:  # fmt: skip
    """`live_breaks` plus the session's live pre-roll, while it is in the window."""
    breaks = live_breaks(playlist, state)
    if anchor is None or not preroll_s:
        return breaks
    others = tuple(b for b in breaks if b.id != PREROLL_ID)
    pre = preroll_break(playlist, anchor, preroll_s)
    if pre is None:
        return others
    # a marker inside the pre-roll is the pre-roll's: that span is already replaced
    end = None if pre.end_index is None else playlist.segments[pre.end_index].sequence
    kept = tuple(b for b in others if b.start_sequence < pre.start_sequence
                 or (end is not None and b.start_sequence >= end))  # fmt: skip
    return tuple(sorted((pre, *kept), key=lambda b: b.start_sequence))


def avail_starts(plan: Plan, playlist: MediaPlaylist, state: LiveState, anchor: LiveAnchor) -> dict[str, float]:
    """Avail id -> start on the session's timeline, the same on every refresh: from the
    start the live state recorded, else from the break's segment in this window, else
    (a CUE-OUT-CONT whose CUE-OUT was never seen) back from its elapsed time."""
    known = {b.id: b for b in state.breaks}
    segments = playlist.segments
    out: dict[str, float] = {}
    for avail in plan.avails:
        brk = avail.brk
        seen = known.get(brk.id)
        if seen is not None:
            out[brk.id] = round(anchor.time_of(seen.start_seq, seen.start_pdt), 3)
            continue
        if not segments:
            continue
        i = min(brk.start_index, len(segments) - 1)
        seg = segments[i]
        at = anchor.time_of(seg.sequence, seg.program_date_time)
        if brk.start_index >= len(segments):
            at += seg.duration
        cue = brk.cue
        if cue is not None and not cue.has_start and cue.elapsed is not None:
            at -= cue.elapsed
        out[brk.id] = round(at, 3)
    return out


__all__ = ["PREROLL_ID", "LiveAnchor", "anchor_of", "avail_starts", "preroll_break", "with_preroll"]
