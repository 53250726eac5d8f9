"""Server-side ad insertion for HLS: parse, detect markers, plan, stitch (text in, text
out), interstitials, tracking, sessions. No I/O but the session store."""

from ssai.errors import MarkerError, PlanError, PlaylistError, Scte35Error, SessionError, SsaiError
from ssai.markers import Cue, detect
from ssai.plan import (
    AdMedia,
    AdVariant,
    Avail,
    Break,
    CueOffsets,
    FillPolicy,
    Plan,
    TrackingEvent,
    find_breaks,
    make_avail,
    make_plan,
)
from ssai.playlist import (
    MediaPlaylist,
    MultivariantPlaylist,
    parse,
    parse_media,
    parse_multivariant,
    render_multivariant,
)
from ssai.rendition import Target, choose, targets
from ssai.stitch import (
    AdRef,
    LiveState,
    Origin,
    OriginCache,
    StitchOptions,
    prepare,
    stitch,
    stitch_live,
)
from ssai.timeline import LiveAnchor, anchor_of, avail_starts, preroll_break, with_preroll

__all__ = [
    "AdMedia", "AdRef", "LiveAnchor", "anchor_of", "avail_starts", "preroll_break", "with_preroll", "AdVariant", "Avail", "Break", "Cue", "CueOffsets", "FillPolicy", "LiveState",
    "MarkerError", "MediaPlaylist", "MultivariantPlaylist", "Origin", "OriginCache", "Plan", "PlanError",
    "PlaylistError", "Scte35Error", "SessionError", "SsaiError", "StitchOptions", "Target", "TrackingEvent",
    "choose", "detect", "find_breaks", "make_avail", "make_plan", "parse", "parse_media",
    "parse_multivariant", "prepare", "render_multivariant", "stitch", "stitch_live", "targets",
]  # fmt: skip
