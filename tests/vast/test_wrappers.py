"""Wrapper resolution over the authored IAB-style chain and generated chains, with the
fetcher injected as an in-process tag server (the HTTP seam), so nothing leaves the box."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from vast import (
    VAST,
    Ad,
    AdSystem,
    FetchFailed,
    FetchRefused,
    Impression,
    InLine,
    MacroContext,
    TagCache,
    Wrapper,
    WrapperError,
    WrapperLimitReached,
    WrapperLoop,
    WrapperPolicy,
    WrapperResolver,
    WrapperTimeout,
    is_public_address,
    render,
)

CHAIN = "https://ads.example.test/chain/"
IAB = "https://raw.githubusercontent.com/InteractiveAdvertisingBureau/VAST_Samples/master/"


@dataclass
class TagServer:
    """Serves tags by URL: the authored chain, IAB samples, and documents a test adds.
    Refuses non-public literal addresses the way the gateway's fetcher does."""

    chain_dir: Path | None = None
    samples_dir: Path | None = None
    docs: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str], float]] = field(default_factory=list)
    delay: float = 0.0

    async def __call__(self, url: str, headers, timeout: float) -> bytes:  # noqa: ASYNC109 (the Fetch protocol)
        self.requests.append((url, dict(headers), timeout))
        host = urlsplit(url).hostname or ""
        if host.replace(".", "").isdigit() and not is_public_address(host):
            raise FetchRefused(f"{host} is not a public address")
        if self.delay:
            await asyncio.sleep(self.delay)
        if url in self.docs:
            return self.docs[url]
        path = None
        if self.chain_dir and url.startswith(CHAIN):
            path = self.chain_dir / url[len(CHAIN):]
        elif self.samples_dir and url.startswith(IAB):
            path = self.samples_dir / unquote(url[len(IAB):])
        if path is None or not path.is_file():
            raise FetchFailed(f"404 for {url}")
        return path.read_bytes()


def wrapper_doc(target: str, name: str, **flags: bool) -> bytes:
    body = Wrapper(AdSystem(name), target, impressions=(Impression(f"https://{name}.test/imp"),),
                   errors=(f"https://{name}.test/err?code=[ERRORCODE]",), **{
                       k: v for k, v in flags.items()})
    return render(VAST("4.2", (Ad(body, id=name),))).encode()


def inline_doc(name: str) -> bytes:
    body = InLine(AdSystem("s"), name, impressions=(Impression(f"https://{name}.test/imp"),),
                  ad_serving_id=name)
    return render(VAST("4.2", (Ad(body, id=name),))).encode()


# (tag, error code or None, resolved ad ids, impressions of the first ad, fired Error URLs)
SCENARIOS = [
    ("inline.xml", None, ["inline-1"], 1, []),
    ("wrapper-1.xml", None, ["inline-1"], 4, []),
    ("wrapper-3.xml", None, ["inline-1"], 2, []),
    ("pod.xml", None, ["pod-1", "pod-2"], 1, []),
    ("wrapper-to-pod-multi.xml", None, ["pod-1", "pod-2"], 2, []),
    ("wrapper-to-pod-single.xml", None, ["standalone-1"], 2, []),
    ("wrapper-nofollow.xml", 303, [], 0,
     ["https://wrapper-nofollow.example.test/error?code=303"]),
    ("wrapper-to-missing.xml", 301, [], 0,
     ["https://wrapper-to-missing.example.test/error?code=301"]),
    ("wrapper-to-no-ad.xml", 303, [], 0,
     ["https://wrapper-to-no-ad.example.test/error?code=303",
      "https://adserver.example.test/noad?code=303"]),
    ("wrapper-to-not-xml.xml", 100, [], 0,
     ["https://wrapper-to-not-xml.example.test/error?code=100"]),
    ("wrapper-to-vast1.xml", 102, [], 0,
     ["https://wrapper-to-vast1.example.test/error?code=102"]),
    ("no-ad.xml", 303, [], 0, ["https://adserver.example.test/noad?code=303"]),
    ("not-xml.xml", 100, [], 0, []),
]


@pytest.mark.conformance
@pytest.mark.parametrize("tag, code, ad_ids, impressions, fired", SCENARIOS,
                         ids=[s[0] for s in SCENARIOS])
async def test_authored_chain(chain_dir, vast_samples, tag, code, ad_ids, impressions, fired):
    server = TagServer(chain_dir, vast_samples)
    sent: list[str] = []
    resolver = WrapperResolver(server, fire=sent.append)
    if code is None:
        result = await resolver.resolve_url(CHAIN + tag)
        assert [a.id for a in result.ads] == ad_ids
        assert len(result.ads[0].body.impressions) == impressions
        assert all(isinstance(a.body, InLine) for a in result.ads)
    else:
        with pytest.raises(WrapperError) as err:
            await resolver.resolve_url(CHAIN + tag)
        assert err.value.code == code
        assert list(err.value.error_urls) == fired
    assert sent == fired


@pytest.mark.conformance
async def test_wrapper_trackers_are_merged_outermost_first(chain_dir):
    result = await WrapperResolver(TagServer(chain_dir)).resolve_url(CHAIN + "wrapper-1.xml")
    body = result.ads[0].body
    assert [i.url.split("/")[2] for i in body.impressions] == [
        "wrapper-1.example.test", "wrapper-2.example.test", "wrapper-3.example.test",
        "adserver.example.test"]
    assert len(body.errors) == 4
    starts = [t.url for t in body.creatives[0].linear.tracking if t.event == "start"]
    assert starts[:3] == [f"https://wrapper-{i}.example.test/start" for i in (1, 2, 3)]
    assert len(starts) == 4
    assert body.ad_serving_id == "example-adserver-inline-1"
    assert body.creatives[0].linear.media_files  # the InLine's own content is intact


async def test_wrapper_loop_ends_with_302_at_once():
    server = TagServer(docs={
        "https://a.test/vast": wrapper_doc("https://b.test/vast", "a"),
        "https://b.test/vast": wrapper_doc("https://a.test/vast", "b"),
    })
    sent: list[str] = []
    with pytest.raises(WrapperLoop) as err:
        await WrapperResolver(server, fire=sent.append).resolve_url("https://a.test/vast")
    assert err.value.code == 302
    assert len(server.requests) == 2
    assert sent == ["https://a.test/err?code=302", "https://b.test/err?code=302"]


async def test_wrapper_pointing_at_loopback_is_refused():
    server = TagServer(docs={"https://a.test/vast": wrapper_doc("http://127.0.0.1:8080/x", "a")})
    sent: list[str] = []
    with pytest.raises(WrapperError) as err:
        await WrapperResolver(server, fire=sent.append).resolve_url("https://a.test/vast")
    assert err.value.code == 300
    assert sent == ["https://a.test/err?code=300"]
    with pytest.raises(WrapperError) as err:
        await WrapperResolver(server).resolve_url("http://169.254.169.254/latest/meta-data")
    assert err.value.code == 300


def _chain(n: int) -> dict[str, bytes]:
    docs = {f"https://w{i}.test/vast": wrapper_doc(f"https://w{i + 1}.test/vast", f"w{i}")
            for i in range(n)}
    docs[f"https://w{n}.test/vast"] = inline_doc("end")
    return docs


async def test_ten_deep_chain_ends_with_302_without_following_it_all():
    server = TagServer(docs=_chain(10))
    sent: list[str] = []
    start = time.perf_counter()
    with pytest.raises(WrapperLimitReached) as err:
        await WrapperResolver(server, fire=sent.append).resolve_url("https://w0.test/vast")
    assert err.value.code == 302 and not isinstance(err.value, WrapperLoop)
    assert len(server.requests) == 6  # the tag and the 5 wrappers allowed
    assert sent == [f"https://w{i}.test/err?code=302" for i in range(6)]
    assert time.perf_counter() - start < 2


@pytest.mark.parametrize("depth, ok", [(5, True), (6, False), (2, True)])
async def test_depth_limit_is_five_wrappers(depth, ok):
    server = TagServer(docs=_chain(depth))
    resolver = WrapperResolver(server)
    if ok:
        result = await resolver.resolve_url("https://w0.test/vast")
        assert len(result.ads[0].body.impressions) == depth + 1
    else:
        with pytest.raises(WrapperLimitReached):
            await resolver.resolve_url("https://w0.test/vast")


async def test_a_hop_that_never_answers_times_out_with_301():
    async def never(url, headers, timeout):  # noqa: ASYNC109 (the Fetch protocol)
        await asyncio.Event().wait()

    policy = WrapperPolicy(hop_timeout_s=0.05, total_timeout_s=1.0)
    start = time.perf_counter()
    with pytest.raises(WrapperTimeout) as err:
        await WrapperResolver(never, policy=policy).resolve_url("https://slow.test/vast")
    assert err.value.code == 301
    assert time.perf_counter() - start < 0.5


async def test_the_total_budget_bounds_a_slow_chain():
    server = TagServer(docs=_chain(4), delay=0.04)
    sent: list[str] = []
    policy = WrapperPolicy(hop_timeout_s=1.0, total_timeout_s=0.1)
    with pytest.raises(WrapperTimeout):
        await WrapperResolver(server, fire=sent.append, policy=policy).resolve_url(
            "https://w0.test/vast")
    assert 2 <= len(server.requests) <= 4
    assert sent and all(u.endswith("code=301") for u in sent)
    assert all(t <= 0.1 + 1e-9 for _, _, t in server.requests)


async def test_device_headers_and_macros_are_sent():
    server = TagServer(docs={
        "https://a.test/vast?cb=12345678&ua=TV%2F1.0": wrapper_doc(
            "https://b.test/vast?ip=[DEVICEIP]", "a"),
        "https://b.test/vast?ip=203.0.113.9": inline_doc("b"),
    })
    macros = MacroContext(cachebusting="12345678", device_ua="TV/1.0", device_ip="203.0.113.9")
    result = await WrapperResolver(server).resolve_url(
        "https://a.test/vast?cb=[CACHEBUSTING]&ua=[DEVICEUA]", device_ip="203.0.113.9",
        device_ua="TV/1.0", macros=macros)
    assert result.ads[0].id == "b"
    for _, headers, _ in server.requests:
        assert headers == {"X-Device-IP": "203.0.113.9", "X-Device-User-Agent": "TV/1.0"}


async def test_fallback_on_no_ad_takes_the_next_standalone_ad():
    failing = Wrapper(AdSystem("w"), "https://empty.test/vast", fallback_on_no_ad=True,
                      impressions=(Impression("https://w.test/imp"),),
                      errors=("https://w.test/err?c=[ERRORCODE]",))
    backup = InLine(AdSystem("s"), "backup", impressions=(Impression("https://b.test/imp"),))
    outer = VAST("4.2", (Ad(failing, id="w"), Ad(backup, id="backup")))
    server = TagServer(docs={
        "https://outer.test/vast": wrapper_doc("https://mid.test/vast", "outer",
                                               allow_multiple_ads=True),
        "https://mid.test/vast": render(outer).encode(),
        "https://empty.test/vast": render(VAST("4.2")).encode(),
    })
    sent: list[str] = []
    result = await WrapperResolver(server, fire=sent.append).resolve_url("https://outer.test/vast")
    assert [a.id for a in result.ads] == ["backup"]
    assert [f.code for f in result.failures] == [303]
    assert sent == ["https://outer.test/err?code=303", "https://w.test/err?c=303"]


async def test_cache_serves_resolved_tags_until_they_expire():
    now = [100.0]
    cache = TagCache(ttl_s=30, clock=lambda: now[0])
    server = TagServer(docs={"https://t.test/vast": inline_doc("t")})
    resolver = WrapperResolver(server, cache=cache)
    first = await resolver.resolve_url("https://t.test/vast")
    now[0] += 29
    assert await resolver.resolve_url("https://t.test/vast") == first
    assert len(server.requests) == 1
    now[0] += 2
    await resolver.resolve_url("https://t.test/vast")
    assert len(server.requests) == 2 and len(cache) == 1


async def test_async_fire_is_awaited_and_documents_in_hand_resolve():
    fired: list[str] = []

    async def fire(url: str) -> None:
        fired.append(url)

    server = TagServer(docs={"https://x.test/vast": render(VAST("4.2")).encode()})
    doc = VAST("4.2", (Ad(Wrapper(AdSystem("w"), "https://x.test/vast",
                                  errors=("https://w.test/e?c=[ERRORCODE]",)), id="w"),
                       Ad(InLine(AdSystem("s"), "t"), id="i", sequence=None)))
    result = await WrapperResolver(server, fire=fire).resolve(doc)
    assert [a.id for a in result.ads] == ["i"]  # top level falls back to the next ad
    assert fired == ["https://w.test/e?c=303"]
