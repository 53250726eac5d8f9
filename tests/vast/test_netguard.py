from __future__ import annotations

import ipaddress

import pytest

from vast import AddressPolicy, is_public_address


@pytest.mark.parametrize("ip", [
    "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "0.0.0.0",
    "100.64.0.1", "224.0.0.1", "240.0.0.1", "255.255.255.255", "192.0.2.1", "::1", "::",
    "fe80::1", "fe80::1%eth0", "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    "64:ff9b::7f00:1", "2002:7f00:1::", "2001:db8::1", "not-an-ip", "", "[::1]",
])
def test_non_public_addresses_are_refused(ip):
    assert is_public_address(ip) is False


@pytest.mark.parametrize("ip", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
                                "::ffff:8.8.8.8", "64:ff9b::808:808", "[2606:4700::1]"])
def test_public_addresses_are_allowed(ip):
    assert is_public_address(ip) is True


def test_allow_list_of_cidrs_and_hosts():
    allow = ["10.0.0.0/8", "fd00::/8", "origin.internal", "192.168.1.7"]
    assert is_public_address("10.9.9.9", allow)
    assert is_public_address("fd12::1", allow)
    assert is_public_address("192.168.1.7", allow)
    assert not is_public_address("192.168.1.8", allow)
    assert is_public_address("127.0.0.1", allow, host="Origin.Internal.")
    assert not is_public_address("127.0.0.1", allow, host="other.internal")
    policy = AddressPolicy.from_allow(allow)
    assert policy.permits(ipaddress.ip_address("10.0.0.1"))
    assert not policy.permits("127.0.0.1")
