"""Geo from the client's address, for ad requests that do not say where they come from
and for beacon events: a MaxMind-format database (`ADGW_GEOIP_DB`, e.g. GeoLite2 City
or Country, or a commercial equivalent), read with `maxminddb` (its C extension when
installed: about a microsecond a lookup). Without a database there is no geo, as
before: players and SSAI servers may still pass `country`, `region` and `dma`.

The raw address is looked up and dropped here; only the country (ISO 3166-1), region
(the first subdivision's ISO code) and DMA (metro code) go on."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import maxminddb
from aiohttp import web

from decision.request import AdRequest
from gateway.keys import SETTINGS

Geo = tuple[str | None, str | None, str | None]  # country, region, dma


class GeoDB:
    def __init__(self, path: str | Path) -> None:
        self._reader = maxminddb.open_database(str(path))  # MODE_AUTO: the C reader if present

    def __call__(self, ip: str | None) -> Geo | None:
        if not ip:
            return None
        if ip.startswith("::ffff:") and "." in ip:
            ip = ip[7:]  # IPv4-mapped: not every database aliases ::ffff:0:0/96 to IPv4
        try:
            record = self._reader.get(ip)
        except ValueError:  # not an address
            return None
        if not isinstance(record, dict):
            return None
        country = _code(record.get("country"))
        subdivisions = record.get("subdivisions")
        region = _code(subdivisions[0]) if isinstance(subdivisions, list) and subdivisions else None
        location = record.get("location")
        metro = location.get("metro_code") if isinstance(location, dict) else None
        dma = str(metro) if isinstance(metro, int) and not isinstance(metro, bool) else None
        return (country, region, dma) if country or region or dma else None

    def close(self) -> None:
        self._reader.close()


def _code(entry: object) -> str | None:
    code = entry.get("iso_code") if isinstance(entry, dict) else None
    return code.upper() if isinstance(code, str) and code else None


def check_database(path: Path) -> str | None:
    """None when `path` opens as a MaxMind database, else what is wrong (configuration)."""
    try:
        GeoDB(path).close()
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        return f"not a MaxMind database: {exc}"
    return None


def with_geo(request: AdRequest, geo: GeoDB | None) -> AdRequest:
    """The request with country/region/dma from its address, when it named none of them
    (what the request says wins: an SSAI server knows the viewer better than we do)."""
    if geo is None or request.country or request.region or request.dma:
        return request
    found = geo(request.ip)
    if found is None:
        return request
    country, region, dma = found
    return dataclasses.replace(request, country=country, region=region, dma=dma)


GEO: web.AppKey[GeoDB | None] = web.AppKey("geo", object)  # type: ignore[arg-type]


async def geo_ctx(app: web.Application) -> AsyncIterator[None]:
    path = app[SETTINGS].geoip_db
    geo = GeoDB(path) if path is not None else None
    app[GEO] = geo
    yield
    if geo is not None:
        geo.close()
