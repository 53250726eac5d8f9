"""Hypothesis strategies for VAST models that a given version can carry exactly.

Each version's XSD drops or constrains things (one Error per ad in 2.0/3.0, one
UniversalAdId in 4.0/4.1, no Mezzanine attributes in 4.0, ...), so `vast_models(version)`
draws only what that version can express; for those, parse(render(model)) must be the model.
Values avoid what XML itself normalises (leading/trailing white space, CR, characters XML
cannot carry); those are covered by the escaping tests.
"""

from __future__ import annotations

from hypothesis import strategies as st

from vast.model import (
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
from vast.vocabulary import TRACKING_EVENTS_BY_VERSION

# Printable text, incl. markup characters and non-ASCII; no CR, no XML-illegal characters.
_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"),
                          exclude_characters="\ufffe\uffff") | st.sampled_from("\t\n")
_TRICKY = st.sampled_from(["&", "<", ">", '"', "'", "]]>", "[ERRORCODE]", "%5BTIMESTAMP%5D",
                           "&amp;", "<![CDATA[", "é", "日本", "\t"])


def _stripped(s: str) -> bool:
    return bool(s) and s == s.strip()


text = st.lists(st.one_of(st.text(_ALPHABET, min_size=1, max_size=8), _TRICKY),
                min_size=1, max_size=4).map("".join).filter(_stripped)
ident = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,15}", fullmatch=True)
opt_ident = st.none() | ident
_url_part = st.one_of(st.from_regex(r"[A-Za-z0-9._~/?=&-]{1,20}", fullmatch=True),
                      st.sampled_from(["[ERRORCODE]", "[CACHEBUSTING]", "]]>", "<x>", "é",
                                       "%5BTIMESTAMP%5D", "%41", "&amp;", '"', "'"]))
url = st.builds(lambda host, parts: f"https://{host}.example/" + "".join(parts),
                st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                st.lists(_url_part, max_size=5))
seconds = st.integers(0, 86_399_999).map(lambda ms: ms / 1000)
small = st.integers(0, 10_000)
opt_int = st.none() | small
opt_bool = st.none() | st.booleans()
offsets = st.sampled_from(["00:00:05", "00:00:05.250", "01:02:03", "25%", "100%"])
decimal = st.builds(lambda a, b: f"{a}.{b:02d}", st.integers(0, 999), st.integers(0, 99))

VERSION_INFO = {
    "2.0": dict(major=2, pod=False, max_errors=1, offsets=False, uaids=0, verification=True),
    "3.0": dict(major=3, pod=True, max_errors=1, offsets=True, uaids=0, verification=True),
    "4.0": dict(major=4, pod=True, max_errors=None, offsets=True, uaids=1, verification=True),
    "4.1": dict(major=4, pod=True, max_errors=None, offsets=True, uaids=1, verification=True),
    "4.2": dict(major=4, pod=True, max_errors=None, offsets=True, uaids=None, verification=True),
    "4.3": dict(major=4, pod=True, max_errors=None, offsets=True, uaids=None, verification=True),
}

extensions = st.lists(st.builds(
    lambda n, t: RawXml(f'<Extension type="ext-{n}"><Data n="{n}">{t}</Data></Extension>'),
    st.integers(0, 99), st.sampled_from(["plain", "a &amp; b", "&lt;tag&gt;", "x"])),
    max_size=2)


def _errors(v: str) -> st.SearchStrategy[tuple[str, ...]]:
    cap = VERSION_INFO[v]["max_errors"]
    return st.lists(url, max_size=cap if cap is not None else 3).map(tuple)


def tracking(v: str) -> st.SearchStrategy[tuple[Tracking, ...]]:
    events = sorted(TRACKING_EVENTS_BY_VERSION[v])
    off = (st.none() | offsets) if VERSION_INFO[v]["offsets"] else st.none()
    return st.lists(st.builds(Tracking, st.sampled_from(events), url, off), max_size=6).map(tuple)


def media_file(v: str) -> st.SearchStrategy[MediaFile]:
    major = VERSION_INFO[v]["major"]
    later = v in ("4.1", "4.2", "4.3")
    return st.builds(
        MediaFile, url=url, delivery=st.sampled_from(["progressive", "streaming"]),
        type=st.sampled_from(["video/mp4", "application/x-mpegURL", "video/webm"]),
        width=small, height=small, id=opt_ident,
        codec=(st.none() | ident) if major >= 3 else st.none(),
        bitrate=opt_int,
        min_bitrate=opt_int if major >= 3 else st.none(),
        max_bitrate=opt_int if major >= 3 else st.none(),
        scalable=opt_bool, maintain_aspect_ratio=opt_bool,
        file_size=opt_int if later else st.none(),
        media_type=(st.none() | st.sampled_from(["2D", "3D", "360"])) if later else st.none(),
        api_framework=st.none() | st.sampled_from(["VPAID", "SIMID"]),
    )


def mezzanines(v: str) -> st.SearchStrategy[tuple[Mezzanine, ...]]:
    if v in ("2.0", "3.0"):
        return st.just(())
    if v == "4.0":
        return st.lists(st.builds(Mezzanine, url=url), max_size=1).map(tuple)
    return st.lists(st.builds(
        Mezzanine, url=url, delivery=st.sampled_from(["progressive", "streaming"]),
        type=st.sampled_from(["video/mp4", "video/quicktime"]), width=small, height=small,
        id=opt_ident, codec=st.none() | ident, file_size=opt_int,
        media_type=st.none() | st.just("2D")), max_size=2).map(tuple)


def linear(v: str, wrapper: bool) -> st.SearchStrategy[Linear]:
    major = VERSION_INFO[v]["major"]
    clicks = st.lists(st.builds(ClickTracking, url, opt_ident), max_size=2).map(tuple)
    custom = st.lists(st.builds(CustomClick, url, opt_ident), max_size=2).map(tuple)
    through = st.none() | st.builds(ClickThrough, url, opt_ident)
    skip = (st.none() | offsets) if (major >= 3 and (major == 4 or not wrapper)) else st.none()
    if wrapper:
        return st.builds(
            Linear, tracking=tracking(v), click_tracking=clicks,
            custom_clicks=custom if major >= 3 else st.just(()),
            click_through=through if v in ("4.2", "4.3") else st.none(),
            skip_offset=skip)
    later = v in ("4.1", "4.2", "4.3")
    return st.builds(
        Linear,
        duration=seconds,
        media_files=st.lists(media_file(v), min_size=1, max_size=3).map(tuple),
        mezzanines=mezzanines(v),
        interactive_creative_files=st.lists(st.builds(
            InteractiveCreativeFile, url, st.none() | st.just("application/javascript"),
            st.none() | st.just("SIMID"), opt_bool if later else st.none()),
            max_size=1).map(tuple) if major == 4 else st.just(()),
        closed_caption_files=st.lists(st.builds(
            ClosedCaptionFile, url, st.none() | st.just("text/vtt"),
            st.none() | st.just("en")), max_size=2).map(tuple) if later else st.just(()),
        tracking=tracking(v), click_through=through, click_tracking=clicks, custom_clicks=custom,
        skip_offset=skip,
        ad_parameters=st.none() | st.builds(
            AdParameters, text, opt_bool if major >= 3 else st.none()),
    )


def creative(v: str, wrapper: bool) -> st.SearchStrategy[Creative]:
    info = VERSION_INFO[v]
    uaid = st.builds(UniversalAdId, ident, st.sampled_from(["ad-id.org", "clearcast.co.uk"]))
    if wrapper or info["uaids"] == 0:
        uaids = st.just(())
    elif info["uaids"] == 1:
        uaids = st.tuples(uaid)
    else:
        uaids = st.lists(uaid, min_size=1, max_size=3).map(tuple)
    return st.builds(
        Creative, id=opt_ident, sequence=st.none() | st.integers(1, 9), ad_id=opt_ident,
        api_framework=opt_ident if info["major"] == 4 else st.none(),
        linear=linear(v, wrapper), universal_ad_ids=uaids)


def verification() -> st.SearchStrategy[Verification]:
    return st.builds(
        Verification, vendor=opt_ident,
        javascript_resources=st.lists(st.builds(
            JavaScriptResource, url, st.none() | st.just("omid"), opt_bool), max_size=2).map(tuple),
        executable_resources=st.lists(st.builds(
            ExecutableResource, url, st.none() | st.just("omid"), st.none() | st.just("x")),
            max_size=1).map(tuple),
        tracking=st.lists(st.builds(Tracking, st.just("verificationNotExecuted"), url),
                          max_size=1).map(tuple),
        parameters=st.none() | text)


def _pricing(v: str) -> st.SearchStrategy[Pricing | None]:
    models = ["cpm", "cpc", "cpe", "cpv"] if v == "3.0" else ["CPM", "cpm", "CPC", "cpv"]
    return st.none() | st.builds(Pricing, decimal, st.sampled_from(models),
                                 st.sampled_from(["USD", "EUR", "gbp"]))


def inline(v: str) -> st.SearchStrategy[InLine]:
    major = VERSION_INFO[v]["major"]
    later = v in ("4.1", "4.2", "4.3")
    return st.builds(
        InLine,
        ad_system=st.builds(AdSystem, text, st.none() | ident),
        ad_title=text,
        impressions=st.lists(st.builds(Impression, url, opt_ident), min_size=1,
                             max_size=3).map(tuple),
        creatives=st.lists(creative(v, False), min_size=1, max_size=2).map(tuple),
        errors=_errors(v),
        ad_serving_id=text if later else st.none(),
        description=st.none() | text,
        advertiser=(st.none() | text) if major >= 3 else st.none(),
        pricing=_pricing(v) if major >= 3 else st.none(),
        survey=st.none() | st.builds(Survey, url, (st.none() | st.just("text/html"))
                                     if major == 4 else st.none()),
        categories=st.lists(st.builds(Category, ident, url), max_size=2).map(tuple)
        if major == 4 else st.just(()),
        verifications=st.lists(verification(), max_size=2).map(tuple),
        viewable_impression=(st.none() | st.builds(
            ViewableImpression, opt_ident, st.lists(url, max_size=1).map(tuple),
            st.lists(url, max_size=1).map(tuple), st.lists(url, max_size=1).map(tuple)))
        if major == 4 else st.none(),
        expires=(st.none() | small) if later else st.none(),
        extensions=extensions.map(tuple),
    )


def wrapper(v: str) -> st.SearchStrategy[Wrapper]:
    major = VERSION_INFO[v]["major"]
    later = v in ("4.1", "4.2", "4.3")
    flag = opt_bool if major == 4 else st.none()
    return st.builds(
        Wrapper,
        ad_system=st.builds(AdSystem, text, st.none() | ident),
        vast_ad_tag_uri=url,
        impressions=st.lists(st.builds(Impression, url, opt_ident if major == 4 else st.none()),
                             min_size=1, max_size=2).map(tuple),
        creatives=st.lists(creative(v, True), max_size=2).map(tuple),
        errors=_errors(v),
        pricing=_pricing(v) if major == 4 else st.none(),
        verifications=st.lists(verification(), max_size=1).map(tuple),
        blocked_ad_categories=st.lists(st.builds(Category, ident, st.none() | url),
                                       max_size=1).map(tuple) if later else st.just(()),
        extensions=extensions.map(tuple),
        follow_additional_wrappers=flag, allow_multiple_ads=flag, fallback_on_no_ad=flag,
    )


def ad(v: str) -> st.SearchStrategy[Ad]:
    info = VERSION_INFO[v]
    return st.builds(
        Ad, body=st.one_of(inline(v), wrapper(v)),
        id=ident if v == "2.0" else opt_ident,
        sequence=(st.none() | st.integers(1, 20)) if info["pod"] else st.none(),
        ad_type=(st.none() | st.sampled_from(["video", "audio", "hybrid"]))
        if v in ("4.1", "4.2", "4.3") else st.none(),
        conditional_ad=opt_bool if info["major"] == 4 else st.none(),
    )


def vast_models(v: str) -> st.SearchStrategy[VAST]:
    with_ads = st.builds(VAST, st.just(v), st.lists(ad(v), min_size=1, max_size=3).map(tuple))
    no_fill = st.builds(VAST, st.just(v), st.just(()),
                        st.lists(url, max_size=2).map(tuple) if VERSION_INFO[v]["major"] == 4
                        else st.just(()))
    return st.one_of(with_ads, no_fill)
