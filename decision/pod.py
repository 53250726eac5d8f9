"""What the engine decides: a `Pod` of `PlacedAd`s for one ad break.

These types are the seam between `decision` and its consumers (`vast` rendering,
`ssai` stitching, `beacons` tokens, the simulator). Add fields with defaults; do not
rename or remove fields.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class MediaRendition:
    """A progressive or streaming MP4 (or mezzanine) file of a creative."""

    url: str
    mime: str = "video/mp4"
    width: int = 1920
    height: int = 1080
    bitrate_kbps: int = 0
    delivery: str = "progressive"  # progressive | streaming
    codec: str | None = None


@dataclass(frozen=True, slots=True)
class HlsVariant:
    """One variant of a creative's HLS rendition set (for stitching)."""

    uri: str
    bandwidth: int
    resolution: tuple[int, int] | None = None
    codecs: str | None = None


@dataclass(frozen=True, slots=True)
class Creative:
    id: str
    duration_s: float
    advertiser_domain: str
    iab_category: str
    universal_ad_id: str = ""
    universal_ad_id_registry: str = "ad-id.org"
    title: str = ""
    click_through: str | None = None
    mezzanine: MediaRendition | None = None
    media: tuple[MediaRendition, ...] = ()
    hls_url: str | None = None
    hls_variants: tuple[HlsVariant, ...] = ()
    # programmatic: the ad comes from a third-party VAST tag resolved at serve time
    vast_tag_url: str | None = None


@dataclass(frozen=True, slots=True)
class BreakSpec:
    """One ad break to fill."""

    break_id: str
    duration_s: float
    position: str = "mid"  # pre | mid | post
    offset_s: float | None = None  # content time of the break, when known
    max_ads: int | None = None


@dataclass(frozen=True, slots=True)
class ShownAd:
    """Who showed what: competitive separation needs the category and labels *per
    advertiser* (a flat list cannot say which advertiser owns a category)."""

    advertiser_id: str
    iab_category: str | None = None
    exclusion_labels: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StreamHistory:
    """What this session/stream already showed, for `stream`-scope caps and separation.

    Build it with `extended(placed_ads)`, which fills both the id lists (caps) and
    `shown` (separation). A history with an empty `shown` (hand-made) is read as one
    whose categories and labels belong to all its advertisers."""

    creative_ids: tuple[str, ...] = ()
    line_item_ids: tuple[str, ...] = ()
    campaign_ids: tuple[str, ...] = ()
    advertiser_ids: tuple[str, ...] = ()
    iab_categories: tuple[str, ...] = ()
    exclusion_labels: tuple[str, ...] = ()
    shown: tuple[ShownAd, ...] = ()

    def extended(self, ads: Iterable[PlacedAd]) -> StreamHistory:
        ads = tuple(ads)
        if not ads:
            return self
        return StreamHistory(
            self.creative_ids + tuple(a.creative.id for a in ads),
            self.line_item_ids + tuple(a.line_item_id for a in ads),
            self.campaign_ids + tuple(a.campaign_id for a in ads),
            self.advertiser_ids + tuple(a.advertiser_id for a in ads),
            self.iab_categories + tuple(a.creative.iab_category for a in ads if a.creative.iab_category),
            self.exclusion_labels + tuple(x for a in ads for x in a.exclusion_labels),
            self.shown + tuple(ShownAd(a.advertiser_id, a.creative.iab_category or None, a.exclusion_labels)
                               for a in ads),
        )


@dataclass(frozen=True, slots=True)
class PlacedAd:
    imp_id: str  # the ad instance; also the VAST 4.1+ AdServingId and the beacon key
    sequence: int  # 1-based position in the pod
    line_item_id: str
    campaign_id: str
    advertiser_id: str
    creative: Creative
    price_micros: int  # clearing price, CPM in micros
    tier: str  # sponsorship | standard | programmatic | house
    currency: str = "USD"
    offset_s: float = 0.0  # start of this ad within the break
    advertiser_name: str = ""
    exclusion_labels: tuple[str, ...] = ()
    # the predictions that placed this ad and what made them (`name@version` of a model,
    # else the fallback: "priors", "constant" or the tier), for calibration against outcomes
    p_complete: float | None = None
    p_click: float | None = None
    complete_model: str = ""
    click_model: str = ""


@dataclass(frozen=True, slots=True)
class Pod:
    pod_id: str
    break_spec: BreakSpec
    ads: tuple[PlacedAd, ...] = ()
    trace: Any = None  # decision trace (see decision/trace.py), None unless asked for
    fallback_tier: str = "T3"  # model tier that served the scores (T0..T3)
    solver: str = ""  # podding: "dp" | "greedy"
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def filled_s(self) -> float:
        return sum(ad.creative.duration_s for ad in self.ads)

    @property
    def underfill_s(self) -> float:
        return max(0.0, self.break_spec.duration_s - self.filled_s)
