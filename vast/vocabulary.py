"""VAST/VMAP names: versions, namespaces, tracking events per version, error codes, macros.

The bottom of the package's import graph: plain constants, no behaviour. Event lists are the
`Tracking/@event` enumerations of each version's IAB XSD (vast_2.0.1.xsd, vast3_draft.xsd,
vast4.xsd, vast_4.1.xsd, vast_4.2.xsd); VAST 4.3 made no structural change from 4.2 (IAB
`schemas/README.md`: vast_4.3.xsd is "intentionally aligned with vast_4.2.xsd").
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final, Literal

VastVersion = Literal["2.0", "3.0", "4.0", "4.1", "4.2", "4.3"]
VERSIONS: Final[tuple[VastVersion, ...]] = ("2.0", "3.0", "4.0", "4.1", "4.2", "4.3")
DEFAULT_VERSION: Final[VastVersion] = "4.2"

# VAST 4.0 §3.1: "xmlns=http://www.iab.com/VAST"; 2.0 and 3.0 schemas have no target namespace.
VAST_NS: Final = "http://www.iab.com/VAST"
# The namespace vmap.xsd imports VAST 3 under; seen inside VMAP VASTAdData.
VIDEOSUITE_VAST_NS: Final = "http://www.iab.net/videosuite/vast"
VMAP_NS: Final = "http://www.iab.net/videosuite/vmap"
VMAP_VERSION: Final = "1.0"

# Element names (the parser dispatches on these, the renderer writes them).
VAST = "VAST"
AD = "Ad"
INLINE = "InLine"
WRAPPER = "Wrapper"
AD_SYSTEM = "AdSystem"
AD_TITLE = "AdTitle"
AD_SERVING_ID = "AdServingId"
ADVERTISER = "Advertiser"
DESCRIPTION = "Description"
SURVEY = "Survey"
ERROR = "Error"
IMPRESSION = "Impression"
PRICING = "Pricing"
CATEGORY = "Category"
BLOCKED_AD_CATEGORIES = "BlockedAdCategories"
EXPIRES = "Expires"
VIEWABLE_IMPRESSION = "ViewableImpression"
VIEWABLE = "Viewable"
NOT_VIEWABLE = "NotViewable"
VIEW_UNDETERMINED = "ViewUndetermined"
AD_VERIFICATIONS = "AdVerifications"
VERIFICATION = "Verification"
JAVASCRIPT_RESOURCE = "JavaScriptResource"
EXECUTABLE_RESOURCE = "ExecutableResource"
VERIFICATION_PARAMETERS = "VerificationParameters"
EXTENSIONS = "Extensions"
EXTENSION = "Extension"
CREATIVES = "Creatives"
CREATIVE = "Creative"
CREATIVE_EXTENSIONS = "CreativeExtensions"
UNIVERSAL_AD_ID = "UniversalAdId"
LINEAR = "Linear"
COMPANION_ADS = "CompanionAds"
NONLINEAR_ADS = "NonLinearAds"
ICONS = "Icons"
DURATION = "Duration"
TRACKING_EVENTS = "TrackingEvents"
TRACKING = "Tracking"
AD_PARAMETERS = "AdParameters"
VIDEO_CLICKS = "VideoClicks"
CLICK_THROUGH = "ClickThrough"
CLICK_TRACKING = "ClickTracking"
CUSTOM_CLICK = "CustomClick"
MEDIA_FILES = "MediaFiles"
MEDIA_FILE = "MediaFile"
MEZZANINE = "Mezzanine"
INTERACTIVE_CREATIVE_FILE = "InteractiveCreativeFile"
CLOSED_CAPTION_FILES = "ClosedCaptionFiles"
CLOSED_CAPTION_FILE = "ClosedCaptionFile"
VAST_AD_TAG_URI = "VASTAdTagURI"

VMAP = "VMAP"
AD_BREAK = "AdBreak"
AD_SOURCE = "AdSource"
VAST_AD_DATA = "VASTAdData"
AD_TAG_URI = "AdTagURI"

# Extension type under which AdVerifications travel before VAST 4.1 (IAB Open Measurement
# SDK, "VAST versions prior to 4.1": <Extension type="AdVerifications"><AdVerifications>).
AD_VERIFICATIONS_EXTENSION = "AdVerifications"

_EVENTS_2_0 = (
    "creativeView", "start", "midpoint", "firstQuartile", "thirdQuartile", "complete", "mute",
    "unmute", "pause", "rewind", "resume", "fullscreen", "expand", "collapse", "acceptInvitation",
    "close",
)
_EVENTS_3_0 = (
    "creativeView", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "mute",
    "unmute", "pause", "rewind", "resume", "fullscreen", "exitFullscreen", "expand", "collapse",
    "acceptInvitation", "close", "skip", "progress", "acceptInvitationLinear", "closeLinear",
)
_EVENTS_4_0 = (
    "mute", "unmute", "pause", "resume", "rewind", "skip", "playerExpand", "playerCollapse",
    "start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "acceptInvitationLinear",
    "timeSpentViewing", "progress", "creativeView", "acceptInvitation", "adExpand", "adCollapse",
    "minimize", "close", "overlayViewDuration", "otherAdInteraction",
)
_EVENTS_4_1 = (
    "mute", "unmute", "pause", "resume", "rewind", "skip", "playerExpand", "playerCollapse",
    "loaded", "start", "firstQuartile", "midpoint", "thirdQuartile", "complete", "progress",
    "closeLinear", "creativeView", "acceptInvitation", "adExpand", "adCollapse", "minimize",
    "close", "overlayViewDuration", "otherAdInteraction",
)
_EVENTS_4_2 = _EVENTS_4_1 + ("interactiveStart",)

TRACKING_EVENTS_BY_VERSION: Final[dict[str, frozenset[str]]] = {
    "2.0": frozenset(_EVENTS_2_0),
    "3.0": frozenset(_EVENTS_3_0),
    "4.0": frozenset(_EVENTS_4_0),
    "4.1": frozenset(_EVENTS_4_1),
    "4.2": frozenset(_EVENTS_4_2),
    "4.3": frozenset(_EVENTS_4_2),
}
ALL_TRACKING_EVENTS: Final = frozenset().union(*TRACKING_EVENTS_BY_VERSION.values())

# VMAP 1.0.1 §2.3.3: the only AdBreak tracking events.
VMAP_TRACKING_EVENTS: Final = frozenset({"breakStart", "breakEnd", "error"})
# vmap.xsd AdTagURI/@templateType; VMAP 1.0.1 predates VAST 4, whose tags go as "vast3".
VMAP_TEMPLATE_TYPES: Final = frozenset({"vast1", "vast2", "vast3", "proprietary"})

# Pricing/@model: VAST 3.0 allows lower case only, 4.x both cases.
PRICING_MODELS: Final = frozenset({"cpc", "cpm", "cpe", "cpv"})
DELIVERY_TYPES: Final = frozenset({"progressive", "streaming"})
AD_TYPES: Final = frozenset({"video", "audio", "hybrid"})


class ErrorCode(IntEnum):
    """VAST error codes (VAST 4.2 §2.3.6.3, "VAST Error Codes Table")."""

    XML_PARSE = 100
    SCHEMA_VALIDATION = 101
    VERSION_UNSUPPORTED = 102
    TRAFFICKING = 200
    UNEXPECTED_LINEARITY = 201
    UNEXPECTED_DURATION = 202
    UNEXPECTED_SIZE = 203
    CATEGORY_REQUIRED = 204
    CATEGORY_BLOCKED = 205
    BREAK_SHORTENED = 206
    WRAPPER_GENERAL = 300
    WRAPPER_TIMEOUT = 301
    WRAPPER_LIMIT = 302
    WRAPPER_NO_ADS = 303
    INLINE_DISPLAY_TIMEOUT = 304
    LINEAR_GENERAL = 400
    FILE_NOT_FOUND = 401
    MEDIA_TIMEOUT = 402
    MEDIA_UNSUPPORTED = 403
    MEDIA_DISPLAY = 405
    MEZZANINE_REQUIRED = 406
    MEZZANINE_DOWNLOADING = 407
    CONDITIONAL_AD_REJECTED = 408
    INTERACTIVE_NOT_EXECUTED = 409
    VERIFICATION_NOT_EXECUTED = 410
    MEZZANINE_SPEC = 411
    NONLINEAR_GENERAL = 500
    NONLINEAR_DIMENSIONS = 501
    NONLINEAR_FETCH = 502
    NONLINEAR_UNSUPPORTED = 503
    COMPANION_GENERAL = 600
    COMPANION_DIMENSIONS = 601
    COMPANION_REQUIRED = 602
    COMPANION_FETCH = 603
    COMPANION_UNSUPPORTED = 604
    UNDEFINED = 900
    VPAID_GENERAL = 901
    INTERACTIVE_GENERAL = 902


class VmapErrorCode(IntEnum):
    """VMAP 1.0.1 §2.5 error codes."""

    SCHEMA = 1000
    VERSION_UNSUPPORTED = 1001
    PARSE = 1002
    BREAK_TYPE_UNSUPPORTED = 1003
    AD_DOCUMENT_GENERAL = 1004
    TEMPLATE_TYPE_UNSUPPORTED = 1005
    AD_DOCUMENT_EXTRACTION = 1006
    AD_DOCUMENT_TIMEOUT = 1007
    AD_DOCUMENT_RETRIEVAL = 1008


# VAST 4.1 §6.2 macro names (without brackets). Substitution leaves any other name alone.
MACROS: Final = frozenset({
    "TIMESTAMP", "CACHEBUSTING",
    "CONTENTPLAYHEAD", "MEDIAPLAYHEAD", "BREAKPOSITION", "BLOCKEDADCATEGORIES", "ADCATEGORIES",
    "ADCOUNT", "TRANSACTIONID", "PLACEMENTTYPE", "ADTYPE", "UNIVERSALADID", "BREAKMAXDURATION",
    "BREAKMINDURATION", "BREAKMAXADS", "BREAKMINADLENGTH", "BREAKMAXADLENGTH",
    "IFA", "IFATYPE", "CLIENTUA", "SERVERUA", "DEVICEUA", "SERVERSIDE", "DEVICEIP", "LATLONG",
    "DOMAIN", "PAGEURL", "APPBUNDLE", "VASTVERSIONS", "APIFRAMEWORKS", "EXTENSIONS",
    "VERIFICATIONVENDORS", "OMIDPARTNER", "MEDIAMIME", "PLAYERCAPABILITIES", "CLICKTYPE",
    "PLAYERSTATE", "PLAYERSIZE", "ADPLAYHEAD", "ASSETURI", "CONTENTID", "CONTENTURI",
    "PODSEQUENCE", "ADSERVINGID", "CLICKPOS", "ERRORCODE", "REASON", "LIMITADTRACKING",
    "REGULATIONS", "GDPRCONSENT", "INVENTORYSTATE", "STOREID", "STOREURL",
})

# VAST 4.1 §4.2 "Server-side ad insertion": headers a server making the request on behalf
# of a device sends so the ad server sees the device, not the server.
HEADER_DEVICE_IP: Final = "X-Device-IP"
HEADER_DEVICE_UA: Final = "X-Device-User-Agent"
