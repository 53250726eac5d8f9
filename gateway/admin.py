"""Admin API authentication: `Authorization: Bearer $ADGW_ADMIN_TOKEN`."""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.keys import SETTINGS
from gateway.problems import problem


def admin_denied(request: web.Request) -> web.Response | None:
    """None when the request carries the admin token; else the problem to answer."""
    token = request.app[SETTINGS].admin_token
    if token is None:
        return problem(404, "Not Found", "the admin API is disabled (ADGW_ADMIN_TOKEN is not set)",
                       kind="admin-disabled")
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token.encode()):
        return problem(401, "Unauthorized", "admin endpoints need Authorization: Bearer <ADGW_ADMIN_TOKEN>",
                       kind="admin-unauthorized", headers={"WWW-Authenticate": 'Bearer realm="adgw-admin"'})
    return None


def is_admin(request: web.Request) -> bool:
    return admin_denied(request) is None
