"""What each VAST version's XSD allows, as data the renderer follows.

Element orders are the `xs:sequence` orders of the IAB schemas (vast_2.0.1.xsd,
vast3_draft.xsd, vast4.xsd, vast_4.1.xsd, vast_4.2.xsd; 4.3 uses 4.2's). Where a schema
uses `xs:all` (4.0/4.1 Creative) any order validates and the 4.2 order is used. Flags say
which optional elements and attributes the version declares.
"""

from __future__ import annotations

from dataclasses import dataclass

from .vocabulary import TRACKING_EVENTS_BY_VERSION, VAST_NS, VERSIONS


@dataclass(frozen=True, slots=True)
class Profile:
    version: str
    namespace: str | None
    tracking_events: frozenset[str]
    ad_attributes: tuple[str, ...]
    ad_id_required: bool
    inline_order: tuple[str, ...]
    wrapper_order: tuple[str, ...]
    linear_inline_order: tuple[str, ...]
    linear_wrapper_order: tuple[str, ...]
    clicks_inline_order: tuple[str, ...]
    clicks_wrapper_order: tuple[str, ...]
    # MediaFile codec/minBitrate/maxBitrate (3.0+), fileSize/mediaType (4.1+)
    media_codec_bitrate_range: bool
    media_file_size_type: bool
    # "none" (2.0/3.0), "uri" (4.0: one xs:anyURI), "full" (4.1+: attributes, repeatable)
    mezzanine: str
    # 2.0/3.0 schemas: one Creative holds exactly one of Linear/CompanionAds/NonLinearAds
    creative_is_choice: bool
    creative_ad_id_attribute: str
    max_errors: int | None
    # 0: none (2.0/3.0); 1: exactly one (4.0/4.1); None: one or more (4.2+)
    max_universal_ad_ids: int | None
    universal_ad_id_value_attribute: bool
    # "native": <AdVerifications> (4.1+); "extension": Extension type="AdVerifications"
    verifications: str
    root_errors: bool
    wrapper_flags: bool
    tracking_offset: bool
    skip_offset_inline: bool
    skip_offset_wrapper: bool
    impression_id_in_wrapper: bool
    pricing_in_wrapper: bool
    pricing_lower_case: bool
    survey_type: bool
    ad_parameters_xml_encoded: bool
    interactive_variable_duration: bool
    wrapper_creatives_required: bool

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


_BASE_4 = ("AdSystem", "Error", "Extensions", "Impression", "Pricing", "ViewableImpression")

_V2_0 = Profile(
    version="2.0",
    namespace=None,
    tracking_events=TRACKING_EVENTS_BY_VERSION["2.0"],
    ad_attributes=("id",),
    ad_id_required=True,
    inline_order=("AdSystem", "AdTitle", "Description", "Survey", "Error", "Impression",
                  "Creatives", "Extensions"),
    wrapper_order=("AdSystem", "VASTAdTagURI", "Error", "Impression", "Creatives", "Extensions"),
    linear_inline_order=("Duration", "TrackingEvents", "AdParameters", "VideoClicks", "MediaFiles"),
    linear_wrapper_order=("TrackingEvents", "VideoClicks"),
    clicks_inline_order=("ClickThrough", "ClickTracking", "CustomClick"),
    clicks_wrapper_order=("ClickTracking",),
    media_codec_bitrate_range=False,
    media_file_size_type=False,
    mezzanine="none",
    creative_is_choice=True,
    creative_ad_id_attribute="AdID",
    max_errors=1,
    max_universal_ad_ids=0,
    universal_ad_id_value_attribute=False,
    verifications="extension",
    root_errors=False,
    wrapper_flags=False,
    tracking_offset=False,
    skip_offset_inline=False,
    skip_offset_wrapper=False,
    impression_id_in_wrapper=False,
    pricing_in_wrapper=False,
    pricing_lower_case=True,
    survey_type=False,
    ad_parameters_xml_encoded=False,
    interactive_variable_duration=False,
    wrapper_creatives_required=True,
)

_V3_0 = Profile(
    version="3.0",
    namespace=None,
    tracking_events=TRACKING_EVENTS_BY_VERSION["3.0"],
    ad_attributes=("id", "sequence"),
    ad_id_required=False,
    inline_order=("AdSystem", "AdTitle", "Description", "Advertiser", "Pricing", "Survey",
                  "Error", "Impression", "Creatives", "Extensions"),
    wrapper_order=("AdSystem", "VASTAdTagURI", "Error", "Impression", "Creatives", "Extensions"),
    linear_inline_order=("Icons", "CreativeExtensions", "Duration", "TrackingEvents",
                         "AdParameters", "VideoClicks", "MediaFiles"),
    linear_wrapper_order=("CreativeExtensions", "Icons", "TrackingEvents", "VideoClicks"),
    clicks_inline_order=("ClickThrough", "ClickTracking", "CustomClick"),
    clicks_wrapper_order=("ClickTracking", "CustomClick"),
    media_codec_bitrate_range=True,
    media_file_size_type=False,
    mezzanine="none",
    creative_is_choice=True,
    creative_ad_id_attribute="AdID",
    max_errors=1,
    max_universal_ad_ids=0,
    universal_ad_id_value_attribute=False,
    verifications="extension",
    root_errors=False,
    wrapper_flags=False,
    tracking_offset=True,
    skip_offset_inline=True,
    skip_offset_wrapper=False,
    impression_id_in_wrapper=False,
    pricing_in_wrapper=False,
    pricing_lower_case=True,
    survey_type=False,
    ad_parameters_xml_encoded=True,
    interactive_variable_duration=False,
    wrapper_creatives_required=True,
)

_V4_0 = Profile(
    version="4.0",
    namespace=VAST_NS,
    tracking_events=TRACKING_EVENTS_BY_VERSION["4.0"],
    ad_attributes=("id", "sequence", "conditionalAd"),
    ad_id_required=False,
    inline_order=_BASE_4 + ("AdTitle", "AdVerifications", "Advertiser", "Category", "Creatives",
                            "Description", "Survey"),
    wrapper_order=_BASE_4 + ("AdVerifications", "Creatives", "VASTAdTagURI"),
    linear_inline_order=("Icons", "TrackingEvents", "AdParameters", "Duration", "MediaFiles",
                         "VideoClicks"),
    linear_wrapper_order=("Icons", "TrackingEvents", "VideoClicks"),
    clicks_inline_order=("ClickTracking", "CustomClick", "ClickThrough"),
    clicks_wrapper_order=("ClickTracking", "CustomClick"),
    media_codec_bitrate_range=True,
    media_file_size_type=False,
    mezzanine="uri",
    creative_is_choice=False,
    creative_ad_id_attribute="adId",
    max_errors=None,
    max_universal_ad_ids=1,
    universal_ad_id_value_attribute=True,
    # 4.0's <Verification> lacks TrackingEvents and VerificationParameters, which
    # measurement needs; Open Measurement asks for the Extension form before 4.1.
    verifications="extension",
    root_errors=True,
    wrapper_flags=True,
    tracking_offset=True,
    skip_offset_inline=True,
    skip_offset_wrapper=True,
    impression_id_in_wrapper=True,
    pricing_in_wrapper=True,
    pricing_lower_case=False,
    survey_type=True,
    ad_parameters_xml_encoded=True,
    interactive_variable_duration=False,
    wrapper_creatives_required=False,
)

_V4_1 = Profile(
    version="4.1",
    namespace=VAST_NS,
    tracking_events=TRACKING_EVENTS_BY_VERSION["4.1"],
    ad_attributes=("id", "sequence", "conditionalAd", "adType"),
    ad_id_required=False,
    inline_order=_BASE_4 + ("AdServingId", "AdTitle", "AdVerifications", "Advertiser", "Category",
                            "Creatives", "Description", "Expires", "Survey"),
    wrapper_order=_BASE_4 + ("AdVerifications", "BlockedAdCategories", "Creatives",
                             "VASTAdTagURI"),
    linear_inline_order=("Icons", "TrackingEvents", "AdParameters", "Duration", "MediaFiles",
                         "VideoClicks"),
    linear_wrapper_order=("Icons", "TrackingEvents", "VideoClicks"),
    clicks_inline_order=("ClickTracking", "CustomClick", "ClickThrough"),
    clicks_wrapper_order=("ClickTracking", "CustomClick"),
    media_codec_bitrate_range=True,
    media_file_size_type=True,
    mezzanine="full",
    creative_is_choice=False,
    creative_ad_id_attribute="adId",
    max_errors=None,
    max_universal_ad_ids=1,
    universal_ad_id_value_attribute=False,
    verifications="native",
    root_errors=True,
    wrapper_flags=True,
    tracking_offset=True,
    skip_offset_inline=True,
    skip_offset_wrapper=True,
    impression_id_in_wrapper=True,
    pricing_in_wrapper=True,
    pricing_lower_case=False,
    survey_type=True,
    ad_parameters_xml_encoded=True,
    interactive_variable_duration=True,
    wrapper_creatives_required=False,
)


def _v4_2(version: str) -> Profile:
    return Profile(
        version=version,
        namespace=VAST_NS,
        tracking_events=TRACKING_EVENTS_BY_VERSION[version],
        ad_attributes=_V4_1.ad_attributes,
        ad_id_required=False,
        inline_order=_V4_1.inline_order,
        wrapper_order=_V4_1.wrapper_order,
        linear_inline_order=_V4_1.linear_inline_order,
        linear_wrapper_order=_V4_1.linear_wrapper_order,
        clicks_inline_order=("ClickTracking", "ClickThrough", "CustomClick"),
        clicks_wrapper_order=("ClickTracking", "ClickThrough", "CustomClick"),
        media_codec_bitrate_range=True,
        media_file_size_type=True,
        mezzanine="full",
        creative_is_choice=False,
        creative_ad_id_attribute="adId",
        max_errors=None,
        max_universal_ad_ids=None,
        universal_ad_id_value_attribute=False,
        verifications="native",
        root_errors=True,
        wrapper_flags=True,
        tracking_offset=True,
        skip_offset_inline=True,
        skip_offset_wrapper=True,
        impression_id_in_wrapper=True,
        pricing_in_wrapper=True,
        pricing_lower_case=False,
        survey_type=True,
        ad_parameters_xml_encoded=True,
        interactive_variable_duration=True,
        wrapper_creatives_required=False,
    )


PROFILES: dict[str, Profile] = {
    "2.0": _V2_0,
    "3.0": _V3_0,
    "4.0": _V4_0,
    "4.1": _V4_1,
    "4.2": _v4_2("4.2"),
    "4.3": _v4_2("4.3"),
}

def profile(version: str) -> Profile:
    try:
        return PROFILES[version]
    except KeyError:
        raise ValueError(f"unsupported VAST version {version!r}; one of {', '.join(VERSIONS)}") from None
