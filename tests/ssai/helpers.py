"""Shared builders for the ssai tests: ads from the demo media, fake ads, a plan."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ssai.demo import LADDER, media_root
from ssai.plan import AdMedia, AdVariant, TrackingEvent
from ssai.playlist import parse_media

HERE = Path(__file__).resolve().parent
FIXTURES = HERE / "fixtures"
GOLDEN = HERE / "golden"
MEDIA = media_root()


@cache
def demo_ad(name: str, base: str = "https://ads.example/demo/ads") -> AdMedia:
    variants = []
    for i, (w, h, bw) in enumerate(LADDER):
        text = (MEDIA / "ads" / name / f"v{i}.m3u8").read_text()
        uri = f"{base}/{name}/v{i}.m3u8" if base else str(MEDIA / "ads" / name / f"v{i}.m3u8")
        variants.append(AdVariant.from_playlist(uri, parse_media(text), bw, (w, h), "avc1.42c01e,mp4a.40.2"))
    tracking = tuple(TrackingEvent(e, (f"https://t.example/{name}/{e}",))
                     for e in ("impression", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete"))  # fmt: skip
    return AdMedia(f"imp-{name}", variants[0].duration, tuple(variants), f"cr-{name}", tracking)


@cache
def slate(base: str = "https://ads.example/demo/slate") -> AdMedia:
    variants = []
    for i, (w, h, bw) in enumerate(LADDER):
        text = (MEDIA / "slate" / f"v{i}.m3u8").read_text()
        uri = f"{base}/v{i}.m3u8" if base else str(MEDIA / "slate" / f"v{i}.m3u8")
        variants.append(AdVariant.from_playlist(uri, parse_media(text), bw, (w, h), "avc1.42c01e,mp4a.40.2"))
    return AdMedia("slate", variants[0].duration, tuple(variants), kind="slate")


def fake_ad(name: str, seconds: float, segment_s: float = 2.0, fmp4: bool = False) -> AdMedia:
    """A synthetic ad with the demo ladder (no media behind it)."""
    variants = []
    for i, (w, h, bw) in enumerate(LADDER):
        lines = ["#EXTM3U", "#EXT-X-VERSION:7" if fmp4 else "#EXT-X-VERSION:3",
                 f"#EXT-X-TARGETDURATION:{int(segment_s + 0.5)}", "#EXT-X-PLAYLIST-TYPE:VOD"]  # fmt: skip
        if fmp4:
            lines.append('#EXT-X-MAP:URI="init.mp4"')
        left, n = seconds, 0
        while left > 1e-6:
            d = min(segment_s, left)
            lines += [f"#EXTINF:{d:.3f},", f"s{n}.{'m4s' if fmp4 else 'ts'}"]
            left -= d
            n += 1
        lines.append("#EXT-X-ENDLIST")
        uri = f"https://ads.example/{name}/v{i}.m3u8"
        variants.append(AdVariant.from_playlist(uri, parse_media("\n".join(lines)), bw, (w, h), "avc1.42c01e,mp4a.40.2"))
    return AdMedia(f"imp-{name}", seconds, tuple(variants), f"cr-{name}")
