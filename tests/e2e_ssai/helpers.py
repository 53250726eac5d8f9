"""Reading what the gateway emits: ad blocks of a stitched media playlist."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ssai.playlist import MediaPlaylist, parse_media

SEG = re.compile(r"/v1/sessions/(?P<sid>[^/]+)/seg/(?P<avail>[^/]+)/(?P<ad>[^/]+)/(?P<seg>\d+)(?P<ext>\.\w+)?\?v=(?P<v>\d+)$")


@dataclass(frozen=True)
class AdBlock:
    avail: str
    ad: str
    start: float  # on the stitched timeline
    duration: float
    segments: tuple[int, ...]
    variant: int
    discontinuity: bool  # the block starts with EXT-X-DISCONTINUITY


def ad_blocks(playlist: MediaPlaylist | str) -> list[AdBlock]:
    if isinstance(playlist, str):
        playlist = parse_media(playlist)
    blocks: list[AdBlock] = []
    for seg in playlist.segments:
        m = SEG.search(seg.uri)
        if m is None:
            continue
        last = blocks[-1] if blocks else None
        if last is not None and (last.avail, last.ad) == (m["avail"], m["ad"]) and not seg.discontinuity:
            blocks[-1] = AdBlock(last.avail, last.ad, last.start, last.duration + seg.duration,
                                 (*last.segments, int(m["seg"])), last.variant, last.discontinuity)  # fmt: skip
        else:
            blocks.append(AdBlock(m["avail"], m["ad"], seg.start, seg.duration, (int(m["seg"]),), int(m["v"]),
                                  seg.discontinuity))  # fmt: skip
    return blocks
