from __future__ import annotations

import pytest

from decision.pod import BreakSpec, Pod
from tests.vast import models
from vast import (
    VAST,
    Ad,
    AdSystem,
    Impression,
    InLine,
    Linear,
    Tracking,
    parse,
    pod_to_vast,
    render,
)
from vast import Creative as VastCreative


def test_pod_becomes_one_ad_per_placed_ad_in_sequence():
    vast = models.pod_vast("4.2", 3)
    assert [a.sequence for a in vast.ads] == [1, 2, 3]
    assert [a.id for a in vast.ads] == ["imp-0001", "imp-0002", "imp-0003"]
    body = vast.ads[0].body
    assert body.ad_serving_id == "imp-0001"
    assert body.ad_title == "Spot 1 & co" and body.advertiser == "Brand Inc."
    assert body.pricing.value == "12.50" and body.pricing.currency == "USD"
    lin = body.creatives[0].linear
    assert lin.duration == 15.0
    assert lin.media_files[0].url == "https://cdn.example.test/media/cr-1/1080p.mp4"
    assert lin.media_files[-1].type == "application/x-mpegURL"
    assert lin.media_files[-1].delivery == "streaming" and lin.media_files[-1].width == 1280
    assert lin.mezzanines[0].url == "https://cdn.example.test/media/cr-1/mezzanine.mp4"
    assert body.creatives[0].universal_ad_ids[0].value == "ABCD0001000H"
    assert {t.event for t in lin.tracking} == set(models.EVENTS)


def test_events_named_impression_click_error_go_to_their_elements():
    p = models.pod(1)
    vast = pod_to_vast(p, tracking={"imp-0001": {
        "impression": ["/v1/b/impression?t=1"], "click": ["/v1/b/click?t=1"],
        "error": ["/v1/b/error?t=1&code=[ERRORCODE]"], "start": ["/v1/b/start?t=1"]}},
        base_url="https://gw.test/prefix/")
    body = vast.ads[0].body
    assert body.impressions == (Impression("https://gw.test/prefix/v1/b/impression?t=1"),)
    assert body.errors == ("https://gw.test/prefix/v1/b/error?t=1&code=[ERRORCODE]",)
    lin = body.creatives[0].linear
    assert [c.url for c in lin.click_tracking] == ["https://gw.test/prefix/v1/b/click?t=1"]
    assert lin.tracking == (Tracking("start", "https://gw.test/prefix/v1/b/start?t=1"),)


def test_relative_urls_need_a_base_url():
    with pytest.raises(ValueError, match="base_url"):
        pod_to_vast(models.pod(1))


def test_empty_pod_is_no_fill():
    empty = Pod(pod_id="p", break_spec=BreakSpec(break_id="b", duration_s=30))
    assert render(pod_to_vast(empty, version="4.2")) == \
        '<?xml version="1.0" encoding="UTF-8"?>\n<VAST version="4.2" xmlns="http://www.iab.com/VAST"/>'


def test_programmatic_creative_is_a_wrapper_unless_resolved():
    from dataclasses import replace
    p = models.pod(2)
    tagged = replace(p.ads[1], creative=replace(p.ads[1].creative,
                                                vast_tag_url="https://ssp.test/vast?x=1"))
    p = replace(p, ads=(p.ads[0], tagged))
    urls = {"imp-0002": ["https://gw.test/imp2"]}
    vast = pod_to_vast(p, impression_urls=urls, tracking={"imp-0002": {"start": ["https://gw.test/s"]}},
                       base_url="https://cdn.test")
    wrapper = vast.ads[1].body
    assert wrapper.vast_ad_tag_uri == "https://ssp.test/vast?x=1"
    assert wrapper.creatives[0].linear.tracking[0].url == "https://gw.test/s"
    assert parse(render(vast)).ads[1].body == wrapper

    third_party = Ad(InLine(AdSystem("ssp"), "their ad", impressions=(Impression("https://ssp.test/imp"),),
                            creatives=(VastCreative(linear=Linear(duration=15.0, tracking=(
                                Tracking("start", "https://ssp.test/start"),))),)), id="ssp-1")
    vast = pod_to_vast(p, impression_urls=urls, tracking={"imp-0002": {"start": ["https://gw.test/s"]}},
                       resolved={"imp-0002": third_party}, base_url="https://cdn.test")
    merged = vast.ads[1]
    assert merged.sequence == 2 and isinstance(merged.body, InLine)
    assert [i.url for i in merged.body.impressions] == ["https://gw.test/imp2", "https://ssp.test/imp"]
    assert [t.url for t in merged.body.creatives[0].linear.tracking] == [
        "https://gw.test/s", "https://ssp.test/start"]
    reparsed = parse(render(VAST("4.2", (merged,)))).ads[0]
    assert reparsed.body.impressions == merged.body.impressions
