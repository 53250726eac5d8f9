"""Route modules. Each exposes `setup(app)`, which adds its routes and, when it owns
long-lived clients, its `cleanup_ctx` entries and health probes."""

from gateway import services
from gateway.routes import admin, ads, beacons, demo, ops, ssai

# Order matters only for cleanup_ctx: startup runs in this order, cleanup in reverse.
MODULES = [services, ops, admin, ads, demo, ssai, beacons]

__all__ = ["MODULES"]
