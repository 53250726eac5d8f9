"""Origin and ad playlists by URL for SSAI, through the guarded fetcher: cached for their
max-age (VOD, multivariant) or at most ~1 s (live), revalidated with ETag /
Last-Modified, one fetch in flight per URL. Failures are the origin's: 502."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from gateway.fetch import Fetcher, FetchError, FetchRefused

ORIGIN_TIMEOUT_S = 2.0
LIVE_TTL_S = 1.0  # a live playlist changes every segment: never serve one older than this
VOD_TTL_S = 60.0  # VOD and multivariant playlists without Cache-Control
MAX_TTL_S = 300.0
_MAX_AGE = re.compile(r"max-age\s*=\s*(\d+)")


class OriginUnavailable(Exception):
    """The origin (content or its playlists) could not be fetched: its fault, not ours."""

    status_hint = 502
    kind = "origin-unavailable"


class BadOriginPlaylist(Exception):
    status_hint = 502
    kind = "bad-origin-playlist"


def _ttl(headers: Mapping[str, str], text: str) -> float:
    control = ""
    for name, value in headers.items():
        if name.lower() == "cache-control":
            control = value.lower()
    if "no-store" in control or "no-cache" in control:
        return 0.0
    live = "#EXTINF" in text and "#EXT-X-ENDLIST" not in text and "PLAYLIST-TYPE:VOD" not in text
    found = _MAX_AGE.search(control)
    ttl = float(found.group(1)) if found else (LIVE_TTL_S if live else VOD_TTL_S)
    return min(ttl, LIVE_TTL_S if live else MAX_TTL_S)


@dataclass(slots=True)
class _Page:
    url: str  # after redirects: the base for relative URIs
    text: str
    etag: str | None
    last_modified: str | None
    expires: float


class PlaylistPages:
    """Playlists by URL: cached for their max-age (VOD, multivariant) or at most ~1 s
    (live), revalidated with ETag / Last-Modified, one fetch in flight per URL."""

    def __init__(self, fetcher: Fetcher, clock=time.monotonic, max_entries: int = 1024) -> None:
        self._fetcher = fetcher
        self._clock = clock
        self._max = max_entries
        self._pages: dict[str, _Page] = {}
        self._flight: dict[str, asyncio.Future] = {}

    async def get(self, url: str) -> tuple[str, str]:
        """(final URL, text). OriginUnavailable when the origin fails; FetchRefused (400)
        when the SSRF guard refuses the address."""
        page = self._pages.get(url)
        if page is not None and page.expires > self._clock():
            return page.url, page.text
        flight = self._flight.get(url)
        if flight is None:
            flight = self._flight[url] = asyncio.ensure_future(self._fetch(url, page))
            flight.add_done_callback(lambda _f: self._flight.pop(url, None))
        page = await asyncio.shield(flight)
        return page.url, page.text

    async def _fetch(self, url: str, stale: _Page | None) -> _Page:
        headers = {}
        if stale is not None and stale.etag:
            headers["If-None-Match"] = stale.etag
        if stale is not None and stale.last_modified:
            headers["If-Modified-Since"] = stale.last_modified
        try:
            result = await self._fetcher.get(url, headers=headers, timeout=ORIGIN_TIMEOUT_S)
        except FetchRefused:
            raise
        except FetchError as exc:
            raise OriginUnavailable(str(exc)) from None
        except ValueError as exc:  # a URI in the origin's playlist that is not a URL
            raise BadOriginPlaylist(f"bad URL {url[:200]!r}: {exc}") from None
        host = urlsplit(url).hostname
        if result.status == 304 and stale is not None:
            stale.expires = self._clock() + _ttl(result.headers, stale.text)
            return stale
        if result.status != 200:
            raise OriginUnavailable(f"{host} answered HTTP {result.status} for {urlsplit(url).path[:200]}")
        try:
            text = result.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadOriginPlaylist(f"the playlist at {host} is not UTF-8 text (RFC 8216 §4)") from None
        lower = {k.lower(): v for k, v in result.headers.items()}
        page = _Page(result.url, text, lower.get("etag"), lower.get("last-modified"),
                     self._clock() + _ttl(result.headers, text))  # fmt: skip
        if page.expires > self._clock() or page.etag or page.last_modified:
            self._pages[url] = page
            if len(self._pages) > self._max:
                self._pages.pop(next(iter(self._pages)))
        return page
