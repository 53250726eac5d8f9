"""The demo origin: fixture media under `fixtures/media` (made by fixtures/make_media.py)
and a live sliding window computed from the clock alone.

The live stream loops the 60 s content; each loop carries two avails signalled with
Elemental-style CUE-OUT / CUE-OUT-CONT / CUE-IN. Segment N (since the Unix epoch, one every
2 s) is published once it is complete; a discontinuity marks every loop wrap.
"""

from __future__ import annotations

from pathlib import Path

from ssai.playlist import format_pdt

MEDIA_ROOT = Path(__file__).resolve().parents[1] / "fixtures" / "media"
SEGMENT_S = 2
LOOP_SEGMENTS = 30  # 60 s of content
LADDER = ((320, 180, 110_000), (480, 270, 150_000), (640, 360, 220_000))
CODECS = "avc1.42c01e,mp4a.40.2"
# (first segment index in the loop, number of segments) of each avail
LIVE_BREAKS = ((10, 5), (20, 8))
AD_NAMES = ("ad-10a", "ad-15a", "ad-15b", "ad-20a", "ad-30a", "ad-30b")


def media_root() -> Path:
    return MEDIA_ROOT


def master(prefix: str = "") -> str:
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for i, (w, h, bw) in enumerate(LADDER):
        lines += [f'#EXT-X-STREAM-INF:BANDWIDTH={bw},RESOLUTION={w}x{h},CODECS="{CODECS}"', f"{prefix}v{i}.m3u8"]
    return "\n".join(lines) + "\n"


def live_master() -> str:
    return master()


def _markers(loop_index: int) -> list[str]:
    for start, length in LIVE_BREAKS:
        duration = length * SEGMENT_S
        if loop_index == start:
            return [f"#EXT-X-CUE-OUT:DURATION={duration}"]
        if start < loop_index < start + length:
            elapsed = (loop_index - start) * SEGMENT_S
            return [f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed},Duration={duration}"]
        if loop_index == start + length:
            return ["#EXT-X-CUE-IN"]
    return []


def live_playlist(now: float, variant: int, window: int = 10) -> str:
    """The live media playlist of `variant` at Unix time `now` (a pure function)."""
    if not 0 <= variant < len(LADDER):
        raise ValueError(f"no variant {variant}")
    last = int(now // SEGMENT_S) - 1
    first = max(0, last - window + 1)
    wraps_before = (first - 1) // LOOP_SEGMENTS if first > 0 else 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_S}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{wraps_before}",
    ]
    for n in range(first, last + 1):
        loop_index = n % LOOP_SEGMENTS
        if loop_index == 0 and n > 0:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.extend(_markers(loop_index))
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{format_pdt(n * SEGMENT_S)}")
        lines += [f"#EXTINF:{SEGMENT_S}.000,", f"../vod/v{variant}/seg_{loop_index:03d}.ts"]
    return "\n".join(lines) + "\n"
