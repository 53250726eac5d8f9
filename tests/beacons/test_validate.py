import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from beacons.errors import Malformed
from beacons.privacy import (
    NetworkSet,
    RotatingHasher,
    client_ip,
    parse_networks,
    truncate_ip,
    ua_family,
)
from beacons.ratelimit import TokenBuckets
from beacons.validate import (
    RawBeacon,
    check_shape,
    parse_code,
    parse_fields,
    parse_offset,
    parse_timestamp,
)

UNKNOWN = ["[TIMESTAMP]", "%5BTIMESTAMP%5D", "%5btimestamp%5d", "-1", "-2", "", None, "${TIMESTAMP}"]


@pytest.mark.parametrize("value", UNKNOWN)
def test_unexpanded_macros_mean_unknown(value):
    assert parse_timestamp(value) is None
    assert parse_code(value.replace("TIMESTAMP", "ERRORCODE") if value else value) is None
    assert parse_offset(value.replace("TIMESTAMP", "ADPLAYHEAD") if value else value) == (None, None)


@pytest.mark.parametrize(("text", "ms"), [
    ("1700000000123", 1700000000123),
    ("1700000000", 1700000000000),
    ("2023-11-14T22:13:20.123Z", 1700000000123),
    ("2023-11-14T23:13:20.123+01:00", 1700000000123),
    ("2023-11-14T23:13:20.123 01:00", 1700000000123),  # '+' decoded to a space
    ("2023-11-14T22:13:20Z", 1700000000000),
])
def test_timestamps(text, ms):
    assert parse_timestamp(text) == ms


@pytest.mark.parametrize("text", ["yesterday", "12ab", "2023-13-45T00:00:00Z", "99999999999999999", "-5"])
def test_bad_timestamps(text):
    with pytest.raises(Malformed) as e:
        parse_timestamp(text)
    assert e.value.reason == "bad_timestamp"


def test_codes_and_offsets():
    assert parse_code("402") == 402
    for bad in ("abc", "99", "1000", "4.5"):
        with pytest.raises(Malformed) as e:
            parse_code(bad)
        assert e.value.reason == "bad_code"
    assert parse_offset("00:00:05.250") == (5250, None)
    assert parse_offset("12.5") == (12500, None)
    assert parse_offset("25%") == (None, 25.0)
    for bad in ("abc", "101%", "-3", "nan", "inf"):
        with pytest.raises(Malformed) as e:
            parse_offset(bad)
        assert e.value.reason == "bad_offset"


def test_shape_reasons():
    for raw, reason in [
        (RawBeacon(event=b"imp\xffression", token="t"), "bad_utf8"),
        (RawBeacon(event="impression", token="a\udcffb"), "bad_utf8"),
        (RawBeacon(event="impression", token="a\ufffdb"), "bad_utf8"),
        (RawBeacon(event="impression", token="x" * 5000), "oversize"),
        (RawBeacon(event="x" * 40, token="t"), "oversize"),
    ]:
        with pytest.raises(Malformed) as e:
            check_shape(raw)
        assert e.value.reason == reason
    with pytest.raises(Malformed) as e:
        parse_fields(RawBeacon(event="impresion", token="t"), "impresion", "t")
    assert e.value.reason == "unknown_event"
    with pytest.raises(Malformed) as e:
        parse_fields(RawBeacon(event="error", token="t", ts="1" * 70), "error", "t")
    assert e.value.reason == "oversize"


@given(st.text(max_size=80) | st.binary(max_size=80))
@example("\u00b2")  # a superscript two: str.isdigit() says yes, int() says no
@example("\u0663")  # an Arabic-Indic three: int() would take it; the field must be ASCII
def test_any_field_value_parses_or_raises_malformed(value):
    raw = RawBeacon(event="progress", token="t", ts=value, code=value, off=value)
    try:
        parse_fields(raw, "progress", "t")
    except Malformed:
        pass


TRUSTED = parse_networks(["10.0.0.0/8", "::1"])


@pytest.mark.parametrize(("peer", "xff", "dev", "expected"), [
    ("198.51.100.4", "1.2.3.4", None, "198.51.100.4"),  # untrusted peer: headers ignored
    ("10.0.0.5", "1.2.3.4", None, "1.2.3.4"),
    ("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", None, "1.2.3.4"),  # spoofed left entry ignored
    ("10.0.0.5", "1.2.3.4", "5.6.7.8", "5.6.7.8"),  # trusted SSAI speaks for the device
    ("198.51.100.4", None, "5.6.7.8", "198.51.100.4"),
    ("10.0.0.5", "garbage, 10.0.0.7", None, "10.0.0.7"),
    ("::1", "2001:db8::1", None, "2001:db8::1"),
    ("::ffff:10.1.1.1", "[2001:db8::2]:443", None, "2001:db8::2"),
    ("not-an-ip", "1.2.3.4", None, None),
])
def test_client_ip(peer, xff, dev, expected):
    assert client_ip(peer, xff, dev, TRUSTED) == expected


def test_truncation_and_hashing():
    assert truncate_ip("203.0.113.77") == "203.0.113.0"
    assert truncate_ip("2001:db8:abcd:1234::5") == "2001:db8:abcd::"
    assert truncate_ip("nope") is None
    now = [0.0]
    h = RotatingHasher(b"s" * 32, period_s=86400, clock=lambda: now[0])
    a = h("dev")
    assert a == h("dev") and a != h("dev2") and len(a) == 32
    now[0] = 86400.0
    assert h("dev") != a


def test_ua_families():
    assert ua_family("Roku/DVP-12.0 (12.0.0.4182-88)") == "roku"
    assert ua_family("Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7233)") == "firetv"
    assert ua_family("Googlebot/2.1 (+http://www.google.com/bot.html)") == "bot"
    assert ua_family("curl/8.1") == "bot"
    assert ua_family(None) == "unknown"


def test_token_buckets():
    now = [0.0]
    tb = TokenBuckets(rate=2, burst=3, clock=lambda: now[0], max_keys=2)
    assert [tb.take("a") for _ in range(3)] == [0, 0, 0]
    assert tb.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert tb.take("a") == 0
    tb.take("b")
    tb.take("c")
    assert len(tb) == 2


def test_network_set_membership():
    nets = NetworkSet(parse_networks(["192.0.2.0/24", "198.51.100.7", "10.0.0.0/8", "2001:db8::/32"]))
    assert len(nets) == 4
    for inside in ("192.0.2.1", "192.0.2.255", "198.51.100.7", "10.200.3.4", "2001:db8::1", "::ffff:192.0.2.9"):
        assert inside in nets, inside
    for outside in ("192.0.3.1", "198.51.100.8", "11.0.0.1", "2001:db9::1", "", "junk", None, 42):
        assert outside not in nets, outside
    assert not NetworkSet(()) and "10.0.0.1" not in NetworkSet(())


@given(st.lists(st.tuples(st.integers(0, 2**32 - 1), st.integers(0, 32)), max_size=20),
       st.integers(0, 2**32 - 1))
def test_network_set_agrees_with_ipaddress(raw_nets, raw_addr):
    import ipaddress

    nets = [ipaddress.ip_network((value, prefix), strict=False) for value, prefix in raw_nets]
    addr = ipaddress.ip_address(raw_addr)
    assert (str(addr) in NetworkSet(nets)) == any(addr in net for net in nets)
