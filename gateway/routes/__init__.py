"""Route modules. Each exposes `setup(app)`, which adds its routes and, when it owns
long-lived clients, its `cleanup_ctx` entries and health probes."""

from gateway.routes import ops

# Order matters only for cleanup_ctx: startup runs in this order, cleanup in reverse.
MODULES = [ops]

__all__ = ["MODULES"]
