"""Privacy and traffic-quality helpers, all pure: which address is the client's (trusted
proxies), IP truncation, the rotating-salt device hash, user-agent family and
invalid-traffic signals. The raw IP is used for rate limiting and geo only, then
truncated; no raw IP or IFA leaves this module inside an event."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_pton = socket.inet_pton
_AF_INET = socket.AF_INET
_from_bytes = int.from_bytes


def parse_networks(items: Iterable[str]) -> tuple[Network, ...]:
    """CIDRs or single addresses (`10.0.0.0/8`, `127.0.0.1`, `::1`); bad items raise
    ValueError (configuration is validated by the caller at start)."""
    return tuple(ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip())


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1:text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _v4(text: str) -> int | None:
    """A dotted-quad IPv4 address as an int, by the rules of `ipaddress` (exactly four
    decimal octets, no leading zeros, each at most 255: glibc's inet_pton is that
    strict); None otherwise. The hot path of every beacon: `ipaddress` objects cost
    several microseconds each."""
    try:
        return _from_bytes(_pton(_AF_INET, text), "big")
    except (OSError, ValueError):
        return None


def _addr(text: str | None) -> tuple[int, int, str] | None:
    """(version, integer value, canonical text) of an address, as `_ip` reads it."""
    if not text:
        return None
    stripped = text.strip()
    if ":" not in stripped:
        value = _v4(stripped)
        if value is not None:
            return 4, value, stripped  # a valid dotted quad is its own canonical form
    addr = _ip(text)
    if addr is None:
        return None
    return addr.version, int(addr), str(addr)


_MASKS: dict[int, tuple[tuple[Network, ...], tuple[tuple[int, int, int], ...]]] = {}


def _masks(networks: tuple[Network, ...]) -> tuple[tuple[int, int, int], ...]:
    # keyed by identity (hashing network objects costs more than the check); the tuple is
    # kept alongside so its id stays unique while cached
    hit = _MASKS.get(id(networks))
    if hit is not None and hit[0] is networks:
        return hit[1]
    masks = tuple((net.version, int(net.network_address), int(net.netmask)) for net in networks)
    if len(_MASKS) >= 64:
        _MASKS.clear()
    _MASKS[id(networks)] = (networks, masks)
    return masks


def _in_addr(addr: tuple[int, int, str], networks: tuple[Network, ...]) -> bool:
    version, value = addr[0], addr[1]
    for v, base, mask in _masks(networks):
        if v == version and value & mask == base:
            return True
    return False


def _in(addr, networks: tuple[Network, ...]) -> bool:
    return any(addr.version == net.version and addr in net for net in networks)


def client_ip(peer: str | None, forwarded_for: str | None = None, device_ip: str | None = None,
              trusted: tuple[Network, ...] = ()) -> str | None:
    """The client's address. Headers count only when the TCP peer is a trusted proxy:
    then `X-Device-IP` (set by a trusted SSAI server speaking for the device) wins, else
    `X-Forwarded-For` is walked right to left past trusted hops (the leftmost entries are
    client-controlled and never trusted blindly)."""
    peer_addr = _addr(peer)
    if peer_addr is None:
        return None
    if not trusted or not _in_addr(peer_addr, trusted):
        return peer_addr[2]
    dev = _addr(device_ip)
    if dev is not None:
        return dev[2]
    if forwarded_for:
        hops = [h for h in (part.strip() for part in forwarded_for.split(",")) if h]
        for hop in reversed(hops):
            addr = _addr(hop)
            if addr is None:
                break  # garbage: stop at the last address we could trust
            if not _in_addr(addr, trusted):
                return addr[2]
            peer_addr = addr
    return peer_addr[2]


class NetworkSet:
    """Is an address in any of many networks? A data-centre list holds thousands of
    CIDRs; this does one set lookup per distinct prefix length instead of one
    comparison per network."""

    def __init__(self, networks: Iterable[Network]) -> None:
        bases: dict[tuple[int, int], set[int]] = {}
        for net in networks:
            bases.setdefault((net.version, net.prefixlen), set()).add(int(net.network_address))
        self._by_version: dict[int, tuple[tuple[int, frozenset[int]], ...]] = {}
        for (version, prefix), found in sorted(bases.items()):
            bits = 32 if version == 4 else 128
            mask = ((1 << bits) - 1) ^ ((1 << (bits - prefix)) - 1)
            self._by_version[version] = (*self._by_version.get(version, ()), (mask, frozenset(found)))
        self._size = sum(len(found) for found in bases.values())

    def __len__(self) -> int:
        return self._size

    def __contains__(self, text: object) -> bool:
        addr = _addr(text) if isinstance(text, str) else None
        if addr is None:
            return False
        value = addr[1]
        return any(value & mask in found for mask, found in self._by_version.get(addr[0], ()))


def truncate_ip(text: str | None) -> str | None:
    """IPv4 to its /24, IPv6 to its /48 (the common anonymisation for analytics)."""
    if text and ":" not in text:
        value = _v4(text.strip())
        if value is not None:
            return f"{value >> 24}.{(value >> 16) & 255}.{(value >> 8) & 255}.0"
    addr = _ip(text)
    if addr is None:
        return None
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


class RotatingHasher:
    """Hashes a device reference with a salt that rotates every `period_s`: events of one
    period link to each other, not across periods. Salts derive from a secret, so every
    gateway instance agrees without coordination, and old salts are unrecoverable without
    the secret."""

    def __init__(self, secret: bytes, *, period_s: float = 86400.0, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._period = period_s
        self._clock = clock
        self._salts: dict[int, bytes] = {}

    def _salt(self, epoch: int) -> bytes:
        salt = self._salts.get(epoch)
        if salt is None:
            salt = hmac.new(self._secret, b"ifa-salt/%d" % epoch, hashlib.sha256).digest()
            self._salts = {epoch: salt}  # keep one: periods only move forward
        return salt

    def __call__(self, value: str) -> str:
        epoch = int(self._clock() // self._period)
        # the one-shot C HMAC: hmac.new builds two hash objects per call
        return hmac.digest(self._salt(epoch), value.encode(), "sha256")[:16].hex()


# user-agent families (first match wins; the order puts specific devices before browsers)
_UA_FAMILIES: tuple[tuple[str, re.Pattern[str]], ...] = tuple((name, re.compile(pat, re.I)) for name, pat in (
    ("bot", r"bot\b|crawl|spider|slurp|curl/|wget/|python-requests|python-urllib|aiohttp|go-http-client|"
            r"java/|okhttp/[0-2]\.|headlesschrome|phantomjs|scrapy|httpclient|libwww|facebookexternalhit"),
    ("roku", r"roku"),
    ("firetv", r"\bAFT[A-Z]|fire ?tv"),
    ("appletv", r"apple ?tv|tvos"),
    ("androidtv", r"android.*\b(tv|bravia|shield)\b|googletv"),
    ("chromecast", r"crkey"),
    ("tizen", r"tizen"),
    ("webos", r"web0s|webos"),
    ("vizio", r"vizio|smartcast"),
    ("xbox", r"xbox"),
    ("playstation", r"playstation"),
    ("ios", r"iphone|ipad"),
    ("android", r"android"),
    ("edge", r"edg/"),
    ("chrome", r"chrome/"),
    ("firefox", r"firefox/"),
    ("safari", r"safari/"),
))


@lru_cache(maxsize=4096)
def ua_family(ua: str | None) -> str:
    if not ua:
        return "unknown"
    for name, pattern in _UA_FAMILIES:
        if pattern.search(ua):
            return name
    return "other"


def is_bot(ua: str | None) -> bool:
    return ua_family(ua) == "bot"
