"""Stitch ads into a media playlist: text in (a prepared `Origin`), text out. No I/O.

VOD: each avail is inserted at its break; no content segment is lost.
Live: the content inside CUE-OUT..CUE-IN is replaced by the avail's ads, then slate; an
early CUE-IN cuts the pod. Numbering survives refreshes through `LiveState`, a small
frozen value the gateway keeps per session and media playlist.

RFC 8216 rules kept here: EXT-X-DISCONTINUITY before every ad (and slate loop) and before
the content after a block (§4.3.2.3); EXT-X-MEDIA-SEQUENCE and EXT-X-DISCONTINUITY-SEQUENCE
continuous across refreshes (§6.2.2); EXT-X-TARGETDURATION constant in a live playlist
(§6.2.1); EXT-X-KEY:METHOD=NONE over clear ads and the content key re-emitted after them,
with an explicit IV where renumbering would change the implicit one (§5.2); EXT-X-MAP
after each discontinuity (§4.3.2.5); byte ranges always with explicit offsets (§4.3.2.2).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import lru_cache
from urllib.parse import urljoin as _urljoin

from ssai import vocabulary as v
from ssai.errors import PlanError
from ssai.plan import MID, AdMedia, AdVariant, Avail, Break, CueOffsets, Plan, find_breaks
from ssai.playlist import (
    InitMap,
    Key,
    MediaPlaylist,
    Segment,
    format_duration,
    format_pdt,
    parse_media,
    quote,
)
from ssai.rendition import Target, choose


@lru_cache(maxsize=65536)
def urljoin(base: str, uri: str) -> str:
    """`urllib.parse.urljoin`, memoised: the same ad and key URIs are made absolute on
    every playlist request of every session, and joining was ~40% of a 2-hour stitch."""
    return _urljoin(base, uri)

_TOL = 0.25  # seconds: segment grids of ads and content differ by rounding
_URI_ATTR = re.compile(r'URI="([^"]*)"')
_DISC = "#" + v.EXT_X_DISCONTINUITY
_KEY_NONE = f"#{v.EXT_X_KEY}:METHOD=NONE"


@dataclass(frozen=True, slots=True)
class AdRef:
    """What the injected URI function is told about one ad, slate or gap segment."""

    avail_id: str
    pod_id: str
    ad_index: int  # position of the ad in the avail (bumpers included)
    ad: AdMedia
    kind: str  # ad | slate | bumper | subtitle-gap
    segment_index: int
    segment_count: int
    uri: str  # the segment's absolute URL at the ad's origin ("" for a subtitle gap)
    duration: float
    variant_bandwidth: int = 0


def direct_uri(ref: AdRef) -> str:
    """The ad segment's own URL (no server-side tracking)."""
    return ref.uri


@dataclass(frozen=True, slots=True)
class StitchOptions:
    target: Target = Target()
    ad_uri: Callable[[AdRef], str] = direct_uri
    marker_passthrough: bool = False  # re-emit CUE-OUT/CUE-IN around each avail
    ad_metadata: bool = False  # SVTA-2053-style EXT-X-DATERANGE per ad (needs PDT)
    suppress_behind_edge_s: float | None = None  # live: avails first seen this far back stay content
    subtitle_gap_uri: str | None = None  # an empty WebVTT file, played over ads in subtitle renditions


@dataclass(frozen=True, slots=True)
class Origin:
    """A parsed origin media playlist with its content segments pre-rendered (URIs made
    absolute against `url`, ad markers stripped). Build once per (url, body): `OriginCache`."""

    url: str
    playlist: MediaPlaylist
    chunks: tuple[str, ...]
    digest: str = ""


def prepare(text: str, url: str) -> Origin:
    playlist = parse_media(text)
    return Origin(url, playlist, _chunks(playlist, url), hashlib.blake2b(text.encode(), digest_size=16).hexdigest())


class OriginCache:
    """LRU of prepared origins keyed by (url, body hash): a refresh that returns the same
    bytes costs a hash, not a parse."""

    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, str], Origin] = OrderedDict()

    def get(self, text: str, url: str) -> Origin:
        key = (url, hashlib.blake2b(text.encode(), digest_size=16).hexdigest())
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
            return found
        origin = Origin(url, parse_media(text), (), key[1])
        origin = replace(origin, chunks=_chunks(origin.playlist, url))
        self._items[key] = origin
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return origin


def _absolute(base: str, uri: str) -> str:
    return urljoin(base, uri) if base else uri


def _chunks(playlist: MediaPlaylist, base: str) -> tuple[str, ...]:
    out = []
    for seg in playlist.segments:
        lines = [t for t in seg.tags if not _is_marker(t)]
        if seg.gap:
            lines.append("#" + v.EXT_X_GAP)
        if seg.byterange is not None:
            lines.append(f"#{v.EXT_X_BYTERANGE}:{seg.byterange.render()}")
        lines.append(f"#EXTINF:{format_duration(seg.duration)},{seg.title}")
        lines.append(_absolute(base, seg.uri))
        out.append("\n".join(lines))
    return tuple(out)


def _is_marker(tag: str) -> bool:
    name = tag[1:].partition(":")[0]
    if name in v.AD_MARKER_TAGS:
        return True
    return name == v.EXT_X_DATERANGE and "SCTE35-" in tag


def _key_line(key: Key, base: str, iv: int | None = None) -> str:
    line = key.line(None if iv is None else f"0x{iv:032x}")
    if key.uri and base:
        line = _URI_ATTR.sub(lambda m: f'URI="{urljoin(base, m.group(1))}"', line, count=1)
    return line


def _map_line(init: InitMap, base: str) -> str:
    return init.line(_absolute(base, init.uri))


# ---------------------------------------------------------------------------- schedule


@dataclass(frozen=True, slots=True)
class _Entry:
    ad_index: int
    ad: AdMedia
    variant: AdVariant | None
    segment_index: int
    segment: Segment | None
    start: float  # offset in the avail
    duration: float
    first: bool  # first segment of an ad (a discontinuity precedes it)
    kind: str

    @property
    def end(self) -> float:
        return self.start + self.duration


def schedule(avail: Avail, target: Target, slate: AdMedia | None = None, until: float | None = None) -> tuple[_Entry, ...]:
    """Every segment the avail plays in `target`, in order. With `until` (live), ads past it
    are cut and slate loops fill up to it."""
    entries: list[_Entry] = []
    t = 0.0

    def add(index: int, ad: AdMedia, kind: str) -> bool:
        nonlocal t
        variant = choose(ad, target)
        if variant is None:  # subtitles: one empty cue segment per ad
            parts = [(0, None, ad.duration_s)]
        else:
            parts = [(i, s, s.duration) for i, s in enumerate(variant.segments)]
        for n, (i, seg, duration) in enumerate(parts):
            if until is not None and t + duration > until + _TOL:
                return False
            entries.append(_Entry(index, ad, variant, i, seg, t, duration, n == 0,
                                  "subtitle-gap" if seg is None else kind))  # fmt: skip
            t += duration
        return True

    for index, ad in enumerate(avail.ads):
        if not add(index, ad, ad.kind) or (until is not None and t >= until - _TOL):
            break
    if until is not None and slate is not None:
        index = len(avail.ads)
        while t < until - _TOL:
            before = t
            add(index, slate, "slate")
            index += 1
            if t == before:
                break  # the slate segment is longer than what is left
    return tuple(entries)


# ---------------------------------------------------------------------------- writer


@dataclass(slots=True)
class _Writer:
    base: str
    options: StitchOptions
    out: list[str]
    has_pdt: bool
    seq: int = 0
    keys: tuple[Key, ...] = ()  # the keys the player believes in
    iv_explicit: bool = False
    init: InitMap | None = None
    after_ad: bool = False
    max_ad_duration: float = 0.0

    def content(self, seg: Segment, chunk: str, seq: int, pdt_shift: float, first: bool) -> None:
        out = self.out
        disc = seg.discontinuity or (self.after_ad and not first)
        if self.after_ad and self.options.marker_passthrough:
            out.append("#" + v.EXT_X_CUE_IN)
        if disc:
            out.append(_DISC)
        renumbered = seq != seg.sequence
        if seg.keys != self.keys or self.after_ad or first or (self.iv_explicit and not renumbered):
            self._keys(seg.keys, seg.sequence if renumbered else None, self.base, first)
        elif seg.keys and renumbered and any(k.iv is None for k in seg.keys):
            self._keys(seg.keys, seg.sequence, self.base, first)
        if seg.init is not None and (seg.init != self.init or disc or first):
            out.append(_map_line(seg.init, self.base))
            self.init = seg.init
        if seg.program_date_time is not None and (seg.pdt_tag or disc or first):
            out.append(f"#{v.EXT_X_PROGRAM_DATE_TIME}:{format_pdt(seg.program_date_time + pdt_shift)}")
        out.append(chunk)
        self.after_ad = False

    def _keys(self, keys: tuple[Key, ...], iv: int | None, base: str, first: bool) -> None:
        if not keys:
            if self.keys and not first:
                self.out.append(_KEY_NONE)
            self.keys, self.iv_explicit = (), False
            return
        explicit = False
        for key in keys:
            if key.iv is None and iv is not None and key.encrypted:
                self.out.append(_key_line(key, base, iv))
                explicit = True
            else:
                self.out.append(_key_line(key, base))
        self.keys, self.iv_explicit = keys, explicit

    def ad(self, avail: Avail, entry: _Entry, entries_count: int, pdt: float | None, first_out: bool,
           item_count: int) -> None:  # fmt: skip
        out = self.out
        seg = entry.segment
        variant_base = entry.variant.uri if entry.variant is not None else ""
        if entry.first and not first_out:
            out.append(_DISC)
        if entry.first and entry.ad_index == 0 and self.options.marker_passthrough and entry.start == 0:
            out.append(f"#{v.EXT_X_CUE_OUT}:DURATION={format_duration(avail.brk.duration)}")
        keys = seg.keys if seg is not None else ()
        if keys != self.keys or (self.iv_explicit and keys):
            self._keys(keys, None, variant_base, first_out)
        if seg is not None and seg.init is not None and (entry.first or seg.init != self.init or first_out):
            out.append(_map_line(seg.init, variant_base))
            self.init = seg.init
        elif seg is None or seg.init is None:
            self.init = None
        if pdt is not None and (entry.first or first_out):
            out.append(f"#{v.EXT_X_PROGRAM_DATE_TIME}:{format_pdt(pdt)}")
            if self.options.ad_metadata and entry.kind in ("ad", "bumper") and entry.first:
                out.append(_ad_daterange(avail, entry, pdt))
        if seg is not None and seg.byterange is not None:
            out.append(f"#{v.EXT_X_BYTERANGE}:{seg.byterange.render()}")
        if seg is not None:
            uri = urljoin(variant_base, seg.uri)
        elif self.options.subtitle_gap_uri:
            uri = self.options.subtitle_gap_uri
        else:
            raise PlanError("a subtitle rendition needs StitchOptions.subtitle_gap_uri")
        ref = AdRef(avail.id, avail.pod_id, entry.ad_index, entry.ad, entry.kind, entry.segment_index,
                    item_count, uri, entry.duration,
                    entry.variant.bandwidth if entry.variant is not None else 0)  # fmt: skip
        out.append(f"#EXTINF:{format_duration(entry.duration)},")
        out.append(self.options.ad_uri(ref))
        if entry.duration > self.max_ad_duration:
            self.max_ad_duration = entry.duration
        self.after_ad = True


def _ad_daterange(avail: Avail, entry: _Entry, pdt: float) -> str:
    ad = entry.ad
    return (
        f"#{v.EXT_X_DATERANGE}:ID={quote(f'{avail.id}-{entry.ad_index}')},CLASS={quote(v.SVTA_AD_CLASS)},"
        f"START-DATE={quote(format_pdt(pdt))},DURATION={format_duration(ad.duration_s)},"
        f"{v.X_AD_ID}={quote(ad.ad_id)},{v.X_AD_CREATIVE_ID}={quote(ad.creative_id or ad.ad_id)},"
        f"{v.X_AD_POD_ID}={quote(avail.pod_id)},{v.X_AD_POSITION}={entry.ad_index + 1}"
    )


def _header(playlist: MediaPlaylist, target: int, media_sequence: int, disc_sequence: int, live: bool) -> list[str]:
    out = ["#EXTM3U", f"#{v.EXT_X_VERSION}:{max(playlist.version or 3, 3)}", f"#{v.EXT_X_TARGETDURATION}:{target}",
           f"#{v.EXT_X_MEDIA_SEQUENCE}:{media_sequence}"]  # fmt: skip
    if disc_sequence or live:
        out.append(f"#{v.EXT_X_DISCONTINUITY_SEQUENCE}:{disc_sequence}")
    if playlist.playlist_type:
        out.append(f"#{v.EXT_X_PLAYLIST_TYPE}:{playlist.playlist_type}")
    if playlist.independent_segments:
        out.append("#" + v.EXT_X_INDEPENDENT_SEGMENTS)
    out.extend(playlist.header_tags)
    return out


def _target_duration(playlist: MediaPlaylist, longest: float) -> int:
    # RFC 8216 §4.3.3.1: every EXTINF rounded to the nearest integer is <= the target.
    return max(playlist.target_duration, math.floor(longest + 0.5))


# ---------------------------------------------------------------------------- VOD


def stitch(origin: Origin, plan: Plan, options: StitchOptions = StitchOptions()) -> str:
    """VOD: every filled avail inserted at its break."""
    playlist = origin.playlist
    segments = playlist.segments
    chunks = origin.chunks
    at: dict[int, list[Avail]] = {}
    for avail in plan.avails:
        if avail.filled and avail.ads:
            at.setdefault(avail.brk.start_index, []).append(avail)
    body: list[str] = []
    has_pdt = bool(segments) and segments[0].program_date_time is not None
    w = _Writer(origin.url, options, body, has_pdt, playlist.media_sequence)
    seq = playlist.media_sequence
    shift = 0.0
    count = len(segments)
    first = True
    for index in range(count + 1):
        for avail in at.get(index, ()):
            if index < count and segments[index].program_date_time is not None:
                pdt0 = segments[index].program_date_time + shift
            elif index and segments[index - 1].program_date_time is not None:
                pdt0 = segments[index - 1].program_date_time + segments[index - 1].duration + shift
            else:
                pdt0 = None
            entries = schedule(avail, options.target)
            items = _item_sizes(entries)
            for entry in entries:
                w.ad(avail, entry, len(entries), None if pdt0 is None else pdt0 + entry.start, first,
                     items[entry.ad_index])  # fmt: skip
                first = False
                seq += 1
            shift += entries[-1].end if entries else 0.0
        if index == count:
            break
        w.content(segments[index], chunks[index], seq, shift, first)
        first = False
        seq += 1
    if w.after_ad and options.marker_passthrough:
        body.append("#" + v.EXT_X_CUE_IN)
    target = _target_duration(playlist, w.max_ad_duration)
    head = _header(playlist, target, playlist.media_sequence, playlist.discontinuity_sequence, False)
    tail = list(playlist.trailing_tags)
    tail = [t for t in tail if not _is_marker(t)]
    if playlist.endlist:
        tail.append("#" + v.EXT_X_ENDLIST)
    return "\n".join(head + body + tail) + "\n"


def _item_sizes(entries: tuple[_Entry, ...]) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for e in entries:
        sizes[e.ad_index] = sizes.get(e.ad_index, 0) + 1
    return sizes


# ---------------------------------------------------------------------------- live


@dataclass(frozen=True, slots=True)
class LiveBreak:
    id: str
    start_seq: int  # origin sequence of the first replaced segment
    filled: bool
    seq_delta_before: int  # output minus origin media sequence before the break
    disc_delta_before: int  # output minus origin discontinuity sequence before the break
    origin_dseq_before: int  # origin discontinuity sequence of the segment before the break
    start_pdt: float | None = None
    anchor_seq: int = 0  # a replaced segment whose offset in the avail is known
    anchor_offset: float = 0.0
    end_seq: int | None = None  # origin sequence of the first content segment after
    duration: float | None = None  # actual, once closed
    seq_delta_after: int | None = None
    disc_delta_after: int | None = None
    planned_duration: float = 0.0

    @property
    def dseq_before(self) -> int:
        return self.origin_dseq_before + self.disc_delta_before


@dataclass(frozen=True, slots=True)
class LiveState:
    """Per session and media playlist: what keeps numbering continuous across refreshes.
    JSON-able through `to_json`/`from_json` for the session store."""

    target_duration: int | None = None
    seq_delta: int = 0  # for content after every folded break
    disc_delta: int = 0
    breaks: tuple[LiveBreak, ...] = ()

    def to_json(self) -> dict:
        return {
            "target_duration": self.target_duration,
            "seq_delta": self.seq_delta,
            "disc_delta": self.disc_delta,
            "breaks": [{f: getattr(b, f) for f in LiveBreak.__slots__} for b in self.breaks],
        }

    @classmethod
    def from_json(cls, data: dict | None) -> LiveState:
        if not data:
            return cls()
        return cls(data.get("target_duration"), int(data.get("seq_delta", 0)), int(data.get("disc_delta", 0)),
                   tuple(LiveBreak(**b) for b in data.get("breaks", ())))  # fmt: skip


def _offset(brk: LiveBreak, segments: tuple[Segment, ...], index: int, by_seq: dict[int, int], target: int,
            elapsed: float | None) -> float:  # fmt: skip
    """Seconds from the avail's start to the start of `segments[index]`."""
    seg = segments[index]
    start = by_seq.get(brk.start_seq)
    if start is not None:
        return seg.start - segments[start].start
    if brk.start_pdt is not None and seg.program_date_time is not None:
        return seg.program_date_time - brk.start_pdt
    anchor = by_seq.get(brk.anchor_seq)
    if anchor is not None:
        return brk.anchor_offset + seg.start - segments[anchor].start
    if elapsed is not None:
        return elapsed + seg.start - segments[0].start
    # The window jumped past all we knew: estimate with the target duration.
    return brk.anchor_offset + (seg.sequence - brk.anchor_seq) * target


def stitch_live(origin: Origin, plan: Plan, options: StitchOptions = StitchOptions(),
                state: LiveState = LiveState()) -> tuple[str, LiveState]:  # fmt: skip
    """Live: replace each avail's content with its ads (then slate), numbering the output
    so that every refresh agrees with the previous ones. Returns the text and the state
    to keep for the next refresh of this media playlist."""
    playlist = origin.playlist
    segments = playlist.segments
    chunks = origin.chunks
    count = len(segments)
    target = state.target_duration or playlist.target_duration
    if not segments:
        head = _header(playlist, target, playlist.media_sequence + state.seq_delta,
                       playlist.discontinuity_sequence + state.disc_delta, True)  # fmt: skip
        return "\n".join(head) + "\n", replace(state, target_duration=target)
    by_seq = {seg.sequence: i for i, seg in enumerate(segments)}
    first_seq, last_seq = segments[0].sequence, segments[-1].sequence
    detected = {a.brk.id: a for a in plan.avails}

    seq_delta, disc_delta = state.seq_delta, state.disc_delta
    pending: list[LiveBreak] = []
    for brk in state.breaks:
        if brk.end_seq is not None and brk.end_seq <= first_seq:
            seq_delta, disc_delta = brk.seq_delta_after, brk.disc_delta_after  # type: ignore[assignment]
        else:
            pending.append(brk)
    known_ids = {b.id for b in pending} | {b.id for b in state.breaks}
    known_starts = {b.start_seq for b in state.breaks}
    fresh = sorted(
        (a for a in plan.avails if a.brk.id not in known_ids and a.brk.start_sequence not in known_starts
         and (a.brk.cue is None or a.brk.cue.has_start)),
        key=lambda a: a.brk.start_sequence,
    )  # fmt: skip
    window_end = segments[-1].end

    tracked: list[LiveBreak] = []
    sd, dd = seq_delta, disc_delta
    queue = list(pending)
    while queue or fresh:
        if queue:
            brk = queue.pop(0)
        else:
            avail = fresh.pop(0)
            b = avail.brk
            if tracked and (tracked[-1].end_seq is None or b.start_sequence < tracked[-1].end_seq):
                continue  # overlapping markers: the open avail wins
            if b.start_index < count:
                seg = segments[b.start_index]
                origin_dseq_before = seg.discontinuity_sequence - (1 if seg.discontinuity else 0)
                pdt = seg.program_date_time
            else:
                last = segments[-1]
                origin_dseq_before = last.discontinuity_sequence
                pdt = None if last.program_date_time is None else last.program_date_time + last.duration
            filled = avail.filled and bool(avail.ads)
            behind = options.suppress_behind_edge_s
            if behind is not None and window_end - b.start_time > behind:
                filled = False
            brk = LiveBreak(b.id, b.start_sequence, filled, sd, dd, origin_dseq_before, pdt, b.start_sequence, 0.0,
                            planned_duration=b.duration)  # fmt: skip
        avail = detected.get(brk.id)
        if avail is None and brk.end_seq is None:
            # Its markers are gone from the origin: content has resumed after what we saw.
            end_seq = max(brk.anchor_seq + 1, first_seq)
            end_i = by_seq.get(end_seq)
            if end_i is not None:
                brk = _close(brk, end_seq, _offset(brk, segments, end_i, by_seq, target, None), None, plan,
                             options, segments[end_i])  # fmt: skip
        elapsed = avail.brk.cue.elapsed if avail is not None and avail.brk.cue is not None else None
        hi = last_seq if brk.end_seq is None else brk.end_seq - 1
        lo = max(brk.start_seq, first_seq)
        if lo <= hi and lo in by_seq and hi in by_seq:
            last_i = by_seq[hi]
            brk = replace(brk, anchor_seq=hi, anchor_offset=_offset(brk, segments, last_i, by_seq, target, elapsed))
        if brk.end_seq is None and avail is not None and avail.brk.end_index is not None:
            end_i = avail.brk.end_index
            if end_i < count:
                brk = _close(brk, segments[end_i].sequence, _offset(brk, segments, end_i, by_seq, target, elapsed),
                             avail, plan, options, segments[end_i])  # fmt: skip
        tracked.append(brk)
        if brk.end_seq is not None:
            sd, dd = brk.seq_delta_after, brk.disc_delta_after  # type: ignore[assignment]

    def delta_at(seq: int) -> tuple[int, int]:
        s, d = seq_delta, disc_delta
        for b in tracked:
            if b.end_seq is not None and b.end_seq <= seq:
                s, d = b.seq_delta_after, b.disc_delta_after  # type: ignore[assignment]
        return s, d

    # The replaced span of each filled avail in this window, by index of its first segment.
    spans: dict[int, tuple[LiveBreak, int]] = {}
    for brk in tracked:
        if not brk.filled:
            continue
        lo = max(brk.start_seq, first_seq)
        hi = last_seq if brk.end_seq is None else min(brk.end_seq - 1, last_seq)
        if lo <= hi and lo in by_seq and hi in by_seq:
            spans[by_seq[lo]] = (brk, by_seq[hi])

    body: list[str] = []
    w = _Writer(origin.url, options, body, segments[0].program_date_time is not None)
    out_first: tuple[int, int, bool] | None = None  # (media sequence, discontinuity sequence, tagged)
    index = 0
    while index < count:
        span = spans.get(index)
        if span is None:
            seg = segments[index]
            s, d = delta_at(seg.sequence)
            vseq = seg.sequence + s
            if out_first is None:
                out_first = (vseq, seg.discontinuity_sequence + d, seg.discontinuity)
            w.content(seg, chunks[index], vseq, 0.0, not body)
            index += 1
            continue
        brk, last_i = span
        avail = detected[brk.id]
        elapsed = avail.brk.cue.elapsed if avail.brk.cue is not None else None
        cov_start = 0.0 if brk.start_seq >= first_seq else _offset(brk, segments, index, by_seq, target, elapsed)
        if brk.duration is not None:
            cov_end = brk.duration
        else:
            cov_end = _offset(brk, segments, last_i, by_seq, target, elapsed) + segments[last_i].duration
        entries = schedule(avail, options.target, plan.slate, max(cov_end, avail.brk.duration))
        items = _item_sizes(entries)
        dseq = brk.dseq_before
        for k, entry in enumerate(entries):
            if entry.first:
                dseq += 1
            if entry.end <= cov_start + _TOL or entry.end > cov_end + _TOL:
                continue
            if out_first is None:
                out_first = (brk.start_seq + brk.seq_delta_before + k, dseq, entry.first)
            pdt = None if brk.start_pdt is None else brk.start_pdt + entry.start
            w.ad(avail, entry, len(entries), pdt, not body, items[entry.ad_index])
        index = last_i + 1
    assert out_first is not None
    vseq0, dseq0, tagged = out_first
    tagged = bool(body) and body[0] == _DISC
    head = _header(playlist, target, vseq0, dseq0 - (1 if tagged else 0), True)
    tail = [t for t in playlist.trailing_tags if not _is_marker(t)]
    if playlist.endlist:
        tail.append("#" + v.EXT_X_ENDLIST)
    return "\n".join(head + body + tail) + "\n", LiveState(target, seq_delta, disc_delta, tuple(tracked))


def live_breaks(playlist: MediaPlaylist, state: LiveState, offsets: CueOffsets | None = None) -> tuple[Break, ...]:
    """`find_breaks` for a live refresh: an avail whose CUE-OUT slid out of the window keeps
    the id it had when it started (so its decision is found again)."""
    breaks = find_breaks(playlist, offsets)
    if not playlist.segments:
        return breaks
    first = playlist.segments[0].sequence
    out = []
    for brk in breaks:
        if brk.cue is not None and not brk.cue.has_start:
            match = next((k for k in state.breaks if k.start_seq <= first and (k.end_seq is None or k.end_seq > first)), None)
            if match is not None:
                brk = replace(brk, id=match.id, start_sequence=match.start_seq)
        out.append(brk)
    ids = {b.id for b in out}
    last = playlist.segments[-1].sequence
    for known in state.breaks:
        # Known avails still on screen whose markers are all gone stay planned.
        if known.id in ids or known.start_seq > last or (known.end_seq is not None and known.end_seq <= first):
            continue
        out.append(Break(known.id, MID, 0, None, 0.0, known.planned_duration, "state", known.start_seq))
    return tuple(sorted(out, key=lambda b: b.start_sequence))


def _close(brk: LiveBreak, end_seq: int, duration: float, avail: Avail | None, plan: Plan,
           options: StitchOptions, end_seg: Segment) -> LiveBreak:  # fmt: skip
    replaced = end_seq - brk.start_seq
    if not brk.filled or avail is None:
        return replace(brk, end_seq=end_seq, duration=duration, seq_delta_after=brk.seq_delta_before,
                       disc_delta_after=brk.disc_delta_before)  # fmt: skip
    entries = [e for e in schedule(avail, options.target, plan.slate, duration) if e.end <= duration + _TOL]
    starts = sum(1 for e in entries if e.first)
    forced = 1 if (entries or end_seg.discontinuity) else 0
    disc_after = brk.dseq_before + starts + forced - end_seg.discontinuity_sequence
    return replace(brk, end_seq=end_seq, duration=duration,
                   seq_delta_after=brk.seq_delta_before + len(entries) - replaced,
                   disc_delta_after=disc_after)  # fmt: skip

__all__ = [
    "AdRef",
    "LiveBreak",
    "LiveState",
    "Origin",
    "OriginCache",
    "StitchOptions",
    "direct_uri",
    "live_breaks",
    "prepare",
    "schedule",
    "stitch",
    "stitch_live",
]
