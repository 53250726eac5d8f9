"""VMAP 1.0 (IAB VMAP 1.0.1): render and parse.

Rendered in the `vmap:` prefix of http://www.iab.net/videosuite/vmap (vmap.xsd's namespace).
Inline ad data is a VAST document of its own version inside `VASTAdData`, written without
a CDATA wrapper (VMAP 1.0.1 §2.4.2.1); its namespace is its own (none for 2.0/3.0, the VAST
namespace for 4.x), the form players and vmap-js read. Parsing accepts any VMAP namespace,
including the `http://www.iab.net/vmap-1.0` some servers write. VMAP errors carry the
VMAP 1.0.1 §2.5 codes (1000 schema, 1001 version, 1002 parse, 1006 inline VAST).
"""

from __future__ import annotations

from lxml import etree

from . import safexml
from .errors import VastError, VastSchemaError, VastVersionUnsupported, VastXmlError
from .escape import attr, bool_attr, cdata, seal
from .model import VMAP, AdBreak, AdSource, AdTagURI, Tracking
from .parse import parse_element, raw
from .render import XML_DECLARATION, render
from .safexml import DEFAULT_LIMITS, Limits
from .vocabulary import VMAP_NS, VMAP_TRACKING_EVENTS, VMAP_VERSION, VmapErrorCode


def render_vmap(vmap: VMAP, *, declaration: bool = True) -> str:
    out = [XML_DECLARATION] if declaration else []
    head = f'<vmap:VMAP xmlns:vmap="{VMAP_NS}" version="{attr(vmap.version)}"'
    if not vmap.ad_breaks:
        out.append(head + "/>")
        return seal("".join(out))
    out.append(head + ">")
    for b in vmap.ad_breaks:
        a = f' timeOffset="{attr(b.time_offset)}" breakType="{attr(b.break_type)}"'
        if b.break_id is not None:
            a += f' breakId="{attr(b.break_id)}"'
        if b.repeat_after is not None:
            a += f' repeatAfter="{attr(b.repeat_after)}"'
        out.append(f"<vmap:AdBreak{a}>")
        if b.ad_source is not None:
            _ad_source(b.ad_source, out)
        rows = [t for t in b.tracking if t.event in VMAP_TRACKING_EVENTS]
        if rows:
            out.append("<vmap:TrackingEvents>")
            out.extend(f'<vmap:Tracking event="{t.event}">{cdata(t.url)}</vmap:Tracking>'
                       for t in rows)
            out.append("</vmap:TrackingEvents>")
        if b.extensions:
            out.append("<vmap:Extensions>")
            out.extend(x.markup for x in b.extensions)
            out.append("</vmap:Extensions>")
        out.append("</vmap:AdBreak>")
    out.append("</vmap:VMAP>")
    return seal("".join(out))


def _ad_source(s: AdSource, out: list[str]) -> None:
    a = ""
    if s.id is not None:
        a += f' id="{attr(s.id)}"'
    if s.allow_multiple_ads is not None:
        a += f' allowMultipleAds="{bool_attr(s.allow_multiple_ads)}"'
    if s.follow_redirects is not None:
        a += f' followRedirects="{bool_attr(s.follow_redirects)}"'
    out.append(f"<vmap:AdSource{a}>")
    if s.vast_ad_data is not None:
        out.append("<vmap:VASTAdData>")
        out.append(render(s.vast_ad_data, declaration=False))
        out.append("</vmap:VASTAdData>")
    elif s.ad_tag_uri is not None:
        out.append(f'<vmap:AdTagURI templateType="{attr(s.ad_tag_uri.template_type)}">'
                   f"{cdata(s.ad_tag_uri.url)}</vmap:AdTagURI>")
    out.append("</vmap:AdSource>")


def parse_vmap(data: bytes | str, *, limits: Limits = DEFAULT_LIMITS) -> VMAP:
    try:
        root = safexml.load(data, limits)
    except VastXmlError as exc:
        raise VastXmlError(str(exc), code=VmapErrorCode.PARSE) from None
    if safexml.local_name(root.tag) != "VMAP":
        raise VastSchemaError(f"root element is {safexml.local_name(root.tag)!r}, not VMAP",
                              code=VmapErrorCode.SCHEMA)
    version = (root.get("version") or "").strip()
    if not version.startswith("1."):
        raise VastVersionUnsupported(f"VMAP version {version[:20]!r} is not supported",
                                     code=VmapErrorCode.VERSION_UNSUPPORTED)
    breaks = []
    for el in _elements(root, "AdBreak"):
        offset = (el.get("timeOffset") or "").strip()
        if not offset:
            raise VastSchemaError("AdBreak without timeOffset", code=VmapErrorCode.SCHEMA)
        breaks.append(_ad_break(el, offset))
    return VMAP(ad_breaks=tuple(breaks), version=version or VMAP_VERSION)


def _elements(el: etree._Element, name: str) -> list[etree._Element]:
    return [c for c in el if safexml.local_name(c.tag) == name]


def _opt(el: etree._Element, name: str) -> str | None:
    v = (el.get(name) or "").strip()
    return v or None


def _flag(el: etree._Element, name: str) -> bool | None:
    v = (el.get(name) or "").strip().lower()
    return True if v in ("true", "1") else False if v in ("false", "0") else None


def _ad_break(el: etree._Element, offset: str) -> AdBreak:
    source = None
    tracking: list[Tracking] = []
    extensions = []
    for child in el:
        name = safexml.local_name(child.tag)
        if name == "AdSource":
            source = _source(child)
        elif name == "TrackingEvents":
            for t in _elements(child, "Tracking"):
                url = "".join(t.itertext()).strip()
                event = (t.get("event") or "").strip()
                if url and event:
                    tracking.append(Tracking(event, url))
        elif name == "Extensions":
            try:
                extensions.extend(raw(x) for x in _elements(child, "Extension"))
            except ValueError as exc:
                raise VastSchemaError(f"unusable Extension: {exc}",
                                      code=VmapErrorCode.SCHEMA) from None
    return AdBreak(time_offset=offset, break_type=(el.get("breakType") or "").strip(),
                   break_id=_opt(el, "breakId"), repeat_after=_opt(el, "repeatAfter"),
                   ad_source=source, tracking=tuple(tracking), extensions=tuple(extensions))


def _source(el: etree._Element) -> AdSource:
    vast = tag = None
    for child in el:
        name = safexml.local_name(child.tag)
        if name == "VASTAdData":
            inner = [c for c in child if isinstance(c.tag, str)]
            if inner:
                try:
                    vast = parse_element(inner[0])
                except VastError as exc:
                    raise VastSchemaError(f"inline VAST: {exc}",
                                          code=VmapErrorCode.AD_DOCUMENT_EXTRACTION) from None
        elif name == "AdTagURI":
            url = "".join(child.itertext()).strip()
            if url:
                tag = AdTagURI(url, (child.get("templateType") or "vast3").strip())
    return AdSource(vast_ad_data=vast, ad_tag_uri=tag, id=_opt(el, "id"),
                    allow_multiple_ads=_flag(el, "allowMultipleAds"),
                    follow_redirects=_flag(el, "followRedirects"))
