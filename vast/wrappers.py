"""Server-side resolution of third-party VAST tags (Wrapper chains), fetcher injected.

    resolver = WrapperResolver(fetch, fire=fire)
    resolution = await resolver.resolve_url(tag_url, device_ip=ip, device_ua=ua)

`fetch(url, headers, timeout) -> bytes` does the HTTP (the gateway's fetcher applies the SSRF
guard, see `netguard`) and raises `FetchFailed`, `FetchRefused` or `TimeoutError`.
`fire(url)` sends an Error URL (sync, or a coroutine the resolver awaits).

Rules (VAST 4.2 §2.4.3, §3.19.1):
- at most `max_depth` Wrappers are followed (default 5); one more is error 302, and a chain
  that comes back to a tag it already fetched stops at once with 302;
- each hop has its own time budget and the whole resolution a total one; running out is 301;
- `followAdditionalWrappers="false"`: Wrapper ads in the next response are ignored;
  `allowMultipleAds` (default false): if false only the first stand-alone ad is taken, if
  true a pod (ads with `sequence`) is taken in sequence order; `fallbackOnNoAd="true"`: when
  the wrapper's chain yields nothing, the next stand-alone ad of the same response is tried;
- impressions, errors, tracking and click tracking of every wrapper are merged into the
  InLine ad (see `merge`);
- a failed chain's Error URLs (every wrapper in it, and the root Error of a no-ad response)
  are fired with [ERRORCODE] filled in: 100/101/102 for a response that is not usable
  VAST, 300 general (a refused fetch), 301 timeout or unavailable, 302 depth, 303 no ads;
- `X-Device-IP` and `X-Device-User-Agent` carry the device (VAST 4.1 §4.2) and macros in
  tag URLs are expanded first.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace

from .errors import (
    VastError,
    WrapperError,
    WrapperLimitReached,
    WrapperLoop,
    WrapperNoAds,
    WrapperTimeout,
)
from .macros import MacroContext, with_error_code
from .merge import merge_wrapper
from .model import VAST, Ad, InLine, Wrapper
from .parse import parse
from .safexml import DEFAULT_LIMITS, Limits
from .vocabulary import HEADER_DEVICE_IP, HEADER_DEVICE_UA, ErrorCode

Fetch = Callable[[str, Mapping[str, str], float], Awaitable[bytes]]
Fire = Callable[[str], object]


@dataclass(frozen=True, slots=True)
class WrapperPolicy:
    max_depth: int = 5
    hop_timeout_s: float = 1.0
    total_timeout_s: float = 2.5
    limits: Limits = DEFAULT_LIMITS


@dataclass(frozen=True, slots=True)
class Failure:
    """One ad (or response) that could not be resolved; `error_urls` were fired."""

    code: int
    message: str
    error_urls: tuple[str, ...] = ()
    loop: bool = False


@dataclass(frozen=True, slots=True)
class Resolution:
    """InLine ads ready to serve, wrapper trackers merged, in play order."""

    ads: tuple[Ad, ...]
    failures: tuple[Failure, ...] = ()


class TagCache:
    """Resolved tags by URL, each kept `ttl_s` seconds by the injected clock; LRU-bounded.
    (The gateway also keeps the ad media playlists SSAI resolves from tags in one.)"""

    def __init__(self, *, ttl_s: float = 30.0, max_entries: int = 1024,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl_s
        self._max = max_entries
        self._clock = clock
        self._data: OrderedDict[str, tuple[float, Resolution]] = OrderedDict()

    def get(self, url: str) -> Resolution | None:
        item = self._data.get(url)
        if item is None:
            return None
        expires, value = item
        if expires <= self._clock():
            del self._data[url]
            return None
        self._data.move_to_end(url)
        return value

    def put(self, url: str, value: Resolution) -> None:
        self._data[url] = (self._clock() + self._ttl, value)
        self._data.move_to_end(url)
        while len(self._data) > self._max:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


@dataclass(slots=True)
class _Run:
    """State of one resolution: headers, macros, deadline, URLs fired so far."""

    headers: dict[str, str]
    macros: MacroContext | None
    deadline: float
    fired: list[str]


class WrapperResolver:
    def __init__(self, fetch: Fetch, *, fire: Fire | None = None,
                 policy: WrapperPolicy = WrapperPolicy(), cache: TagCache | None = None) -> None:
        self._fetch = fetch
        self._fire = fire
        self._policy = policy
        self._cache = cache

    async def resolve_url(self, url: str, *, device_ip: str | None = None,
                          device_ua: str | None = None, macros: MacroContext | None = None,
                          allow_multiple_ads: bool = True) -> Resolution:
        """Fetch `url` and resolve it to InLine ads, or raise a `WrapperError`."""
        if self._cache is not None:
            hit = self._cache.get(url)
            if hit is not None:
                return hit
        run = self._run(device_ip, device_ua, macros)
        outcome = await self._document(url, (), frozenset(), allow_multiple_ads, True, run)
        result = await self._finish(outcome, run)
        if self._cache is not None:
            self._cache.put(url, result)
        return result

    async def resolve(self, vast: VAST, *, device_ip: str | None = None,
                      device_ua: str | None = None, macros: MacroContext | None = None,
                      allow_multiple_ads: bool = True) -> Resolution:
        """Resolve the Wrapper ads of a document already in hand (InLine ads pass through)."""
        run = self._run(device_ip, device_ua, macros)
        outcome = await self._ads(vast, (), frozenset(), allow_multiple_ads, True, run)
        return await self._finish(outcome, run)

    def _run(self, ip: str | None, ua: str | None, macros: MacroContext | None) -> _Run:
        headers = {}
        if ip:
            headers[HEADER_DEVICE_IP] = ip
        if ua:
            headers[HEADER_DEVICE_UA] = ua
        deadline = asyncio.get_running_loop().time() + self._policy.total_timeout_s
        return _Run(headers, macros, deadline, [])

    async def _finish(self, outcome: Resolution | Failure, run: _Run) -> Resolution:
        if isinstance(outcome, Resolution):
            return outcome
        raise _error(outcome, tuple(run.fired))

    # --- one response ----------------------------------------------------------------------

    async def _document(self, url: str, chain: tuple[Wrapper, ...], visited: frozenset[str],
                        allow_multiple: bool, follow: bool, run: _Run) -> Resolution | Failure:
        if url in visited:
            return await self._fail(ErrorCode.WRAPPER_LIMIT, f"wrapper loop back to {url[:200]}",
                                    chain, run, loop=True)
        remaining = run.deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return await self._fail(ErrorCode.WRAPPER_TIMEOUT, "total time budget spent",
                                    chain, run)
        timeout = min(self._policy.hop_timeout_s, remaining)
        target = run.macros.expand(url) if run.macros is not None else url
        try:
            async with asyncio.timeout(timeout):
                body = await self._fetch(target, dict(run.headers), timeout)
            vast = parse(body, limits=self._policy.limits)
        except TimeoutError:
            return await self._fail(ErrorCode.WRAPPER_TIMEOUT,
                                    f"no answer within {timeout:.3g}s from {target[:200]}",
                                    chain, run)
        except VastError as exc:
            return await self._fail(exc.code, f"{target[:200]}: {exc}", chain, run)
        return await self._ads(vast, chain, visited | {url}, allow_multiple, follow, run)

    async def _ads(self, vast: VAST, chain: tuple[Wrapper, ...], visited: frozenset[str],
                   allow_multiple: bool, follow: bool, run: _Run) -> Resolution | Failure:
        candidates = [a for a in vast.ads if follow or not a.is_wrapper]
        pod = sorted((a for a in candidates if a.sequence is not None),
                     key=lambda a: a.sequence or 0) if allow_multiple else []
        standalone = [a for a in candidates if a.sequence is None]
        primary, buffet = (pod, standalone) if pod else (standalone[:1], standalone[1:])
        if not primary:
            why = ("no ads" if not vast.ads else
                   "only Wrapper ads, followAdditionalWrappers=false" if not candidates else
                   "only pod ads, allowMultipleAds=false")
            return await self._fail(ErrorCode.WRAPPER_NO_ADS, why, chain, run,
                                    extra_errors=vast.errors)
        outcomes = await asyncio.gather(*(self._one(a, chain, visited, run) for a in primary))
        ads: list[Ad] = []
        failures: list[Failure] = []
        for ad, outcome in zip(primary, outcomes, strict=True):
            while (isinstance(outcome, Failure) and buffet
                   and (not chain or _falls_back(ad))):
                # fallbackOnNoAd: try the response's next stand-alone ad instead.
                failures.append(outcome)
                ad = buffet.pop(0)
                outcome = await self._one(ad, chain, visited, run)
            if isinstance(outcome, Failure):
                failures.append(outcome)
            else:
                ads.extend(outcome.ads)
                failures.extend(outcome.failures)
        if not ads:
            first = failures[0]
            return replace(first, error_urls=tuple(u for f in failures for u in f.error_urls))
        return Resolution(tuple(ads), tuple(failures))

    async def _one(self, ad: Ad, chain: tuple[Wrapper, ...], visited: frozenset[str],
                   run: _Run) -> Resolution | Failure:
        body = ad.body
        if isinstance(body, InLine):
            for wrapper in reversed(chain):
                ad = merge_wrapper(ad, wrapper)
            return Resolution((ad,))
        if len(chain) >= self._policy.max_depth:
            return await self._fail(ErrorCode.WRAPPER_LIMIT,
                                    f"more than {self._policy.max_depth} wrappers",
                                    chain + (body,), run)
        outcome = await self._document(
            body.vast_ad_tag_uri, chain + (body,), visited,
            allow_multiple=bool(body.allow_multiple_ads),
            follow=body.follow_additional_wrappers is not False, run=run)
        if isinstance(outcome, Resolution) and ad.sequence is not None and len(outcome.ads) == 1:
            # A wrapper's place in a pod is the wrapper's sequence (VAST 4.2 §2.3.3.2).
            only = outcome.ads[0]
            outcome = Resolution((replace(only, sequence=ad.sequence),), outcome.failures)
        return outcome

    async def _fail(self, code: int, message: str, chain: tuple[Wrapper, ...], run: _Run,
                    *, loop: bool = False, extra_errors: tuple[str, ...] = ()) -> Failure:
        urls = tuple(with_error_code(u, code, run.macros)
                     for u in (*(e for w in chain for e in w.errors), *extra_errors))
        for u in urls:
            run.fired.append(u)
            if self._fire is not None:
                result = self._fire(u)
                if inspect.isawaitable(result):
                    await result
        return Failure(int(code), message, urls, loop)


def _falls_back(ad: Ad) -> bool:
    return isinstance(ad.body, Wrapper) and ad.body.fallback_on_no_ad is True


def _error(failure: Failure, fired: tuple[str, ...]) -> WrapperError:
    kinds: dict[int, type[WrapperError]] = {
        ErrorCode.WRAPPER_TIMEOUT: WrapperTimeout,
        ErrorCode.WRAPPER_LIMIT: WrapperLoop if failure.loop else WrapperLimitReached,
        ErrorCode.WRAPPER_NO_ADS: WrapperNoAds,
    }
    kind = kinds.get(failure.code, WrapperError)
    return kind(failure.message, code=failure.code, error_urls=fired)
