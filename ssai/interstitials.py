"""HLS Interstitials output (draft-pantos-hls-rfc8216bis Appendix D): the content playlist
untouched but for one `EXT-X-DATERANGE CLASS="com.apple.hls.interstitial"` per avail, whose
X-ASSET-LIST points at an asset-list JSON the gateway serves; the player plays the ads."""

from __future__ import annotations

from collections.abc import Callable

from ssai import vocabulary as v
from ssai.plan import POST, PRE, AdMedia, Avail, Plan
from ssai.playlist import format_duration, format_pdt, quote
from ssai.stitch import Origin, _header, _is_marker

# Interstitials need a date timeline (§D.1); content without one gets an anchor at epoch 0.
_ANCHOR = 0.0


def render(origin: Origin, plan: Plan, asset_list_uri: Callable[[Avail], str], anchor: float = _ANCHOR) -> str:
    playlist = origin.playlist
    segments = playlist.segments
    has_pdt = bool(segments) and segments[0].program_date_time is not None
    base_pdt = segments[0].program_date_time if has_pdt else anchor
    by_index: dict[int, list[Avail]] = {}
    for avail in plan.avails:
        if avail.filled and avail.ads:
            by_index.setdefault(avail.brk.start_index, []).append(avail)
    body: list[str] = []
    count = len(segments)
    for index in range(count + 1):
        if index < count:
            seg = segments[index]
            if index == 0 and not has_pdt:
                body.append(f"#{v.EXT_X_PROGRAM_DATE_TIME}:{format_pdt(base_pdt)}")
        for avail in by_index.get(index, ()):
            body.append(daterange(avail, base_pdt, playlist.is_live, asset_list_uri(avail)))
        if index < count:
            if seg.discontinuity:
                body.append("#" + v.EXT_X_DISCONTINUITY)
            if seg.pdt_tag and seg.program_date_time is not None:
                body.append(f"#{v.EXT_X_PROGRAM_DATE_TIME}:{format_pdt(seg.program_date_time)}")
            body.append(origin.chunks[index])
    head = _header(playlist, playlist.target_duration, playlist.media_sequence, playlist.discontinuity_sequence,
                   playlist.is_live)  # fmt: skip
    tail = [t for t in playlist.trailing_tags if not _is_marker(t)]
    if playlist.endlist:
        tail.append("#" + v.EXT_X_ENDLIST)
    return "\n".join(head + body + tail) + "\n"


def daterange(avail: Avail, base_pdt: float, live: bool, asset_list: str) -> str:
    brk = avail.brk
    start = base_pdt + brk.start_time
    duration = sum(a.duration_s for a in avail.ads)
    attrs = [
        f"ID={quote(avail.id)}",
        f"CLASS={quote(v.INTERSTITIAL_CLASS)}",
        f"START-DATE={quote(format_pdt(start))}",
        f"DURATION={format_duration(duration)}",
        f"{v.X_ASSET_LIST}={quote(asset_list)}",
        # VOD inserts (resume where we left); live replaces the signalled span.
        f"{v.X_RESUME_OFFSET}={format_duration(brk.duration if live else 0.0)}",
        f'{v.X_RESTRICT}="SKIP,JUMP"',
    ]
    if not live and brk.position in (PRE, POST):
        attrs.append(f'CUE="{"PRE" if brk.position == PRE else "POST"}"')
    return f"#{v.EXT_X_DATERANGE}:" + ",".join(attrs)


def asset_list(avail: Avail, asset_uri: Callable[[AdMedia], str]) -> dict:
    """The X-ASSET-LIST document: `{"ASSETS": [{"URI", "DURATION"}]}` (§D.3)."""
    return {"ASSETS": [{"URI": asset_uri(ad), "DURATION": round(ad.duration_s, 3)} for ad in avail.ads]}
