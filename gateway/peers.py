"""Which address is the client's: headers are believed only from trusted proxies
(ADGW_TRUSTED_PROXIES); the rule itself lives in beacons.privacy."""

from __future__ import annotations

import functools

from aiohttp import web

from beacons.privacy import client_ip as _client_ip
from beacons.privacy import parse_networks


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]):
    return parse_networks(trusted)


def client_ip(request: web.Request, trusted: tuple[str, ...]) -> str | None:
    return _client_ip(request.remote, request.headers.get("X-Forwarded-For"),
                      request.headers.get("X-Device-IP"), _networks(trusted))
