"""Rendering: every version's output validates against that version's IAB XSD and says
only what that version knows."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from lxml import etree

from tests.vast import models, strategies
from vast import VAST, VERSIONS, Ad, AdSystem, InLine, no_fill, parse, render
from vast.vocabulary import TRACKING_EVENTS_BY_VERSION, VAST_NS

SCENARIOS = {
    "pod": models.pod_vast,
    "single-ad": lambda v: models.pod_vast(v, 1),
    "wrapper": models.wrapper_vast,
    "hostile-strings": models.hostile_vast,
    "no-fill": lambda v: VAST(version=v),
    "no-fill-with-errors": lambda v: VAST(version=v, errors=("https://x.test/nf?c=[ERRORCODE]",)),
}


@pytest.mark.conformance
@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rendered_document_validates_against_its_versions_xsd(schemas, version, scenario):
    doc = render(SCENARIOS[scenario](version), version)
    assert schemas.errors(doc, version) == []


@pytest.mark.conformance
@pytest.mark.parametrize("version", VERSIONS)
def test_generated_models_render_to_xsd_valid_documents(schemas, version):
    @settings(max_examples=25, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategies.vast_models(version))
    def check(model):
        doc = render(model, version)
        assert schemas.errors(doc, version) == [], doc

    check()


@pytest.mark.parametrize("version", VERSIONS)
def test_no_fill_is_an_empty_vast_element(version):
    doc = no_fill(version)
    root = etree.fromstring(doc.encode())
    assert etree.QName(root).localname == "VAST" and root.get("version") == version
    assert len(root) == 0 and not (root.text or "").strip()
    assert doc.startswith('<?xml version="1.0" encoding="UTF-8"?>')


@pytest.mark.parametrize("version", VERSIONS)
def test_namespace_is_the_vast_namespace_on_4x_and_none_before(version):
    root = etree.fromstring(render(models.pod_vast(version), version).encode())
    expected = VAST_NS if version.startswith("4") else None
    assert etree.QName(root).namespace == expected
    assert all(etree.QName(el).namespace == expected for el in root.iter("{*}Ad", "Ad"))


@pytest.mark.parametrize("version", VERSIONS)
def test_only_the_versions_tracking_events_are_written(version):
    root = etree.fromstring(render(models.pod_vast(version), version).encode())
    linear_events = {t.get("event") for t in root.iter("{*}Tracking")
                     if etree.QName(t.getparent().getparent()).localname == "Linear"}
    assert linear_events == set(models.EVENTS) & TRACKING_EVENTS_BY_VERSION[version]
    assert ("loaded" in linear_events) == (version in ("4.1", "4.2", "4.3"))
    assert ("interactiveStart" in linear_events) == (version in ("4.2", "4.3"))


@pytest.mark.parametrize("version", VERSIONS)
def test_version_specific_elements(version):
    doc = render(models.pod_vast(version), version)
    names = {etree.QName(el).localname for el in etree.fromstring(doc.encode()).iter()
             if isinstance(el.tag, str)}
    four = version.startswith("4")
    assert ("UniversalAdId" in names) == four
    assert ("Mezzanine" in names) == four
    assert ("AdServingId" in names) == (version in ("4.1", "4.2", "4.3"))
    # Open Measurement: native AdVerifications from 4.1, an Extension before.
    assert ("AdVerifications" in names)
    parent = "InLine" if version in ("4.1", "4.2", "4.3") else "Extension"
    root = etree.fromstring(doc.encode())
    verifications = list(root.iter("{*}AdVerifications", "AdVerifications"))
    assert verifications and all(etree.QName(v.getparent()).localname == parent
                                 for v in verifications)
    for name in ("Impression", "Error", "ClickTracking", "ClickThrough", "MediaFile"):
        assert name in names


def test_pod_ads_carry_sequence_and_full_tracking():
    vast = parse(render(models.pod_vast("4.2"), "4.2"))
    assert [a.sequence for a in vast.ads] == [1, 2, 3, 4]
    for ad in vast.ads:
        assert ad.body.ad_serving_id == ad.id
        lin = ad.body.creatives[0].linear
        assert {t.event for t in lin.tracking} == set(models.EVENTS)
        assert lin.click_tracking and lin.click_through
        assert [e for e in ad.body.errors if "[ERRORCODE]" in e]
        assert ad.body.verifications == (models.OMID,)


@pytest.mark.parametrize("version", VERSIONS)
def test_urls_are_escaped_and_macros_stay_literal(version):
    vast = models.hostile_vast(version)
    doc = render(vast, version)
    root = etree.fromstring(doc.encode())  # well-formed despite the payloads
    assert not list(root.iter("Inject", "{*}Inject"))
    back = parse(doc)
    body = back.ads[0].body
    assert body.errors == vast.ads[0].body.errors
    assert "[ERRORCODE]" in body.errors[0]
    assert body.impressions[0].url == vast.ads[0].body.impressions[0].url
    assert body.ad_title == vast.ads[0].body.ad_title
    assert body.creatives[0].linear.tracking == vast.ads[0].body.creatives[0].linear.tracking


def test_hostile_document_round_trips_exactly_in_4_2():
    vast = models.hostile_vast("4.2")
    assert parse(render(vast, "4.2")) == vast


def test_characters_xml_cannot_carry_are_percent_encoded_in_urls():
    url = "https://x.example.test/a\x00b\x01c\rd\ud800e\uffff"
    body = InLine(AdSystem("s"), "t\x00itle\r", errors=(url,))
    doc = render(VAST("4.2", (Ad(body),)), "4.2")
    root = etree.fromstring(doc.encode("utf-8", "surrogatepass"))
    error = next(root.iter("{*}Error")).text
    assert error == "https://x.example.test/a%00b%01c%0Dd%ED%A0%80e%EF%BF%BF"
    assert next(root.iter("{*}AdTitle")).text == "t\ufffditle\r"


def test_verifications_pass_through_every_version():
    body = InLine(AdSystem("s"), "t", verifications=(models.OMID,))
    for version in VERSIONS:
        assert parse(render(VAST(version, (Ad(body, id="a"),)), version)).ads[0].body.verifications \
            == (models.OMID,), version


def test_version_argument_overrides_and_rejects_unknown():
    vast = VAST("4.2", (Ad(InLine(AdSystem("s"), "t"), id="a"),))
    assert render(vast, "3.0").count('version="3.0"') == 1
    with pytest.raises(ValueError):
        render(vast, "5.0")
