"""Typed application keys for long-lived objects (aiohttp `web.AppKey`)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.config import Settings
from gateway.health import Health
from store import Store

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
STORE: web.AppKey[Store] = web.AppKey("store", Store)  # type: ignore[type-abstract]
HEALTH: web.AppKey[Health] = web.AppKey("health", Health)
# services filled by the route modules' setup functions (typed where they are defined)
SERVICES: web.AppKey[dict[str, Any]] = web.AppKey("services", dict)
