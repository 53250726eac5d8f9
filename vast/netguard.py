"""Which addresses outbound fetches (VAST wrappers, SSAI origins) may reach.

Pure: the caller resolves names and asks about each address it would connect to, so a public
name that resolves to 127.0.0.1 or 169.254.169.254 is refused like the literal. Refused
unless allowed: private (RFC 1918, fc00::/7), loopback, link-local (incl. cloud metadata
169.254.169.254), multicast, reserved, unspecified, shared (100.64/10), documentation and
other non-global ranges, and IPv6 forms that embed such an IPv4 address (IPv4-mapped,
NAT64 64:ff9b::/96, 6to4, Teredo).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True, slots=True)
class AddressPolicy:
    """An allow list compiled once: host names (exact, case-insensitive) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_allow(cls, allow: Iterable[str]) -> AddressPolicy:
        hosts: set[str] = set()
        nets: list[IPNetwork] = []
        for item in allow:
            item = item.strip()
            if not item:
                continue
            try:
                nets.append(ipaddress.ip_network(item.strip("[]"), strict=False))
            except ValueError:
                hosts.add(item.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(nets))

    def permits(self, ip: str | IPAddress, host: str | None = None) -> bool:
        if host is not None and host.lower().rstrip(".").strip("[]") in self.hosts:
            return True
        addr = _address(ip)
        if addr is None:
            return False
        if any(addr in net for net in self.networks if net.version == addr.version):
            return True
        return _is_public(addr)


def is_public_address(ip: str | IPAddress, allow: Iterable[str] = (),
                      host: str | None = None) -> bool:
    """True when a connection to `ip` may be made: the address is public, or it (or the
    `host` name it was resolved from) is on the `allow` list of hosts and CIDRs."""
    return AddressPolicy.from_allow(allow).permits(ip, host)


def _address(ip: str | IPAddress) -> IPAddress | None:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    try:
        return ipaddress.ip_address(str(ip).strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_public(addr: IPAddress) -> bool:
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = _embedded_v4(addr)
        if embedded is not None:
            return _is_public(embedded)
    return addr.is_global and not (addr.is_multicast or addr.is_reserved
                                   or addr.is_link_local or addr.is_loopback
                                   or addr.is_private or addr.is_unspecified)


def _embedded_v4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    return None
