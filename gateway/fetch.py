"""Outbound HTTP for VAST wrappers and SSAI origins, with the SSRF guard.

The guard runs in the resolver, on the addresses a name actually resolves to, so a
public name that resolves to 127.0.0.1 or 169.254.169.254 is refused as well as a
literal private IP. Hosts and CIDRs in ADGW_WRAPPER_ALLOW (and the gateway's own public
URL, for the demo origin) are reachable even when private.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

USER_AGENT = "ctv-ad-gateway/0.1"


class FetchError(Exception):
    status_hint = 502
    retriable = True


class FetchRefused(FetchError):
    """The URL points at an address the SSRF guard refuses (or a bad scheme)."""

    status_hint = 400
    retriable = False


class FetchTimeout(FetchError):
    status_hint = 504


@dataclass(frozen=True, slots=True)
class Allow:
    hosts: frozenset[str] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    # exact (host, port) pairs, e.g. the gateway's own demo origin: allowing the pair
    # rather than the host keeps other services on that host (Redis on loopback) unreachable
    origins: frozenset[tuple[str, int]] = frozenset()

    @classmethod
    def parse(cls, items: tuple[str, ...] | list[str], also_origins: tuple[tuple[str, int], ...] = ()) -> Allow:
        hosts, nets = set(), []
        for item in items:
            try:
                nets.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                hosts.add(item.lower().strip("[]"))
        origins = frozenset((h.lower().strip("[]"), p) for h, p in also_origins)
        return cls(frozenset(hosts), tuple(nets), origins)

    def permits_host(self, host: str, port: int | None = None) -> bool:
        host = host.lower().strip("[]")
        return host in self.hosts or (port is not None and (host, port) in self.origins)

    def permits_ip(self, ip: str) -> bool:
        addr = ipaddress.ip_address(ip.split("%")[0])
        if addr.is_global and not addr.is_multicast:
            return True
        return any(addr in net for net in self.networks) or ip in self.hosts


class GuardedResolver(AbstractResolver):
    def __init__(self, allow: Allow, inner: AbstractResolver | None = None) -> None:
        self._allow = allow
        self._inner = inner or ThreadedResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if self._allow.permits_host(host, port):
            return results
        permitted = [r for r in results if self._allow.permits_ip(r["host"])]
        if not permitted:
            raise FetchRefused(f"{host} resolves only to non-public addresses")
        return permitted

    async def close(self) -> None:
        await self._inner.close()


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


class Fetcher:
    """One aiohttp ClientSession for all outbound fetches (opened in cleanup_ctx)."""

    def __init__(self, allow: Allow, *, max_bytes: int = 4 << 20, connect_timeout: float = 1.0) -> None:
        self._allow = allow
        self._max_bytes = max_bytes
        self._connect_timeout = connect_timeout
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(self._allow), limit=256, ttl_dns_cache=30,
                                         enable_cleanup_closed=True)
        self._session = aiohttp.ClientSession(connector=connector, headers={"User-Agent": USER_AGENT},
                                              auto_decompress=True, raise_for_status=False)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    def check_url(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchRefused(f"only http(s) URLs may be fetched: {url[:200]!r}")
        host = parts.hostname
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if self._allow.permits_host(host, port):
            return
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            return  # a name: the resolver checks what it resolves to
        if not self._allow.permits_ip(str(literal)):
            raise FetchRefused(f"{host} is not a public address (allow it with ADGW_WRAPPER_ALLOW)")

    async def get(self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 2.0) -> FetchResult:
        assert self._session is not None, "Fetcher.start() not called"
        self.check_url(url)
        try:
            async with asyncio.timeout(timeout):
                async with self._session.get(url, headers=headers or {}, allow_redirects=True, max_redirects=3,
                                             timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._connect_timeout)) as resp:
                    body = await resp.content.read(self._max_bytes + 1)
                    if len(body) > self._max_bytes:
                        raise FetchError(f"response from {resp.url.host} exceeds {self._max_bytes} bytes")
                    return FetchResult(str(resp.url), resp.status, body, dict(resp.headers))
        except TimeoutError:
            raise FetchTimeout(f"no answer from {urlsplit(url).hostname} within {timeout:g}s") from None
        except FetchRefused:
            raise
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, FetchRefused):
                raise exc.os_error from None
            raise FetchError(f"cannot connect to {urlsplit(url).hostname}: {exc.os_error}") from None
        except (aiohttp.ClientError, OSError) as exc:
            cause = exc.__cause__ or exc.__context__
            if isinstance(cause, FetchRefused):
                raise cause from None
            raise FetchError(f"fetch of {urlsplit(url).hostname} failed: {type(exc).__name__}") from None
