"""From the decision engine's `Pod` to the VAST model.

The gateway passes the pod and, per ad (keyed by `PlacedAd.imp_id`), the signed beacon URLs
it minted; this module only arranges them. Programmatic ads (`Creative.vast_tag_url`) become
Wrapper ads unless the gateway resolved them server-side and passes the InLine in
`resolved`, in which case our trackers are merged into it like an outer wrapper's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from decision.pod import Creative as PodCreative
from decision.pod import MediaRendition, PlacedAd, Pod

from .merge import merge_wrapper
from .model import (
    VAST,
    Ad,
    AdSystem,
    Category,
    ClickThrough,
    ClickTracking,
    Creative,
    Impression,
    InLine,
    Linear,
    MediaFile,
    Mezzanine,
    Pricing,
    Tracking,
    UniversalAdId,
    Verification,
    Wrapper,
)
from .vocabulary import DEFAULT_VERSION

DEFAULT_AD_SYSTEM = AdSystem("ctv-ad-gateway", "0.1")
# IAB Tech Lab content taxonomy, the list `Creative.iab_category` codes (IAB1-1…) come from.
CATEGORY_AUTHORITY = "https://iabtechlab.com/standards/content-taxonomy/"
HLS_MIME = "application/x-mpegURL"

Urls = Mapping[str, Sequence[str]]
_NONE: Mapping = MappingProxyType({})


def pod_to_vast(
    pod: Pod,
    *,
    tracking: Mapping[str, Mapping[str, Sequence[str]]] = _NONE,
    impression_urls: Urls = _NONE,
    error_urls: Urls = _NONE,
    click_urls: Urls = _NONE,
    verifications: Mapping[str, Sequence[Verification]] = _NONE,
    resolved: Mapping[str, Ad] = _NONE,
    version: str = DEFAULT_VERSION,
    base_url: str | None = None,
    ad_system: AdSystem = DEFAULT_AD_SYSTEM,
    include_pricing: bool = False,
    no_fill_errors: Sequence[str] = (),
) -> VAST:
    """One `Ad` per `PlacedAd`, in pod order, `sequence` from the pod.

    `tracking[imp_id][event]` lists URLs per VAST tracking event; the keys `impression`,
    `click` and `error` there are treated like `impression_urls`/`click_urls`/`error_urls`.
    Events the target version does not know are dropped by the renderer. URLs starting with
    `/` are made absolute by prefixing `base_url` (kept whole, so a gateway published
    under a path prefix keeps it); without `base_url` such a URL is a `ValueError`."""
    if not pod.ads:
        return VAST(version=version, errors=tuple(_abs(u, base_url) for u in no_fill_errors))
    ads = tuple(
        _ad(placed, tracking.get(placed.imp_id, _NONE), impression_urls.get(placed.imp_id, ()),
            error_urls.get(placed.imp_id, ()), click_urls.get(placed.imp_id, ()),
            tuple(verifications.get(placed.imp_id, ())), resolved.get(placed.imp_id),
            base_url, ad_system, include_pricing)
        for placed in pod.ads
    )
    return VAST(version=version, ads=ads)


def _abs(url: str, base_url: str | None) -> str:
    if url.startswith("/") and not url.startswith("//"):
        if base_url is None:
            raise ValueError(f"relative URL {url[:100]!r} needs base_url")
        return base_url.rstrip("/") + url
    return url


def _ad(placed: PlacedAd, events: Mapping[str, Sequence[str]], impressions: Sequence[str],
        errors: Sequence[str], clicks: Sequence[str], verifications: tuple[Verification, ...],
        resolved: Ad | None, base: str | None, ad_system: AdSystem,
        include_pricing: bool) -> Ad:
    imp_urls = [*impressions, *events.get("impression", ())]
    err_urls = [*errors, *events.get("error", ())]
    click_urls = [*clicks, *events.get("click", ())]
    rows = tuple(Tracking(event, _abs(u, base)) for event, urls in events.items()
                 if event not in ("impression", "error", "click") for u in urls)
    imps = tuple(Impression(_abs(u, base)) for u in imp_urls)
    errs = tuple(_abs(u, base) for u in err_urls)
    click_rows = tuple(ClickTracking(_abs(u, base)) for u in click_urls)
    c = placed.creative
    pricing = None
    if include_pricing:
        micros = placed.price_micros
        fraction = f"{micros % 1_000_000:06d}".rstrip("0").ljust(2, "0")
        pricing = Pricing(f"{micros // 1_000_000}.{fraction}", "CPM", placed.currency)

    if resolved is not None or c.vast_tag_url:
        ours = Wrapper(
            ad_system=ad_system,
            vast_ad_tag_uri=_abs(c.vast_tag_url or "", base),
            impressions=imps,
            errors=errs,
            verifications=verifications,
            pricing=pricing,
            creatives=(Creative(id=c.id, linear=Linear(tracking=rows, click_tracking=click_rows)),),
            follow_additional_wrappers=True,
            allow_multiple_ads=False,
            fallback_on_no_ad=False,
        )
        if resolved is not None:
            merged = merge_wrapper(resolved, ours)
            return Ad(merged.body, id=merged.id or placed.imp_id, sequence=placed.sequence,
                      ad_type=merged.ad_type, conditional_ad=merged.conditional_ad)
        return Ad(ours, id=placed.imp_id, sequence=placed.sequence)

    linear = Linear(
        duration=c.duration_s,
        media_files=_media_files(c, base),
        mezzanines=(_mezzanine(c.mezzanine, base),) if c.mezzanine is not None else (),
        tracking=rows,
        click_through=ClickThrough(_abs(c.click_through, base)) if c.click_through else None,
        click_tracking=click_rows,
    )
    uaids = ((UniversalAdId(c.universal_ad_id, c.universal_ad_id_registry),)
             if c.universal_ad_id else ())
    body = InLine(
        ad_system=ad_system,
        ad_title=c.title or c.id,
        impressions=imps,
        creatives=(Creative(id=c.id, sequence=1, linear=linear, universal_ad_ids=uaids),),
        errors=errs,
        ad_serving_id=placed.imp_id,
        advertiser=placed.advertiser_name or c.advertiser_domain or None,
        pricing=pricing,
        categories=(Category(c.iab_category, CATEGORY_AUTHORITY),) if c.iab_category else (),
        verifications=verifications,
    )
    return Ad(body, id=placed.imp_id, sequence=placed.sequence)


def _media_files(c: PodCreative, base: str | None) -> tuple[MediaFile, ...]:
    files = [
        MediaFile(url=_abs(m.url, base), delivery=m.delivery, type=m.mime, width=m.width,
                  height=m.height, bitrate=m.bitrate_kbps or None, codec=m.codec)
        for m in c.media
    ]
    if c.hls_url:
        w, h = 1920, 1080
        sized = [v.resolution for v in c.hls_variants if v.resolution]
        if sized:
            w, h = max(sized)
        files.append(MediaFile(url=_abs(c.hls_url, base), delivery="streaming", type=HLS_MIME,
                               width=w, height=h))
    if not files:
        raise ValueError(f"creative {c.id!r} has no media file, HLS rendition or VAST tag")
    return tuple(files)


def _mezzanine(m: MediaRendition, base: str | None) -> Mezzanine:
    return Mezzanine(url=_abs(m.url, base), delivery=m.delivery, type=m.mime, width=m.width,
                     height=m.height, codec=m.codec)
