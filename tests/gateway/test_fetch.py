"""The SSRF guard refuses private, loopback and link-local targets, by literal and by
what a name resolves to, unless allowed."""

from __future__ import annotations

import pytest
from aiohttp import web

from gateway.fetch import Allow, Fetcher, FetchRefused


@pytest.fixture
async def origin(aiohttp_server):
    async def tag(request: web.Request) -> web.Response:
        return web.Response(text='<VAST version="4.2"/>')

    app = web.Application()
    app.router.add_get("/tag.xml", tag)
    return await aiohttp_server(app, host="127.0.0.1")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x", "http://localhost/x", "http://10.1.2.3/x", "http://192.168.0.1/x",
    "http://169.254.169.254/latest/meta-data", "http://[::1]/x", "http://[fe80::1]/x", "http://0.0.0.0/x",
    "file:///etc/passwd", "gopher://example.com/", "http:///nohost",
])
async def test_refused_targets(url):
    fetcher = Fetcher(Allow.parse([]))
    await fetcher.start()
    try:
        with pytest.raises(FetchRefused):
            await fetcher.get(url, timeout=1)
    finally:
        await fetcher.close()


async def test_allowed_cidr_and_host_reach_private_addresses(origin):
    for allow in (["127.0.0.0/8"], ["localhost"]):
        fetcher = Fetcher(Allow.parse(allow))
        await fetcher.start()
        try:
            host = "localhost" if allow == ["localhost"] else "127.0.0.1"
            result = await fetcher.get(f"http://{host}:{origin.port}/tag.xml", timeout=2)
            assert result.status == 200 and b"VAST" in result.body
        finally:
            await fetcher.close()


async def test_name_resolving_to_loopback_is_refused(origin):
    fetcher = Fetcher(Allow.parse([]))
    await fetcher.start()
    try:
        with pytest.raises(FetchRefused):
            await fetcher.get(f"http://localhost:{origin.port}/tag.xml", timeout=2)
    finally:
        await fetcher.close()


async def test_own_origin_is_allowed_by_exact_port_only(origin):
    fetcher = Fetcher(Allow.parse([], also_origins=(("127.0.0.1", origin.port),)))
    await fetcher.start()
    try:
        result = await fetcher.get(f"http://127.0.0.1:{origin.port}/tag.xml", timeout=2)
        assert result.status == 200
        with pytest.raises(FetchRefused):
            await fetcher.get(f"http://127.0.0.1:{origin.port + 1}/tag.xml", timeout=2)
    finally:
        await fetcher.close()
