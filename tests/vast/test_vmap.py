from __future__ import annotations

from dataclasses import replace

import pytest

from tests.vast import models
from vast import (
    VMAP,
    AdBreak,
    AdSource,
    AdTagURI,
    RawXml,
    Tracking,
    VastError,
    parse,
    parse_vmap,
    render,
    render_vmap,
)


def vmap(version: str, inline: bool) -> VMAP:
    def source(i: int) -> AdSource:
        if inline:
            return AdSource(vast_ad_data=models.pod_vast(version, 2), id=str(i),
                            allow_multiple_ads=True, follow_redirects=True)
        return AdSource(ad_tag_uri=AdTagURI(f"https://gw.test/v1/vast?sid=s&pos=mid&v={version}"
                                            f"&cb=[CACHEBUSTING]"), id=str(i))
    return VMAP(ad_breaks=(
        AdBreak("start", "linear", "pre", ad_source=source(1),
                tracking=(Tracking("breakStart", "https://gw.test/b?e=start"),
                          Tracking("error", "https://gw.test/b?e=err&c=[ERRORCODE]"))),
        AdBreak("00:10:00.000", "linear", "mid-1", repeat_after="00:10:00", ad_source=source(2),
                extensions=(RawXml('<vmap:Extension xmlns:vmap="http://www.iab.net/videosuite/vmap"'
                                   ' type="x"><a>1</a></vmap:Extension>'),)),
        AdBreak("end", "linear", "post", ad_source=source(3)),
    ))


@pytest.mark.conformance
@pytest.mark.parametrize("version", ["2.0", "3.0", "4.0", "4.1", "4.2", "4.3"])
@pytest.mark.parametrize("inline", [True, False], ids=["VASTAdData", "AdTagURI"])
def test_rendered_vmap_validates_and_round_trips(schemas, version, inline):
    model = vmap(version, inline)
    doc = render_vmap(model)
    assert schemas.vmap_errors(doc) == []
    # Inline VAST comes back as its version can carry it (events it lacks are dropped).
    expected = VMAP(ad_breaks=tuple(
        replace(b, ad_source=replace(b.ad_source, vast_ad_data=parse(render(
            b.ad_source.vast_ad_data)))) if b.ad_source.vast_ad_data else b
        for b in model.ad_breaks))
    assert parse_vmap(doc) == expected


@pytest.mark.conformance
def test_empty_vmap_and_samples(schemas, conformance_dir):
    assert schemas.vmap_errors(render_vmap(VMAP())) == []
    for path in sorted((conformance_dir / "vmap-samples").rglob("*.xml")):
        data = path.read_bytes()
        if path.name == "incorrect-vmap.xml":
            with pytest.raises(VastError) as err:
                parse_vmap(data)
            assert err.value.code == 1000
            continue
        model = parse_vmap(data)
        assert parse_vmap(render_vmap(model)) == model, path.name
    offsets = parse_vmap((conformance_dir / "vmap-samples/authored/vmap_adtaguri_all_offsets.xml")
                         .read_bytes())
    assert [b.time_offset for b in offsets.ad_breaks] == [
        "start", "00:05:00.000", "25%", "#2", "end", "00:20:00"]
    assert offsets.ad_breaks[1].repeat_after == "00:10:00"
    assert offsets.ad_breaks[5].ad_source is None
    inline = parse_vmap((conformance_dir / "vmap-samples/authored/vmap_inline_vast3_unqualified.xml")
                        .read_bytes())
    assert inline.ad_breaks[0].ad_source.vast_ad_data.ads[0].id == "vmap-inline-1"


@pytest.mark.parametrize("doc, code", [(b"<x", 1002), (b"<VMAP/>", 1001), (b"<NOTVMAP/>", 1000),
                                       (b'<VMAP version="1.0"><AdBreak/></VMAP>', 1000)])
def test_vmap_errors_carry_vmap_codes(doc, code):
    with pytest.raises(VastError) as err:
        parse_vmap(doc)
    assert err.value.code == code
