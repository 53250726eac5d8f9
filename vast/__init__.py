"""VAST and VMAP as data: a model, a renderer per version, a hardened parser, wrapper
resolution with the fetcher injected, macros, and the address guard shared with SSAI.

Pure Python with lxml; no I/O of its own (fetching, firing and the clock are passed in).

    render(vast, "4.2") -> str              parse(data) -> VAST
    render_vmap(vmap) -> str                parse_vmap(data) -> VMAP
    pod_to_vast(pod, tracking=..., ...)     WrapperResolver(fetch, fire=...).resolve_url(url)
    expand(url, values) / MacroContext      is_public_address(ip, allow)
"""

from .errors import (
    FetchFailed,
    FetchRefused,
    VastError,
    VastSchemaError,
    VastVersionUnsupported,
    VastXmlError,
    WrapperError,
    WrapperLimitReached,
    WrapperLoop,
    WrapperNoAds,
    WrapperTimeout,
)
from .from_pod import pod_to_vast
from .macros import MacroContext, expand, with_error_code
from .merge import merge_wrapper
from .model import (
    VAST,
    VMAP,
    Ad,
    AdBreak,
    AdParameters,
    AdSource,
    AdSystem,
    AdTagURI,
    Category,
    ClickThrough,
    ClickTracking,
    ClosedCaptionFile,
    Creative,
    CustomClick,
    ExecutableResource,
    Impression,
    InLine,
    InteractiveCreativeFile,
    JavaScriptResource,
    Linear,
    MediaFile,
    Mezzanine,
    Pricing,
    RawXml,
    Survey,
    Tracking,
    UniversalAdId,
    Verification,
    ViewableImpression,
    Wrapper,
)
from .netguard import AddressPolicy, is_public_address
from .parse import parse
from .render import no_fill, render
from .safexml import Limits
from .vmap import parse_vmap, render_vmap
from .vocabulary import DEFAULT_VERSION, VERSIONS, ErrorCode, VmapErrorCode
from .wrappers import Failure, Resolution, TagCache, WrapperPolicy, WrapperResolver

__all__ = [
    "DEFAULT_VERSION", "VAST", "VERSIONS", "VMAP", "Ad", "AdBreak", "AdParameters",
    "AdSource", "AdSystem", "AdTagURI", "AddressPolicy", "Category", "ClickThrough",
    "ClickTracking", "ClosedCaptionFile", "Creative", "CustomClick", "ErrorCode",
    "ExecutableResource", "Failure", "FetchFailed", "FetchRefused", "Impression", "InLine",
    "InteractiveCreativeFile", "JavaScriptResource", "Limits", "Linear", "MacroContext",
    "MediaFile", "Mezzanine", "Pricing", "RawXml", "Resolution", "Survey", "TagCache",
    "Tracking", "UniversalAdId", "VastError", "VastSchemaError", "VastVersionUnsupported",
    "VastXmlError", "Verification", "ViewableImpression", "VmapErrorCode", "Wrapper",
    "WrapperError", "WrapperLimitReached", "WrapperLoop", "WrapperNoAds", "WrapperPolicy",
    "WrapperResolver", "WrapperTimeout", "expand", "is_public_address", "merge_wrapper",
    "no_fill", "parse", "parse_vmap", "pod_to_vast", "render", "render_vmap",
    "with_error_code",
]
