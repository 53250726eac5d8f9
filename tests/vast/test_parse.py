"""Parsing: every IAB sample maps into the model; any element order and namespace-less
4.x are read; what cannot be read raises a typed error with its VAST code."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from lxml import etree

from vast import (
    VastSchemaError,
    VastVersionUnsupported,
    VastXmlError,
    Wrapper,
    parse,
    render,
)
from vast.vocabulary import ErrorCode

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "vast-samples"
IAB_SAMPLES = sorted(p.relative_to(CONFORMANCE).as_posix() for p in CONFORMANCE.rglob("*.xml")
                     if not p.parent.name.startswith("authored")) if CONFORMANCE.is_dir() else []
VAST1 = {"vast1Nonlinear.xml", "vast1RegularLinear.xml", "vast1VPAIDLinear.xml"}


def test_there_are_75_iab_samples(vast_samples):
    assert len(IAB_SAMPLES) == 75, "the conformance folder changed"


@pytest.mark.conformance
@pytest.mark.parametrize("sample", IAB_SAMPLES)
def test_every_iab_sample_maps_into_the_model(vast_samples, sample):
    data = (vast_samples / sample).read_bytes()
    if Path(sample).name in VAST1:
        with pytest.raises(VastVersionUnsupported) as err:
            parse(data)
        assert err.value.code == ErrorCode.VERSION_UNSUPPORTED == 102
        return
    vast = parse(data)
    root = etree.fromstring(data)
    assert vast.version == root.get("version")
    assert len(vast.ads) == len(root.findall("{*}Ad"))
    for ad in vast.ads:
        assert ad.body.ad_system.name
        if isinstance(ad.body, Wrapper):
            assert ad.body.vast_ad_tag_uri.startswith("http")
        else:
            assert ad.body.creatives


@pytest.mark.conformance
def test_sample_values_are_read(vast_samples):
    vast = parse((vast_samples / "VAST 4.2 Samples/Inline_Linear_Tag-test.xml").read_bytes())
    ad = vast.ads[0]
    body = ad.body
    assert (ad.id, ad.sequence) == ("20001", 1)
    assert body.ad_system.name == "iabtechlab" and body.ad_system.version == "1"
    assert body.errors == ("https://example.com/error",)
    assert body.impressions[0].url == "https://example.com/track/impression"
    assert body.impressions[0].id == "Impression-ID"
    assert (body.pricing.value, body.pricing.model, body.pricing.currency) == ("25.00", "cpm", "USD")
    assert body.ad_serving_id == "a532d16d-4d7f-4440-bd29-2ec0e693fc80"
    creative = body.creatives[0]
    assert [(u.id_registry, u.value) for u in creative.universal_ad_ids] == \
        [("Ad-ID", "8465"), ("Foo-ID", "4444323")]
    lin = creative.linear
    assert lin.duration == 16.0
    assert [m.width for m in lin.media_files] == [1280, 854, 640]
    assert lin.media_files[0].codec == "H.264" and lin.media_files[0].scalable is True
    assert lin.click_through.url == "https://iabtechlab.com" and lin.click_through.id == "blog"
    progress = [t for t in lin.tracking if t.event == "progress"]
    assert progress[0].offset == "00:00:10"
    assert body.extensions[0].markup.startswith('<Extension type="iab-Count">')


@pytest.mark.conformance
def test_authored_chain_samples_are_read(chain_dir):
    wrapper = parse((chain_dir / "wrapper-to-pod-single.xml").read_bytes()).ads[0].body
    assert isinstance(wrapper, Wrapper) and wrapper.allow_multiple_ads is False
    assert wrapper.vast_ad_tag_uri == "https://ads.example.test/chain/pod.xml"
    pod = parse((chain_dir / "pod.xml").read_bytes())
    assert [a.sequence for a in pod.ads] == [1, 2, None]
    lin = pod.ads[0].body.creatives[0].linear
    assert lin.skip_offset == "00:00:05" and lin.mezzanines[0].width == 1920
    no_ad = parse((chain_dir / "no-ad.xml").read_bytes())
    assert no_ad.ads == () and no_ad.errors == ("https://adserver.example.test/noad?code=[ERRORCODE]",)
    with pytest.raises(VastXmlError) as err:
        parse((chain_dir / "not-xml.xml").read_bytes())
    assert err.value.code == 100


@pytest.mark.conformance
def test_namespace_less_4x_reads_like_namespaced(vast_samples):
    data = (vast_samples / "VAST 4.2 Samples/Inline_Linear_Tag-test.xml").read_bytes()
    bare = data.replace(b' xmlns="http://www.iab.com/VAST"', b"")
    assert bare != data
    assert parse(bare) == parse(data)


@pytest.mark.conformance
def test_any_element_order_is_accepted(vast_samples):
    data = (vast_samples / "VAST 4.2 Samples/Ad_Verification-test.xml").read_bytes()
    root = etree.fromstring(data)
    rng = random.Random(7)
    for el in root.iter():
        children = list(el)
        rng.shuffle(children)
        el[:] = children
    shuffled = etree.tostring(root)
    assert shuffled != etree.tostring(etree.fromstring(data))
    expected, got = parse(data), parse(shuffled)
    # Lists keep document order, so compare as multisets where the shuffle reordered them.
    assert got.ads[0].body.ad_serving_id == expected.ads[0].body.ad_serving_id
    assert set(got.ads[0].body.verifications) == set(expected.ads[0].body.verifications)
    lin_e, lin_g = expected.ads[0].body.creatives[0].linear, got.ads[0].body.creatives[0].linear
    assert set(lin_g.tracking) == set(lin_e.tracking)
    assert set(lin_g.media_files) == set(lin_e.media_files)
    assert lin_g.duration == lin_e.duration == 16.0


@pytest.mark.parametrize("doc, error, code", [
    (b"<NotVast/>", VastSchemaError, 101),
    (b"<VAST/>", VastSchemaError, 101),
    (b'<VAST version="5.0"/>', VastVersionUnsupported, 102),
    (b'<VAST version="abc"/>', VastVersionUnsupported, 102),
    (b"<VideoAdServingTemplate/>", VastVersionUnsupported, 102),
    (b'<VAST version="4.2"><Ad id="1"/></VAST>', VastSchemaError, 101),
    (b'<VAST version="4.2"><Ad><Wrapper><AdSystem>x</AdSystem></Wrapper></Ad></VAST>',
     VastSchemaError, 101),
    (b'<VAST version="4.2"><Ad><InLine><Creatives><Creative><Linear><Duration>soon'
     b"</Duration></Linear></Creative></Creatives></InLine></Ad></VAST>", VastSchemaError, 101),
    (b"<VAST version='4.2'>", VastXmlError, 100),
    (b"", VastXmlError, 100),
    (b"\x00\xff garbage", VastXmlError, 100),
])
def test_errors_are_typed_and_carry_the_vast_code(doc, error, code):
    with pytest.raises(error) as err:
        parse(doc)
    assert err.value.code == code


@pytest.mark.parametrize("raw, expected", [("2.0", "2.0"), ("2.0.1", "2.0"), ("3.0", "3.0"),
                                           ("4", "4.0"), ("4.1", "4.1"), (" 4.3 ", "4.3")])
def test_versions_are_normalised(raw, expected):
    assert parse(f'<VAST version="{raw}"/>').version == expected


def test_str_input_with_a_foreign_encoding_declaration():
    doc = '<?xml version="1.0" encoding="ISO-8859-1"?><VAST version="4.2"><Error>https://é</Error></VAST>'
    assert parse(doc).errors == ("https://é",)
    assert parse(doc.encode("iso-8859-1")).errors == ("https://é",)


def test_undeclared_xsi_prefix_is_tolerated_but_nothing_else():
    ok = b'<VAST version="3.0" xsi:noNamespaceSchemaLocation="vast.xsd"></VAST>'
    assert parse(ok).version == "3.0"
    with pytest.raises(VastXmlError):
        parse(b'<VAST version="3.0" xsi:x="1"><Ad></VAST>')


def test_render_of_parse_keeps_unmodelled_parts():
    doc = ('<VAST version="4.2" xmlns="http://www.iab.com/VAST"><Ad><InLine><AdSystem>s</AdSystem>'
           '<Impression>https://i</Impression><AdServingId>a</AdServingId><AdTitle>t</AdTitle>'
           '<Creatives><Creative><CompanionAds><Companion width="1" height="2"><StaticResource '
           'creativeType="image/png">https://c</StaticResource></Companion></CompanionAds>'
           '<UniversalAdId idRegistry="r">v</UniversalAdId></Creative></Creatives></InLine></Ad></VAST>')
    vast = parse(doc)
    companion = vast.ads[0].body.creatives[0].companion_ads
    assert companion is not None and "StaticResource" in companion.markup
    assert parse(render(vast)) == vast
