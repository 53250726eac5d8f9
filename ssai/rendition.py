"""Which ad variant plays in which content rendition.

A content video variant gets the ad variant with matching codecs nearest in bandwidth, then
in resolution (MediaTailor's rule). A demuxed audio rendition gets the ad's audio rendition
(else its lowest variant); a subtitle rendition gets empty cues over each ad, so every
rendition has the same discontinuities (RFC 8216 §6.2.2 requires them to line up).
"""

from __future__ import annotations

from dataclasses import dataclass

from ssai.plan import AdMedia, AdVariant
from ssai.playlist import MultivariantPlaylist

VIDEO, AUDIO, SUBTITLES = "video", "audio", "subtitles"


@dataclass(frozen=True, slots=True)
class Target:
    """One content media playlist that ads are stitched into."""

    kind: str = VIDEO  # video (muxed or video-only) | audio | subtitles
    bandwidth: int = 0
    resolution: tuple[int, int] | None = None
    codecs: str | None = None
    group_id: str | None = None
    language: str | None = None


def _families(codecs: str | None) -> frozenset[str]:
    if not codecs:
        return frozenset()
    return frozenset(c.strip().split(".")[0].lower() for c in codecs.split(",") if c.strip())


def _video_family(codecs: str | None) -> frozenset[str]:
    return frozenset(f for f in _families(codecs) if not f.startswith(("mp4a", "ac-3", "ec-3", "opus")))


def choose(ad: AdMedia, target: Target) -> AdVariant | None:
    """The ad variant for `target`; None for subtitles (the stitcher writes gaps)."""
    if target.kind == SUBTITLES:
        return None
    if target.kind == AUDIO:
        if ad.audio:
            return min(ad.audio, key=lambda a: abs(a.bandwidth - target.bandwidth))
        return min(ad.variants, key=lambda a: a.bandwidth)
    wanted = _video_family(target.codecs)
    pool = [a for a in ad.variants if not wanted or not _families(a.codecs) or _video_family(a.codecs) == wanted]
    pool = pool or list(ad.variants)
    width, height = target.resolution or (0, 0)

    def distance(a: AdVariant) -> tuple[int, int]:
        w, h = a.resolution or (0, 0)
        return abs(a.bandwidth - target.bandwidth), abs(w * h - width * height)

    return min(pool, key=distance)


def targets(playlist: MultivariantPlaylist) -> tuple[tuple[str, Target], ...]:
    """(URI, Target) for every media playlist of a multivariant playlist: variants first,
    then the audio and subtitle renditions that have a URI."""
    out: list[tuple[str, Target]] = []
    for variant in playlist.variants:
        out.append((variant.uri, Target(VIDEO, variant.bandwidth, variant.resolution, variant.codecs)))
    for rendition in playlist.renditions:
        if rendition.uri is None:
            continue
        if rendition.type == "AUDIO":
            users = [v.bandwidth for v in playlist.variants if v.audio == rendition.group_id]
            bandwidth = min(users) if users else 0
            out.append((rendition.uri, Target(AUDIO, bandwidth, None, None, rendition.group_id, rendition.language)))
        elif rendition.type == "SUBTITLES":
            out.append((rendition.uri, Target(SUBTITLES, 0, None, None, rendition.group_id, rendition.language)))
    return tuple(out)
