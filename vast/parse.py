"""Hardened, lenient VAST parser: third-party bytes in, the `VAST` model out.

Loading is `safexml.load` (no entities, no network, no DTD, DOCTYPE refused, size and depth
capped). Reading is lenient the way players are: any element order, elements in the VAST 4
namespace, in the namespace vmap.xsd uses, or in none (namespace-less 4.x is common), and
unknown elements ignored. What cannot be read raises a `VastError` carrying its VAST code:
100 for XML, 101 for a document that is not usable VAST, 102 for VAST 1 or an unknown
version. Nothing else escapes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator
from typing import Any

from lxml import etree

from . import safexml
from .errors import VastError, VastSchemaError, VastVersionUnsupported
from .model import (
    VAST,
    Ad,
    AdParameters,
    AdSystem,
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
from .safexml import DEFAULT_LIMITS, Limits
from .vocabulary import AD_VERIFICATIONS_EXTENSION, VAST_NS, VIDEOSUITE_VAST_NS

_VAST_NAMESPACES = frozenset({VAST_NS, VIDEOSUITE_VAST_NS})
_VERSION = re.compile(r"\s*(\d+)(?:\.(\d+))?(?:\.\d+)*\s*$")
_CLOCK = re.compile(r"\s*(\d+):([0-5]?\d):([0-5]?\d)(?:\.(\d{1,9}))?\s*$")
_KNOWN_4 = {0: "4.0", 1: "4.1", 2: "4.2", 3: "4.3"}


def parse(data: bytes | str, *, limits: Limits = DEFAULT_LIMITS) -> VAST:
    """Parse a VAST document (2.0 to 4.3)."""
    return parse_element(safexml.load(data, limits))


def parse_element(root: etree._Element) -> VAST:
    """Parse an already loaded `<VAST>` element (e.g. from inside a VMAP)."""
    try:
        return _vast(root)
    except VastError:
        raise
    except (ValueError, TypeError, RecursionError) as exc:
        # Values the model refuses (e.g. RawXml) after the XML itself was fine.
        raise VastSchemaError(f"unusable VAST: {exc}") from None


def version_of(root: etree._Element) -> str:
    name = _vast_local(root)
    if name == "VideoAdServingTemplate":
        raise VastVersionUnsupported("VAST 1.0 (VideoAdServingTemplate) is not supported")
    if name != "VAST":
        raise VastSchemaError(f"root element is {safexml.local_name(root.tag)!r}, not VAST")
    raw = root.get("version")
    if raw is None:
        raise VastSchemaError("VAST/@version is missing")
    m = _VERSION.match(raw)
    if not m:
        raise VastVersionUnsupported(f"VAST version {raw[:20]!r} is not supported")
    major, minor = int(m.group(1)), int(m.group(2) or 0)
    if major == 2:
        return "2.0"
    if major == 3:
        return "3.0"
    if major == 4 and minor in _KNOWN_4:
        return _KNOWN_4[minor]
    raise VastVersionUnsupported(f"VAST version {raw[:20]!r} is not supported")


def _vast(root: etree._Element) -> VAST:
    version = version_of(root)
    ads: list[Ad] = []
    errors: list[str] = []
    for child, name in _children(root):
        if name == "Ad":
            ads.append(_ad(child))
        elif name == "Error":
            _append_url(errors, child)
    return VAST(version=version, ads=tuple(ads), errors=tuple(errors))


# --- small readers ------------------------------------------------------------------------

def _vast_local(el: etree._Element) -> str | None:
    tag = el.tag
    if not isinstance(tag, str):
        return None
    if tag[:1] == "{":
        ns, _, local = tag[1:].partition("}")
        return local if ns in _VAST_NAMESPACES else None
    return tag


def _children(el: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    for child in el:
        name = _vast_local(child)
        if name is not None:
            yield child, name


def _text(el: etree._Element) -> str:
    return "".join(el.itertext()).strip()


def _opt_text(el: etree._Element) -> str | None:
    return _text(el) or None


def _append_url(into: list[str], el: etree._Element) -> None:
    url = _text(el)
    if url:
        into.append(url)


def _attr(el: etree._Element, name: str) -> str | None:
    v = el.get(name)
    if v is None:
        return None
    v = v.strip()
    return v or None


def _int(el: etree._Element, name: str) -> int | None:
    v = el.get(name)
    if v is None:
        return None
    try:
        return int(v.strip())
    except ValueError:
        # Lenient like players: a malformed optional number is treated as absent.
        try:
            return int(float(v))
        except (ValueError, OverflowError):
            return None


def _bool(el: etree._Element, name: str) -> bool | None:
    v = el.get(name)
    if v is None:
        return None
    v = v.strip().lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    return None


def parse_clock(value: str) -> float | None:
    """`HH:MM:SS(.mmm)` -> seconds, or None."""
    m = _CLOCK.match(value)
    if not m:
        return None
    h, mi, s, frac = m.groups()
    ms = int((frac or "0")[:3].ljust(3, "0"))
    return (int(h) * 3_600_000 + int(mi) * 60_000 + int(s) * 1000 + ms) / 1000


def raw(el: etree._Element) -> RawXml:
    """The element as pass-through markup, VAST-namespace elements unqualified."""
    c = copy.deepcopy(el)
    for e in c.iter():
        tag = e.tag
        if isinstance(tag, str) and tag[:1] == "{":
            ns, _, local = tag[1:].partition("}")
            if ns in _VAST_NAMESPACES:
                e.tag = local
    etree.cleanup_namespaces(c)
    c.tail = None
    return RawXml(etree.tostring(c, encoding="unicode"))


# --- Ad, InLine, Wrapper --------------------------------------------------------------------

def _ad(el: etree._Element) -> Ad:
    body: InLine | Wrapper | None = None
    for child, name in _children(el):
        if name == "InLine":
            body = _inline(child)
            break
        if name == "Wrapper":
            body = _wrapper(child)
            break
    if body is None:
        raise VastSchemaError("Ad holds neither InLine nor Wrapper")
    ad_type = _attr(el, "adType")
    return Ad(body=body, id=_attr(el, "id"), sequence=_int(el, "sequence"),
              ad_type=ad_type, conditional_ad=_bool(el, "conditionalAd"))


def _common(el: etree._Element, acc: dict[str, Any], handlers: dict[str, Callable]) -> None:
    for child, name in _children(el):
        handler = handlers.get(name)
        if handler is not None:
            handler(child, acc)


def _h_ad_system(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["ad_system"] = AdSystem(_text(el), _attr(el, "version"))


def _h_error(el: etree._Element, acc: dict[str, Any]) -> None:
    _append_url(acc["errors"], el)


def _h_impression(el: etree._Element, acc: dict[str, Any]) -> None:
    url = _text(el)
    if url:
        acc["impressions"].append(Impression(url, _attr(el, "id")))


def _h_pricing(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["pricing"] = Pricing(_text(el), el.get("model", "").strip(), el.get("currency", "").strip())


def _h_viewable(el: etree._Element, acc: dict[str, Any]) -> None:
    lists: dict[str, list[str]] = {"Viewable": [], "NotViewable": [], "ViewUndetermined": []}
    for child, name in _children(el):
        if name in lists:
            _append_url(lists[name], child)
    acc["viewable_impression"] = ViewableImpression(
        _attr(el, "id"), tuple(lists["Viewable"]), tuple(lists["NotViewable"]),
        tuple(lists["ViewUndetermined"]))


def _h_verifications(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["verifications"].extend(_verification(v) for v, n in _children(el) if n == "Verification")


def _verification(el: etree._Element) -> Verification:
    js: list[JavaScriptResource] = []
    exe: list[ExecutableResource] = []
    tracking: list[Tracking] = []
    params = None
    for child, name in _children(el):
        url = _text(child)
        if name == "JavaScriptResource" and url:
            js.append(JavaScriptResource(url, _attr(child, "apiFramework"),
                                         _bool(child, "browserOptional")))
        elif name == "ExecutableResource" and url:
            exe.append(ExecutableResource(url, _attr(child, "apiFramework"), _attr(child, "type")))
        elif name == "TrackingEvents":
            tracking.extend(_tracking(child))
        elif name == "VerificationParameters":
            params = "".join(child.itertext())
    return Verification(_attr(el, "vendor"), tuple(js), tuple(exe), tuple(tracking), params)


def _h_extensions(el: etree._Element, acc: dict[str, Any]) -> None:
    for child, name in _children(el):
        if name != "Extension":
            continue
        if child.get("type") == AD_VERIFICATIONS_EXTENSION:
            # Open Measurement's carrier for VAST before 4.1 (see vocabulary).
            for inner, inner_name in _children(child):
                if inner_name == "AdVerifications":
                    _h_verifications(inner, acc)
            continue
        acc["extensions"].append(raw(child))


def _h_creatives(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["creatives"].extend(_creative(c) for c, n in _children(el) if n == "Creative")


def _h_category(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["categories"].append(Category(_text(el), _attr(el, "authority")))


def _h_blocked(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["blocked_ad_categories"].append(Category(_text(el), _attr(el, "authority")))


def _h_text(field: str) -> Callable[[etree._Element, dict[str, Any]], None]:
    def handler(el: etree._Element, acc: dict[str, Any]) -> None:
        acc[field] = _opt_text(el)
    return handler


def _h_survey(el: etree._Element, acc: dict[str, Any]) -> None:
    url = _text(el)
    if url:
        acc["survey"] = Survey(url, _attr(el, "type"))


def _h_expires(el: etree._Element, acc: dict[str, Any]) -> None:
    try:
        acc["expires"] = int(_text(el))
    except ValueError:
        acc["expires"] = None


def _h_tag_uri(el: etree._Element, acc: dict[str, Any]) -> None:
    acc["vast_ad_tag_uri"] = _text(el)


_COMMON = {
    "AdSystem": _h_ad_system,
    "Error": _h_error,
    "Impression": _h_impression,
    "Pricing": _h_pricing,
    "ViewableImpression": _h_viewable,
    "AdVerifications": _h_verifications,
    "Extensions": _h_extensions,
    "Creatives": _h_creatives,
}
_INLINE = _COMMON | {
    "AdTitle": _h_text("ad_title"),
    "AdServingId": _h_text("ad_serving_id"),
    "Description": _h_text("description"),
    "Advertiser": _h_text("advertiser"),
    "Survey": _h_survey,
    "Category": _h_category,
    "Expires": _h_expires,
}
_WRAPPER = _COMMON | {
    "VASTAdTagURI": _h_tag_uri,
    "BlockedAdCategories": _h_blocked,
}


def _accumulator() -> dict[str, Any]:
    return {"impressions": [], "errors": [], "creatives": [], "verifications": [],
            "extensions": [], "categories": [], "blocked_ad_categories": []}


def _inline(el: etree._Element) -> InLine:
    acc = _accumulator()
    _common(el, acc, _INLINE)
    return InLine(
        ad_system=acc.get("ad_system") or AdSystem(""),
        ad_title=acc.get("ad_title") or "",
        impressions=tuple(acc["impressions"]),
        creatives=tuple(acc["creatives"]),
        errors=tuple(acc["errors"]),
        ad_serving_id=acc.get("ad_serving_id"),
        description=acc.get("description"),
        advertiser=acc.get("advertiser"),
        pricing=acc.get("pricing"),
        survey=acc.get("survey"),
        categories=tuple(acc["categories"]),
        verifications=tuple(acc["verifications"]),
        viewable_impression=acc.get("viewable_impression"),
        expires=acc.get("expires"),
        extensions=tuple(acc["extensions"]),
    )


def _wrapper(el: etree._Element) -> Wrapper:
    acc = _accumulator()
    _common(el, acc, _WRAPPER)
    uri = acc.get("vast_ad_tag_uri")
    if not uri:
        raise VastSchemaError("Wrapper without VASTAdTagURI")
    return Wrapper(
        ad_system=acc.get("ad_system") or AdSystem(""),
        vast_ad_tag_uri=uri,
        impressions=tuple(acc["impressions"]),
        creatives=tuple(acc["creatives"]),
        errors=tuple(acc["errors"]),
        pricing=acc.get("pricing"),
        verifications=tuple(acc["verifications"]),
        viewable_impression=acc.get("viewable_impression"),
        blocked_ad_categories=tuple(acc["blocked_ad_categories"]),
        extensions=tuple(acc["extensions"]),
        follow_additional_wrappers=_bool(el, "followAdditionalWrappers"),
        allow_multiple_ads=_bool(el, "allowMultipleAds"),
        fallback_on_no_ad=_bool(el, "fallbackOnNoAd"),
    )


# --- Creative, Linear ----------------------------------------------------------------------

def _creative(el: etree._Element) -> Creative:
    linear = None
    uaids: list[UniversalAdId] = []
    companions = nonlinears = extensions = None
    for child, name in _children(el):
        if name == "Linear":
            linear, linear_ext = _linear(child)
            extensions = extensions or linear_ext
        elif name == "UniversalAdId":
            # 4.0 carries the id in @idValue, 4.1+ in the text.
            value = _text(child) or (child.get("idValue") or "").strip()
            uaids.append(UniversalAdId(value, (child.get("idRegistry") or "unknown").strip()))
        elif name == "CompanionAds":
            companions = raw(child)
        elif name == "NonLinearAds":
            nonlinears = raw(child)
        elif name == "CreativeExtensions":
            extensions = raw(child)
    ad_id = _attr(el, "adId") or _attr(el, "AdID")
    return Creative(id=_attr(el, "id"), sequence=_int(el, "sequence"), ad_id=ad_id,
                    api_framework=_attr(el, "apiFramework"), linear=linear,
                    universal_ad_ids=tuple(uaids), companion_ads=companions,
                    nonlinear_ads=nonlinears, creative_extensions=extensions)


def _tracking(el: etree._Element) -> Iterator[Tracking]:
    for child, name in _children(el):
        if name == "Tracking":
            url = _text(child)
            event = (child.get("event") or "").strip()
            if url and event:
                yield Tracking(event, url, _attr(child, "offset"))


def _linear(el: etree._Element) -> tuple[Linear, RawXml | None]:
    duration = None
    media: list[MediaFile] = []
    mezz: list[Mezzanine] = []
    interactive: list[InteractiveCreativeFile] = []
    captions: list[ClosedCaptionFile] = []
    tracking: list[Tracking] = []
    click_through = None
    click_tracking: list[ClickTracking] = []
    custom: list[CustomClick] = []
    ad_parameters = icons = extensions = None
    for child, name in _children(el):
        if name == "Duration":
            text = _text(child)
            duration = parse_clock(text)
            if duration is None and text:
                raise VastSchemaError(f"Linear Duration {text[:40]!r} is not HH:MM:SS(.mmm)")
        elif name == "TrackingEvents":
            tracking.extend(_tracking(child))
        elif name == "VideoClicks":
            for c, n in _children(child):
                url = _text(c)
                if not url:
                    continue
                if n == "ClickThrough":
                    click_through = ClickThrough(url, _attr(c, "id"))
                elif n == "ClickTracking":
                    click_tracking.append(ClickTracking(url, _attr(c, "id")))
                elif n == "CustomClick":
                    custom.append(CustomClick(url, _attr(c, "id")))
        elif name == "MediaFiles":
            _media_files(child, media, mezz, interactive, captions)
        elif name == "AdParameters":
            ad_parameters = AdParameters("".join(child.itertext()), _bool(child, "xmlEncoded"))
        elif name == "Icons":
            icons = raw(child)
        elif name == "CreativeExtensions":
            extensions = raw(child)
    linear = Linear(
        duration=duration, media_files=tuple(media), mezzanines=tuple(mezz),
        interactive_creative_files=tuple(interactive), closed_caption_files=tuple(captions),
        tracking=tuple(tracking), click_through=click_through,
        click_tracking=tuple(click_tracking), custom_clicks=tuple(custom),
        skip_offset=_attr(el, "skipoffset"), ad_parameters=ad_parameters, icons=icons,
    )
    return linear, extensions


def _media_files(el: etree._Element, media: list[MediaFile], mezz: list[Mezzanine],
                 interactive: list[InteractiveCreativeFile],
                 captions: list[ClosedCaptionFile]) -> None:
    for child, name in _children(el):
        if name == "ClosedCaptionFiles":
            for cc, n in _children(child):
                url = _text(cc)
                if n == "ClosedCaptionFile" and url:
                    captions.append(ClosedCaptionFile(url, _attr(cc, "type"),
                                                      _attr(cc, "language")))
            continue
        url = _text(child)
        if not url:
            continue
        if name == "MediaFile":
            media.append(MediaFile(
                url=url, delivery=(child.get("delivery") or "progressive").strip(),
                type=(child.get("type") or "").strip(), width=_int(child, "width") or 0,
                height=_int(child, "height") or 0, id=_attr(child, "id"),
                codec=_attr(child, "codec"), bitrate=_int(child, "bitrate"),
                min_bitrate=_int(child, "minBitrate"), max_bitrate=_int(child, "maxBitrate"),
                scalable=_bool(child, "scalable"),
                maintain_aspect_ratio=_bool(child, "maintainAspectRatio"),
                file_size=_int(child, "fileSize"), media_type=_attr(child, "mediaType"),
                api_framework=_attr(child, "apiFramework"),
            ))
        elif name == "Mezzanine":
            # VAST 4.0 writes only the URL; 4.1 adds the attributes.
            mezz.append(Mezzanine(
                url=url, delivery=(child.get("delivery") or "progressive").strip(),
                type=(child.get("type") or "video/mp4").strip(),
                width=_int(child, "width") or 0, height=_int(child, "height") or 0,
                id=_attr(child, "id"), codec=_attr(child, "codec"),
                file_size=_int(child, "fileSize"), media_type=_attr(child, "mediaType"),
            ))
        elif name == "InteractiveCreativeFile":
            interactive.append(InteractiveCreativeFile(
                url, _attr(child, "type"), _attr(child, "apiFramework"),
                _bool(child, "variableDuration")))
