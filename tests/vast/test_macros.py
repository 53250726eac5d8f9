from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from vast import MacroContext, expand, with_error_code
from vast.macros import cachebuster, timestamp

NOW = datetime(2026, 1, 17, 8, 15, 7, 127000, tzinfo=UTC)


def test_known_macros_are_replaced_and_url_encoded():
    ctx = MacroContext(now=NOW, cachebusting="12345678", error_code=402, ad_playhead=5.5,
                       content_playhead=61.25, asset_uri="https://cdn.test/a b.mp4?x=1",
                       ifa="ab-cd", device_ua="Mozilla/5.0 (TV; x)", device_ip="203.0.113.7",
                       ad_serving_id="imp 1")
    url = ("https://t.test/e?ts=[TIMESTAMP]&cb=[CACHEBUSTING]&code=[ERRORCODE]"
           "&ph=[ADPLAYHEAD]&asset=[ASSETURI]&cph=[CONTENTPLAYHEAD]&mph=[MEDIAPLAYHEAD]"
           "&ifa=[IFA]&ua=[DEVICEUA]&ip=[DEVICEIP]&asid=[ADSERVINGID]&x=[UNKNOWNMACRO]")
    assert ctx.expand(url) == (
        "https://t.test/e?ts=2026-01-17T08%3A15%3A07.127Z&cb=12345678&code=402"
        "&ph=00%3A00%3A05.500&asset=https%3A%2F%2Fcdn.test%2Fa%20b.mp4%3Fx%3D1"
        "&cph=00%3A01%3A01.250&mph=00%3A01%3A01.250&ifa=ab-cd"
        "&ua=Mozilla%2F5.0%20%28TV%3B%20x%29&ip=203.0.113.7&asid=imp%201&x=[UNKNOWNMACRO]")


def test_unset_and_unknown_macros_are_left_alone():
    url = "https://t.test/?a=[ERRORCODE]&b=[FOO]&c=[lower]&d=[]"
    assert expand(url, {}) == url
    assert MacroContext().expand(url) == url


def test_percent_encoded_brackets_are_recognised():
    assert expand("https://t.test/?e=%5BERRORCODE%5D&f=%5bERRORCODE%5d", {"ERRORCODE": 303}) \
        == "https://t.test/?e=303&f=303"


def test_error_code_helper_and_timestamp_offsets():
    assert with_error_code("https://e.test/?c=[ERRORCODE]&t=[TIMESTAMP]", 301,
                           MacroContext(now=NOW)) == \
        "https://e.test/?c=301&t=2026-01-17T08%3A15%3A07.127Z"
    eastern = NOW.astimezone(timezone(timedelta(hours=-5)))
    assert timestamp(eastern) == "2026-01-17T03:15:07.127-05:00"
    assert timestamp(datetime(2026, 1, 1)) == "2026-01-01T00:00:00.000Z"


def test_cachebuster_comes_from_the_injected_rng():
    a, b = cachebuster(random.Random(1)), cachebuster(random.Random(1))
    assert a == b and len(a) == 8 and a.isdigit()
    ctx = MacroContext.for_request(NOW, random.Random(2), ifa="x")
    assert ctx.cachebusting and ctx.ifa == "x" and ctx.now == NOW


@settings(database=None)
@given(st.text(max_size=60), st.text(max_size=20))
def test_expansion_never_touches_anything_but_macros(url, value):
    out = expand(url, {"ERRORCODE": value})
    if "[ERRORCODE]" not in url and "%5BERRORCODE%5D" not in url.upper():
        assert out == url
    assert "[ERRORCODE]" not in out
