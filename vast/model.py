"""VAST and VMAP as data: frozen dataclasses, one per concept of the spec.

The model is version-neutral: it holds the union of what VAST 2.0 to 4.3 can say, and each
version's renderer writes the part its XSD allows. Elements the gateway never builds but
must carry through from third-party tags (companions, non-linear ads, icons, extensions)
are kept as `RawXml`, well-formed markup checked when the value is made.

Times are seconds (float) in the model; the renderer writes `HH:MM:SS.mmm`. URLs are kept
as written, macros such as `[ERRORCODE]` included.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import safexml
from .errors import VastXmlError
from .vocabulary import DEFAULT_VERSION, VMAP_VERSION


@dataclass(frozen=True, slots=True)
class RawXml:
    """One well-formed XML element kept verbatim (pass-through of parts we do not model).

    Elements of the VAST namespace are stored unqualified so that the markup takes the
    namespace of whatever document it is written into (none for 2.0/3.0, the VAST
    namespace for 4.x). Construction refuses anything that is not a single element."""

    markup: str

    def __post_init__(self) -> None:
        try:
            root = safexml.load(self.markup, safexml.Limits(max_bytes=1 << 20))
        except VastXmlError as exc:
            raise ValueError(f"RawXml must be one well-formed element: {exc}") from None
        del root

    @property
    def tag(self) -> str:
        return safexml.local_name(safexml.load(self.markup).tag) or ""


@dataclass(frozen=True, slots=True)
class AdSystem:
    name: str
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Impression:
    url: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Tracking:
    """A `<Tracking event=…>` URL. `offset` (VAST 3.0+) is for `progress` events:
    `HH:MM:SS(.mmm)` or a percentage."""

    event: str
    url: str
    offset: str | None = None


@dataclass(frozen=True, slots=True)
class ClickThrough:
    url: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class ClickTracking:
    url: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class CustomClick:
    url: str
    id: str | None = None


@dataclass(frozen=True, slots=True)
class UniversalAdId:
    """VAST 4.x creative identifier (4.0 §3.7.1). "unknown"/"unknown" when not known."""

    value: str
    id_registry: str = "unknown"


@dataclass(frozen=True, slots=True)
class Pricing:
    """`value` is the decimal as written (e.g. "25.00"); `model` cpm/cpc/cpe/cpv."""

    value: str
    model: str = "cpm"
    currency: str = "USD"


@dataclass(frozen=True, slots=True)
class Category:
    value: str
    authority: str | None = None


@dataclass(frozen=True, slots=True)
class Survey:
    url: str
    type: str | None = None


@dataclass(frozen=True, slots=True)
class ViewableImpression:
    id: str | None = None
    viewable: tuple[str, ...] = ()
    not_viewable: tuple[str, ...] = ()
    view_undetermined: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JavaScriptResource:
    url: str
    api_framework: str | None = None
    browser_optional: bool | None = None


@dataclass(frozen=True, slots=True)
class ExecutableResource:
    url: str
    api_framework: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Verification:
    """One `<AdVerifications><Verification>` (VAST 4.1 §3.16), passed through to the player."""

    vendor: str | None = None
    javascript_resources: tuple[JavaScriptResource, ...] = ()
    executable_resources: tuple[ExecutableResource, ...] = ()
    tracking: tuple[Tracking, ...] = ()
    parameters: str | None = None


@dataclass(frozen=True, slots=True)
class MediaFile:
    url: str
    delivery: str = "progressive"
    type: str = "video/mp4"
    width: int = 0
    height: int = 0
    id: str | None = None
    codec: str | None = None
    bitrate: int | None = None
    min_bitrate: int | None = None
    max_bitrate: int | None = None
    scalable: bool | None = None
    maintain_aspect_ratio: bool | None = None
    file_size: int | None = None
    media_type: str | None = None
    api_framework: str | None = None


@dataclass(frozen=True, slots=True)
class Mezzanine:
    """The raw, high-quality file a server-side stitcher transcodes (VAST 4.0 §3.9.2)."""

    url: str
    delivery: str = "progressive"
    type: str = "video/mp4"
    width: int = 0
    height: int = 0
    id: str | None = None
    codec: str | None = None
    file_size: int | None = None
    media_type: str | None = None


@dataclass(frozen=True, slots=True)
class InteractiveCreativeFile:
    url: str
    type: str | None = None
    api_framework: str | None = None
    variable_duration: bool | None = None


@dataclass(frozen=True, slots=True)
class ClosedCaptionFile:
    url: str
    type: str | None = None
    language: str | None = None


@dataclass(frozen=True, slots=True)
class AdParameters:
    value: str
    xml_encoded: bool | None = None


@dataclass(frozen=True, slots=True)
class Linear:
    """A linear creative. In an InLine `duration` is required and `media_files` non-empty;
    in a Wrapper only tracking, clicks and icons apply."""

    duration: float | None = None
    media_files: tuple[MediaFile, ...] = ()
    mezzanines: tuple[Mezzanine, ...] = ()
    interactive_creative_files: tuple[InteractiveCreativeFile, ...] = ()
    closed_caption_files: tuple[ClosedCaptionFile, ...] = ()
    tracking: tuple[Tracking, ...] = ()
    click_through: ClickThrough | None = None
    click_tracking: tuple[ClickTracking, ...] = ()
    custom_clicks: tuple[CustomClick, ...] = ()
    skip_offset: str | None = None
    ad_parameters: AdParameters | None = None
    icons: RawXml | None = None


@dataclass(frozen=True, slots=True)
class Creative:
    id: str | None = None
    sequence: int | None = None
    ad_id: str | None = None
    api_framework: str | None = None
    linear: Linear | None = None
    universal_ad_ids: tuple[UniversalAdId, ...] = ()
    companion_ads: RawXml | None = None
    nonlinear_ads: RawXml | None = None
    creative_extensions: RawXml | None = None


@dataclass(frozen=True, slots=True)
class InLine:
    ad_system: AdSystem
    ad_title: str
    impressions: tuple[Impression, ...] = ()
    creatives: tuple[Creative, ...] = ()
    errors: tuple[str, ...] = ()
    ad_serving_id: str | None = None
    description: str | None = None
    advertiser: str | None = None
    pricing: Pricing | None = None
    survey: Survey | None = None
    categories: tuple[Category, ...] = ()
    verifications: tuple[Verification, ...] = ()
    viewable_impression: ViewableImpression | None = None
    expires: int | None = None
    extensions: tuple[RawXml, ...] = ()


@dataclass(frozen=True, slots=True)
class Wrapper:
    """A redirect to another VAST tag whose trackers are added to the ad it leads to.
    The three flags are None when absent; VAST 4.2 §3.19.1 defaults are
    followAdditionalWrappers=true, allowMultipleAds=false, fallbackOnNoAd=false."""

    ad_system: AdSystem
    vast_ad_tag_uri: str
    impressions: tuple[Impression, ...] = ()
    creatives: tuple[Creative, ...] = ()
    errors: tuple[str, ...] = ()
    pricing: Pricing | None = None
    verifications: tuple[Verification, ...] = ()
    viewable_impression: ViewableImpression | None = None
    blocked_ad_categories: tuple[Category, ...] = ()
    extensions: tuple[RawXml, ...] = ()
    follow_additional_wrappers: bool | None = None
    allow_multiple_ads: bool | None = None
    fallback_on_no_ad: bool | None = None


@dataclass(frozen=True, slots=True)
class Ad:
    """`sequence` places the ad in a pod (VAST 3.0 §2.3.2); None is a stand-alone ad."""

    body: InLine | Wrapper
    id: str | None = None
    sequence: int | None = None
    ad_type: str | None = None
    conditional_ad: bool | None = None

    @property
    def is_wrapper(self) -> bool:
        return isinstance(self.body, Wrapper)


@dataclass(frozen=True, slots=True)
class VAST:
    """A VAST response. No ads is a no-fill; `errors` are the root Error URLs, which
    VAST 4.x allows only in a response without ads."""

    version: str = DEFAULT_VERSION
    ads: tuple[Ad, ...] = ()
    errors: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AdTagURI:
    url: str
    template_type: str = "vast3"


@dataclass(frozen=True, slots=True)
class AdSource:
    """Exactly one of `vast_ad_data` (inline VAST) and `ad_tag_uri` is set."""

    vast_ad_data: VAST | None = None
    ad_tag_uri: AdTagURI | None = None
    id: str | None = None
    allow_multiple_ads: bool | None = None
    follow_redirects: bool | None = None


@dataclass(frozen=True, slots=True)
class AdBreak:
    """VMAP 1.0.1 §2.4. `time_offset` is `start`, `end`, `HH:MM:SS(.mmm)`, `n%` or `#m`;
    `break_type` is `linear`, `nonlinear`, `display` or a comma list of them."""

    time_offset: str
    break_type: str = "linear"
    break_id: str | None = None
    repeat_after: str | None = None
    ad_source: AdSource | None = None
    tracking: tuple[Tracking, ...] = ()
    extensions: tuple[RawXml, ...] = ()


@dataclass(frozen=True, slots=True)
class VMAP:
    ad_breaks: tuple[AdBreak, ...] = ()
    version: str = VMAP_VERSION
