"""VAST renderers, one per version, driven by the tables in `profiles.py`.

Markup comes from string templates joined once: every value passes through
`escape.cdata` (URLs), `escape.text` or `escape.attr`, and pass-through parts are `RawXml`
that was checked to be well-formed when made. Building lxml elements for a 4-ad pod took
about 0.9 ms; this takes well under 0.1 ms (see bench/vast_render.py).

Only what the target version's XSD declares is written: tracking events the version does
not know are dropped, 2.0/3.0 keep a single Error per ad, 4.0/4.1 a single UniversalAdId,
and so on (the `Profile` fields say which).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .escape import attr, bool_attr, cdata, clock, seal, text
from .model import (
    VAST,
    Ad,
    Creative,
    InLine,
    Linear,
    MediaFile,
    Mezzanine,
    Tracking,
    Verification,
    Wrapper,
)
from .profiles import Profile, profile
from .vocabulary import AD_VERIFICATIONS_EXTENSION

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'

Out = list[str]
Body = InLine | Wrapper


def render(vast: VAST, version: str | None = None, *, declaration: bool = True) -> str:
    """Serialise `vast` as VAST `version` (default: `vast.version`)."""
    p = profile(version or vast.version)
    out: Out = [XML_DECLARATION] if declaration else []
    ns = f' xmlns="{p.namespace}"' if p.namespace else ""
    head = f'<VAST version="{p.version}"{ns}'
    errors = vast.errors if (p.root_errors and not vast.ads) else ()
    if not vast.ads and not errors:
        out.append(head + "/>")
        return "".join(out)
    out.append(head + ">")
    for ad in vast.ads:
        _ad(ad, p, out)
    for url in errors:
        out.append(f"<Error>{cdata(url)}</Error>")
    out.append("</VAST>")
    return seal("".join(out))


def no_fill(version: str) -> str:
    """The empty response for "no ad" (VAST 4.2 §2.3.6.2: an empty VAST element)."""
    return render(VAST(version=version))


def _ad(ad: Ad, p: Profile, out: Out) -> None:
    attrs = []
    names = p.ad_attributes
    if ad.id is not None or p.ad_id_required:
        attrs.append(f' id="{attr(ad.id or "")}"')
    if ad.sequence is not None and "sequence" in names:
        attrs.append(f' sequence="{ad.sequence:d}"')
    if ad.conditional_ad is not None and "conditionalAd" in names:
        attrs.append(f' conditionalAd="{bool_attr(ad.conditional_ad)}"')
    if ad.ad_type is not None and "adType" in names:
        attrs.append(f' adType="{attr(ad.ad_type)}"')
    out.append(f"<Ad{''.join(attrs)}>")
    body = ad.body
    if isinstance(body, Wrapper):
        flags = ""
        if p.wrapper_flags:
            if body.follow_additional_wrappers is not None:
                flags += f' followAdditionalWrappers="{bool_attr(body.follow_additional_wrappers)}"'
            if body.allow_multiple_ads is not None:
                flags += f' allowMultipleAds="{bool_attr(body.allow_multiple_ads)}"'
            if body.fallback_on_no_ad is not None:
                flags += f' fallbackOnNoAd="{bool_attr(body.fallback_on_no_ad)}"'
        out.append(f"<Wrapper{flags}>")
        for part in _plan(p).wrapper:
            part(body, p, out, True)
        out.append("</Wrapper></Ad>")
    else:
        out.append("<InLine>")
        for part in _plan(p).inline:
            part(body, p, out, False)
        out.append("</InLine></Ad>")


# --- InLine / Wrapper children -------------------------------------------------------------

def _ad_system(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    s = b.ad_system
    v = f' version="{attr(s.version)}"' if s.version is not None else ""
    out.append(f"<AdSystem{v}>{text(s.name)}</AdSystem>")


def _ad_title(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    out.append(f"<AdTitle>{text(b.ad_title)}</AdTitle>")


def _ad_serving_id(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    out.append(f"<AdServingId>{text(b.ad_serving_id or '')}</AdServingId>")


def _description(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    if b.description is not None:
        out.append(f"<Description>{text(b.description)}</Description>")


def _advertiser(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    if b.advertiser is not None:
        out.append(f"<Advertiser>{text(b.advertiser)}</Advertiser>")


def _survey(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    s = b.survey
    if s is not None:
        t = f' type="{attr(s.type)}"' if (s.type is not None and p.survey_type) else ""
        out.append(f"<Survey{t}>{cdata(s.url)}</Survey>")


def _errors(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    urls = b.errors if p.max_errors is None else b.errors[: p.max_errors]
    for url in urls:
        out.append(f"<Error>{cdata(url)}</Error>")


def _impressions(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    with_id = p.impression_id_in_wrapper or not wrapper
    for imp in b.impressions:
        if imp.id is not None and with_id:
            out.append(f'<Impression id="{attr(imp.id)}">{cdata(imp.url)}</Impression>')
        else:
            out.append(f"<Impression>{cdata(imp.url)}</Impression>")


def _pricing(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    pr = b.pricing
    if pr is None or (wrapper and not p.pricing_in_wrapper):
        return
    model = pr.model.lower() if p.pricing_lower_case else pr.model
    out.append(f'<Pricing model="{attr(model)}" currency="{attr(pr.currency)}">'
               f"{text(pr.value)}</Pricing>")


def _viewable_impression(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    vi = b.viewable_impression
    if vi is None:
        return
    i = f' id="{attr(vi.id)}"' if vi.id is not None else ""
    out.append(f"<ViewableImpression{i}>")
    out.extend(f"<Viewable>{cdata(u)}</Viewable>" for u in vi.viewable)
    out.extend(f"<NotViewable>{cdata(u)}</NotViewable>" for u in vi.not_viewable)
    out.extend(f"<ViewUndetermined>{cdata(u)}</ViewUndetermined>" for u in vi.view_undetermined)
    out.append("</ViewableImpression>")


def _ad_verifications(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    if b.verifications and p.verifications == "native":
        _verifications(b.verifications, out)


def _verifications(vs: tuple[Verification, ...], out: Out) -> None:
    out.append("<AdVerifications>")
    for v in vs:
        vendor = f' vendor="{attr(v.vendor)}"' if v.vendor is not None else ""
        out.append(f"<Verification{vendor}>")
        for r in v.executable_resources:
            a = ""
            if r.api_framework is not None:
                a += f' apiFramework="{attr(r.api_framework)}"'
            if r.type is not None:
                a += f' type="{attr(r.type)}"'
            out.append(f"<ExecutableResource{a}>{cdata(r.url)}</ExecutableResource>")
        for j in v.javascript_resources:
            a = ""
            if j.api_framework is not None:
                a += f' apiFramework="{attr(j.api_framework)}"'
            if j.browser_optional is not None:
                a += f' browserOptional="{bool_attr(j.browser_optional)}"'
            out.append(f"<JavaScriptResource{a}>{cdata(j.url)}</JavaScriptResource>")
        if v.tracking:
            out.append("<TrackingEvents>")
            out.extend(f'<Tracking event="{attr(t.event)}">{cdata(t.url)}</Tracking>'
                       for t in v.tracking)
            out.append("</TrackingEvents>")
        if v.parameters is not None:
            out.append(f"<VerificationParameters>{text(v.parameters)}</VerificationParameters>")
        out.append("</Verification>")
    out.append("</AdVerifications>")


def _extensions(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    carry = b.verifications and p.verifications == "extension"
    if not b.extensions and not carry:
        return
    out.append("<Extensions>")
    out.extend(x.markup for x in b.extensions)
    if carry:
        out.append(f'<Extension type="{AD_VERIFICATIONS_EXTENSION}">')
        _verifications(b.verifications, out)
        out.append("</Extension>")
    out.append("</Extensions>")


def _categories(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    for c in b.categories:
        out.append(f'<Category authority="{attr(c.authority or "")}">{text(c.value)}</Category>')


def _blocked_ad_categories(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    for c in b.blocked_ad_categories:
        a = f' authority="{attr(c.authority)}"' if c.authority is not None else ""
        out.append(f"<BlockedAdCategories{a}>{text(c.value)}</BlockedAdCategories>")


def _expires(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    if b.expires is not None:
        out.append(f"<Expires>{b.expires:d}</Expires>")


def _vast_ad_tag_uri(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    out.append(f"<VASTAdTagURI>{cdata(b.vast_ad_tag_uri)}</VASTAdTagURI>")


def _creatives(b: Body, p: Profile, out: Out, wrapper: bool) -> None:
    if not b.creatives:
        if wrapper and p.wrapper_creatives_required:
            out.append("<Creatives/>")
        elif not wrapper:
            out.append("<Creatives></Creatives>")
        return
    out.append("<Creatives>")
    for c in b.creatives:
        if p.creative_is_choice:
            _creative_choice(c, p, out, wrapper)
        else:
            _creative_4(c, p, out, wrapper)
    out.append("</Creatives>")


def _creative_attrs(c: Creative, p: Profile) -> str:
    a = ""
    if c.id is not None:
        a += f' id="{attr(c.id)}"'
    if c.sequence is not None:
        a += f' sequence="{c.sequence:d}"'
    if c.ad_id is not None:
        a += f' {p.creative_ad_id_attribute}="{attr(c.ad_id)}"'
    if c.api_framework is not None and p.major >= 4:
        a += f' apiFramework="{attr(c.api_framework)}"'
    return a


def _creative_choice(c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    # VAST 2.0/3.0: a Creative is a choice of one Linear, CompanionAds or NonLinearAds, so a
    # 4.x creative carrying several becomes several Creative elements with the same ids.
    a = _creative_attrs(c, p)
    if c.linear is not None:
        out.append(f"<Creative{a}>")
        _linear(c.linear, c, p, out, wrapper)
        out.append("</Creative>")
    for raw in (c.companion_ads, c.nonlinear_ads):
        if raw is not None:
            out.append(f"<Creative{a}>{raw.markup}</Creative>")


def _creative_4(c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    out.append(f"<Creative{_creative_attrs(c, p)}>")
    if c.companion_ads is not None:
        out.append(c.companion_ads.markup)
    if c.creative_extensions is not None and not wrapper:
        out.append(c.creative_extensions.markup)
    if c.linear is not None:
        _linear(c.linear, c, p, out, wrapper)
    if c.nonlinear_ads is not None:
        out.append(c.nonlinear_ads.markup)
    if not wrapper:
        ids = c.universal_ad_ids
        if p.max_universal_ad_ids is not None:
            ids = ids[: p.max_universal_ad_ids]
        if not ids:
            # Required in 4.x; VAST 4.1 §3.7.1: "unknown" when no registry id exists.
            out.append('<UniversalAdId idRegistry="unknown"'
                       + (' idValue="unknown"' if p.universal_ad_id_value_attribute else "")
                       + ">unknown</UniversalAdId>")
        for u in ids:
            v = f' idValue="{attr(u.value)}"' if p.universal_ad_id_value_attribute else ""
            out.append(f'<UniversalAdId idRegistry="{attr(u.id_registry)}"{v}>'
                       f"{text(u.value)}</UniversalAdId>")
    out.append("</Creative>")


# --- Linear ---------------------------------------------------------------------------------

def _linear(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    skip = p.skip_offset_wrapper if wrapper else p.skip_offset_inline
    s = f' skipoffset="{attr(lin.skip_offset)}"' if (skip and lin.skip_offset is not None) else ""
    out.append(f"<Linear{s}>")
    plan = _plan(p)
    for part in (plan.linear_wrapper if wrapper else plan.linear_inline):
        part(lin, c, p, out, wrapper)
    out.append("</Linear>")


def _icons(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    if lin.icons is not None:
        out.append(lin.icons.markup)


def _linear_creative_extensions(lin: Linear, c: Creative, p: Profile, out: Out,
                                wrapper: bool) -> None:
    # VAST 3.0 puts CreativeExtensions inside Linear; 4.x directly under Creative.
    if c.creative_extensions is not None:
        out.append(c.creative_extensions.markup)


def _duration(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    out.append(f"<Duration>{clock(lin.duration or 0.0)}</Duration>")


def _tracking_events(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    rows = _tracking_rows(lin.tracking, p)
    if rows:
        out.append("<TrackingEvents>")
        out.extend(rows)
        out.append("</TrackingEvents>")


def _tracking_rows(tracking: tuple[Tracking, ...], p: Profile) -> list[str]:
    # The hottest loop of a pod: `cdata` is inlined. `event` is written unescaped only
    # after it matched the version's XSD enumeration.
    known = p.tracking_events
    with_offset = p.tracking_offset
    rows = []
    for t in tracking:
        if t.event not in known:
            continue
        url = t.url
        if ">" in url:
            url = url.replace("]]>", "]]]]><![CDATA[>")
        if t.offset is not None and with_offset:
            rows.append(f'<Tracking event="{t.event}" offset="{attr(t.offset)}">'
                        f"<![CDATA[{url}]]></Tracking>")
        else:
            rows.append(f'<Tracking event="{t.event}"><![CDATA[{url}]]></Tracking>')
    return rows


def _ad_parameters(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    ap = lin.ad_parameters
    if ap is not None:
        x = (f' xmlEncoded="{bool_attr(ap.xml_encoded)}"'
             if ap.xml_encoded is not None and p.ad_parameters_xml_encoded else "")
        out.append(f"<AdParameters{x}>{text(ap.value)}</AdParameters>")


def _video_clicks(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    order = p.clicks_wrapper_order if wrapper else p.clicks_inline_order
    rows: list[str] = []
    for name in order:
        if name == "ClickThrough":
            ct = lin.click_through
            if ct is not None:
                i = f' id="{attr(ct.id)}"' if ct.id is not None else ""
                rows.append(f"<ClickThrough{i}>{cdata(ct.url)}</ClickThrough>")
        else:
            items = lin.click_tracking if name == "ClickTracking" else lin.custom_clicks
            for ck in items:
                i = f' id="{attr(ck.id)}"' if ck.id is not None else ""
                rows.append(f"<{name}{i}>{cdata(ck.url)}</{name}>")
    if rows:
        out.append("<VideoClicks>")
        out.extend(rows)
        out.append("</VideoClicks>")


def _media_attributes(m: MediaFile, p: Profile) -> str:
    # Written out rather than table-driven: this runs for every file of every ad.
    a = (f' delivery="{attr(m.delivery)}" type="{attr(m.type)}"'
         f' width="{m.width:d}" height="{m.height:d}"')
    if m.id is not None:
        a += f' id="{attr(m.id)}"'
    if m.bitrate is not None:
        a += f' bitrate="{m.bitrate:d}"'
    if m.api_framework is not None:
        a += f' apiFramework="{attr(m.api_framework)}"'
    if m.scalable is not None:
        a += f' scalable="{bool_attr(m.scalable)}"'
    if m.maintain_aspect_ratio is not None:
        a += f' maintainAspectRatio="{bool_attr(m.maintain_aspect_ratio)}"'
    if p.media_codec_bitrate_range:
        if m.codec is not None:
            a += f' codec="{attr(m.codec)}"'
        if m.min_bitrate is not None:
            a += f' minBitrate="{m.min_bitrate:d}"'
        if m.max_bitrate is not None:
            a += f' maxBitrate="{m.max_bitrate:d}"'
    if p.media_file_size_type:
        if m.file_size is not None:
            a += f' fileSize="{m.file_size:d}"'
        if m.media_type is not None:
            a += f' mediaType="{attr(m.media_type)}"'
    return a


def _mezzanine_attributes(z: Mezzanine) -> str:
    a = (f' delivery="{attr(z.delivery)}" type="{attr(z.type)}"'
         f' width="{z.width:d}" height="{z.height:d}"')
    if z.id is not None:
        a += f' id="{attr(z.id)}"'
    if z.codec is not None:
        a += f' codec="{attr(z.codec)}"'
    if z.file_size is not None:
        a += f' fileSize="{z.file_size:d}"'
    if z.media_type is not None:
        a += f' mediaType="{attr(z.media_type)}"'
    return a


def _media_files(lin: Linear, c: Creative, p: Profile, out: Out, wrapper: bool) -> None:
    if p.mezzanine == "none":
        # 2.0/3.0: MediaFiles is optional there, MediaFile required inside it.
        if lin.media_files:
            out.append("<MediaFiles>")
            out.extend(f"<MediaFile{_media_attributes(m, p)}>{cdata(m.url)}</MediaFile>"
                       for m in lin.media_files)
            out.append("</MediaFiles>")
        return
    out.append("<MediaFiles>")
    if p.mezzanine == "full" and lin.closed_caption_files:
        out.append("<ClosedCaptionFiles>")
        for cc in lin.closed_caption_files:
            a = f' type="{attr(cc.type)}"' if cc.type is not None else ""
            if cc.language is not None:
                a += f' language="{attr(cc.language)}"'
            out.append(f"<ClosedCaptionFile{a}>{cdata(cc.url)}</ClosedCaptionFile>")
        out.append("</ClosedCaptionFiles>")
    out.extend(f"<MediaFile{_media_attributes(m, p)}>{cdata(m.url)}</MediaFile>"
               for m in lin.media_files)
    if lin.mezzanines:
        if p.mezzanine == "uri":
            out.append(f"<Mezzanine>{cdata(lin.mezzanines[0].url)}</Mezzanine>")
        else:
            out.extend(f"<Mezzanine{_mezzanine_attributes(z)}>{cdata(z.url)}</Mezzanine>"
                       for z in lin.mezzanines)
    for f in lin.interactive_creative_files:
        a = f' type="{attr(f.type)}"' if f.type is not None else ""
        if f.api_framework is not None:
            a += f' apiFramework="{attr(f.api_framework)}"'
        if f.variable_duration is not None and p.interactive_variable_duration:
            a += f' variableDuration="{bool_attr(f.variable_duration)}"'
        out.append(f"<InteractiveCreativeFile{a}>{cdata(f.url)}</InteractiveCreativeFile>")
    out.append("</MediaFiles>")


Part = Callable[[Body, Profile, Out, bool], None]
_PARTS: dict[str, Part] = {
    "AdSystem": _ad_system,
    "AdTitle": _ad_title,
    "AdServingId": _ad_serving_id,
    "Description": _description,
    "Advertiser": _advertiser,
    "Survey": _survey,
    "Error": _errors,
    "Impression": _impressions,
    "Pricing": _pricing,
    "ViewableImpression": _viewable_impression,
    "AdVerifications": _ad_verifications,
    "Extensions": _extensions,
    "Category": _categories,
    "BlockedAdCategories": _blocked_ad_categories,
    "Expires": _expires,
    "Creatives": _creatives,
    "VASTAdTagURI": _vast_ad_tag_uri,
}

LinearPart = Callable[[Linear, Creative, Profile, Out, bool], None]
_LINEAR_PARTS: dict[str, LinearPart] = {
    "Icons": _icons,
    "CreativeExtensions": _linear_creative_extensions,
    "Duration": _duration,
    "TrackingEvents": _tracking_events,
    "AdParameters": _ad_parameters,
    "VideoClicks": _video_clicks,
    "MediaFiles": _media_files,
}


@dataclass(frozen=True, slots=True)
class _Plan:
    """A profile's element orders resolved to the functions that write them."""

    inline: tuple[Part, ...]
    wrapper: tuple[Part, ...]
    linear_inline: tuple[LinearPart, ...]
    linear_wrapper: tuple[LinearPart, ...]


_PLANS: dict[str, _Plan] = {}


def _plan(p: Profile) -> _Plan:
    plan = _PLANS.get(p.version)
    if plan is None:
        plan = _PLANS[p.version] = _Plan(
            inline=tuple(_PARTS[n] for n in p.inline_order),
            wrapper=tuple(_PARTS[n] for n in p.wrapper_order),
            linear_inline=tuple(_LINEAR_PARTS[n] for n in p.linear_inline_order),
            linear_wrapper=tuple(_LINEAR_PARTS[n] for n in p.linear_wrapper_order),
        )
    return plan
