"""Break planning: where the avails are (from markers, or from the session's cue offsets for
VOD without markers) and which ad media fills each one.

The decision engine (`decision.pod`) chooses the ads; this module turns its `Pod` plus the
ads' parsed HLS variants into `AdMedia` values and an `Avail` per break.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from decision.pod import BreakSpec, PlacedAd, Pod
from ssai.errors import MarkerError, PlanError
from ssai.markers import Cue, detect
from ssai.playlist import MediaPlaylist, Segment

PRE, MID, POST = "pre", "mid", "post"


@dataclass(frozen=True, slots=True)
class Break:
    id: str
    position: str  # pre | mid | post
    start_index: int  # index in the origin's segments where the avail starts
    end_index: int | None  # where content resumes (live); == start_index for VOD insertion
    start_time: float  # content seconds from the playlist start
    duration: float  # the avail to fill, seconds
    source: str  # cue-out | daterange | oatcls | splicepoint | cue-offset
    start_sequence: int = 0  # the origin media sequence number of the start segment
    cue: Cue | None = None

    def spec(self, max_ads: int | None = None) -> BreakSpec:
        """The decision engine's view of this break."""
        return BreakSpec(self.id, self.duration, self.position, self.start_time, max_ads)


@dataclass(frozen=True, slots=True)
class CueOffsets:
    """Pre/mid/post positions requested with the session, for VOD without markers."""

    pre: bool = False
    mids: tuple[float, ...] = ()
    post: bool = False
    duration_s: float = 30.0

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or any(m < 0 or m != m for m in self.mids):
            raise MarkerError("cue offsets and break duration must be positive numbers")


@dataclass(frozen=True, slots=True)
class AdVariant:
    uri: str  # the variant media playlist URL (segment URIs resolve against it)
    bandwidth: int
    segments: tuple[Segment, ...]
    resolution: tuple[int, int] | None = None
    codecs: str | None = None

    @classmethod
    def from_playlist(cls, uri: str, playlist: MediaPlaylist, bandwidth: int,
                      resolution: tuple[int, int] | None = None, codecs: str | None = None) -> AdVariant:  # fmt: skip
        if not playlist.segments:
            raise PlanError(f"ad variant {uri} has no segments")
        return cls(uri, bandwidth, playlist.segments, resolution, codecs)

    @property
    def duration(self) -> float:
        return self.segments[-1].end if self.segments else 0.0


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    event: str  # VAST event name: impression, start, firstQuartile, ...
    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AdMedia:
    ad_id: str  # the ad instance (PlacedAd.imp_id), or a slate/bumper name
    duration_s: float
    variants: tuple[AdVariant, ...]
    creative_id: str = ""
    tracking: tuple[TrackingEvent, ...] = ()
    audio: tuple[AdVariant, ...] = ()  # audio-only renditions for demuxed content
    kind: str = "ad"  # ad | slate | bumper
    placed: PlacedAd | None = None

    def __post_init__(self) -> None:
        if not self.variants:
            raise PlanError(f"ad {self.ad_id} has no HLS variant")
        if not self.duration_s > 0:
            raise PlanError(f"ad {self.ad_id} has no duration")

    @classmethod
    def from_placed(cls, ad: PlacedAd, variants: Sequence[AdVariant],
                    tracking: Sequence[TrackingEvent] = ()) -> AdMedia:  # fmt: skip
        return cls(ad.imp_id, ad.creative.duration_s, tuple(variants), ad.creative.id,
                   tuple(tracking), placed=ad)  # fmt: skip


@dataclass(frozen=True, slots=True)
class FillPolicy:
    slate: AdMedia | None = None  # fills live avails past the ads
    personalization_threshold_s: float | None = None  # abandon when underfill exceeds this
    suppress_behind_edge_s: float | None = None  # live: avails starting this far back stay content
    start_bumper: AdMedia | None = None
    end_bumper: AdMedia | None = None

    @property
    def bumpers_s(self) -> float:
        return sum(b.duration_s for b in (self.start_bumper, self.end_bumper) if b is not None)

    def ad_room(self, brk: Break) -> float:
        """Seconds of the break left for ads once the bumpers have their place."""
        return max(0.0, brk.duration - self.bumpers_s)


@dataclass(frozen=True, slots=True)
class Avail:
    brk: Break
    ads: tuple[AdMedia, ...]  # bumpers included, in play order
    pod_id: str = ""
    filled: bool = True  # False: the break keeps its content (abandoned or suppressed)

    @property
    def id(self) -> str:
        return self.brk.id

    @property
    def ads_duration(self) -> float:
        return sum(a.duration_s for a in self.ads)

    def offsets(self) -> tuple[float, ...]:
        """Start of each ad within the avail."""
        out, t = [], 0.0
        for ad in self.ads:
            out.append(t)
            t += ad.duration_s
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Plan:
    avails: tuple[Avail, ...] = ()
    slate: AdMedia | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def avail(self, break_id: str) -> Avail | None:
        return next((a for a in self.avails if a.brk.id == break_id), None)


def _position(index: int, count: int, live: bool) -> str:
    if index == 0 and not live:
        return PRE
    if index >= count and not live:
        return POST
    return MID


def breaks_from_cues(playlist: MediaPlaylist, cues: Sequence[Cue], default_duration: float = 30.0) -> tuple[Break, ...]:
    segments = playlist.segments
    count = len(segments)
    live = playlist.is_live
    out = []
    for cue in cues:
        start = cue.start_index
        time = segments[start].start if start < count else playlist.duration
        sequence = segments[start].sequence if start < count else playlist.media_sequence + count
        if cue.duration is not None:
            duration = cue.duration
        elif cue.end_index is not None and cue.end_index > start:
            end_time = segments[cue.end_index].start if cue.end_index < count else playlist.duration
            duration = end_time - time
        else:
            duration = default_duration
        if live:
            ident = cue.event_id or f"s{sequence}"
        else:
            ident = f"{_position(start, count, live)}-{time:.3f}"
        end = cue.end_index if live else start
        out.append(Break(ident, _position(start, count, live), start, end, time, duration,
                         cue.source, sequence, cue))  # fmt: skip
    return tuple(out)


def breaks_from_offsets(playlist: MediaPlaylist, offsets: CueOffsets) -> tuple[Break, ...]:
    """VOD without markers: snap each requested offset to the nearest segment boundary."""
    segments = playlist.segments
    count = len(segments)
    points: list[int] = []
    if offsets.pre:
        points.append(0)
    for mid in sorted(offsets.mids):
        if mid <= 0 or mid >= playlist.duration:
            continue
        index = min(range(count + 1), key=lambda i: abs((segments[i].start if i < count else playlist.duration) - mid))
        if 0 < index < count:
            points.append(index)
    if offsets.post:
        points.append(count)
    out, seen = [], set()
    for index in points:
        if index in seen:
            continue
        seen.add(index)
        time = segments[index].start if index < count else playlist.duration
        position = _position(index, count, False)
        out.append(Break(f"{position}-{time:.3f}", position, index, index, time, offsets.duration_s,
                         "cue-offset", playlist.media_sequence + index))  # fmt: skip
    return tuple(out)


def find_breaks(playlist: MediaPlaylist, offsets: CueOffsets | None = None) -> tuple[Break, ...]:
    """Markers first; a VOD playlist without markers uses the session's cue offsets."""
    cues = detect(playlist)
    if cues:
        return breaks_from_cues(playlist, cues, offsets.duration_s if offsets else 30.0)
    if offsets is not None and not playlist.is_live:
        return breaks_from_offsets(playlist, offsets)
    return ()


def make_avail(brk: Break, ads: Sequence[AdMedia], policy: FillPolicy = FillPolicy(),
               pod: Pod | None = None) -> Avail:  # fmt: skip
    """The avail for one break: bumpers around the ads; abandoned (content kept) when the
    underfill (what neither ads nor bumpers fill) passes the personalization threshold."""
    chosen = tuple(ads)
    underfill = policy.ad_room(brk) - sum(a.duration_s for a in chosen)
    filled = bool(chosen)
    threshold = policy.personalization_threshold_s
    if threshold is not None and underfill > threshold:
        filled = False
    if filled:
        if policy.start_bumper is not None:
            chosen = (policy.start_bumper, *chosen)
        if policy.end_bumper is not None:
            chosen = (*chosen, policy.end_bumper)
    return Avail(brk, chosen if filled else (), pod.pod_id if pod else brk.id, filled)


def make_plan(breaks: Sequence[Break], ads: Mapping[str, Sequence[AdMedia]],
              policy: FillPolicy = FillPolicy(), pods: Mapping[str, Pod] | None = None) -> Plan:  # fmt: skip
    """One avail per break (`ads` maps break id to its ads; a missing id is an empty break)."""
    pods = pods or {}
    avails = tuple(make_avail(b, ads.get(b.id, ()), policy, pods.get(b.id)) for b in breaks)
    return Plan(avails, policy.slate)
