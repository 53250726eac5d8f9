"""Typed application keys for long-lived objects (aiohttp `web.AppKey`)."""

from __future__ import annotations

from aiohttp import web

from gateway.config import Settings
from gateway.health import Health
from store import Store

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
STORE: web.AppKey[Store] = web.AppKey("store", Store)  # type: ignore[type-abstract]
HEALTH: web.AppKey[Health] = web.AppKey("health", Health)
# domain services have typed keys where they are opened: gateway/services.py (ENGINE,
# SCORER, PACING, SIGNER, FETCHER), gateway/routes/beacons.py (PIPELINE), ...
