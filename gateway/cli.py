"""`adgw`: serve, simulate, models, events."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import multiprocessing
import os
import secrets
import signal
import socket
import sys
from collections.abc import Sequence

from gateway.config import ConfigError, Settings, load_settings

log = logging.getLogger("adgw")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s pid=%(process)d %(message)s",
        stream=sys.stderr,
    )


def _settings_or_exit(args: argparse.Namespace) -> Settings:
    overrides = {}
    if getattr(args, "host", None):
        overrides["host"] = args.host
    if getattr(args, "port", None) is not None:
        overrides["port"] = str(args.port)
    try:
        return load_settings(config_file=getattr(args, "config", None), overrides=overrides)
    except ConfigError as exc:
        for line in exc.problems:
            print(f"adgw: configuration: {line}", file=sys.stderr)
        raise SystemExit(2) from None


def _serve_one(settings: Settings, reuse_port: bool, worker: int | None) -> None:
    import uvloop
    from aiohttp import web

    from gateway.app import create_app

    _configure_logging(settings.log_level)
    if worker is not None:
        # each worker owns a spool directory: segment files are single-writer
        settings = dataclasses.replace(settings, spool_dir=settings.spool_dir / f"worker-{worker}")
    app = create_app(settings)
    # run_app handles SIGTERM/SIGINT gracefully: stop accepting, let in-flight requests
    # finish (shutdown_timeout), run on_shutdown and cleanup_ctx (flush spool, close
    # clients), then return normally so the process exits 0.
    web.run_app(app, host=settings.host, port=settings.port, reuse_port=reuse_port or None,
                shutdown_timeout=15.0, print=None, access_log=None, loop=uvloop.new_event_loop())


def _worker_main(settings: Settings, worker: int) -> None:
    _serve_one(settings, True, worker)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_or_exit(args)
    _configure_logging(settings.log_level)
    if not settings.beacon_keys:
        log.warning("ADGW_BEACON_KEYS is not set: beacon tokens are signed with a random key that "
                    "dies with this process; set it for production")
        settings = dataclasses.replace(settings, beacon_keys=(("r0", secrets.token_urlsafe(32).encode()),))
    workers = args.workers
    if workers <= 1:
        _serve_one(settings, False, None)
        return 0
    if not hasattr(socket, "SO_REUSEPORT"):
        print("adgw: --workers needs SO_REUSEPORT, which this platform lacks", file=sys.stderr)
        return 2
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker_main, args=(settings, i), name=f"adgw-worker-{i}") for i in range(workers)]
    for proc in procs:
        proc.start()
    log.info("adgw serving on %s:%d with %d workers", settings.host, settings.port, workers)

    def forward(signum, _frame):
        for proc in procs:
            if proc.is_alive() and proc.pid:
                os.kill(proc.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for proc in procs:
        proc.join()
    return 0 if all(p.exitcode == 0 for p in procs) else 1


def cmd_simulate(args: argparse.Namespace, rest: Sequence[str]) -> int:
    from decision.sim.cli import main as sim_main

    return sim_main(list(rest))


def cmd_models(rest: Sequence[str]) -> int:
    from decision.models.cli import main as models_main

    try:
        registry = load_settings().models_dir
    except ConfigError as exc:
        for line in exc.problems:
            print(f"adgw: configuration: {line}", file=sys.stderr)
        return 2
    return models_main(list(rest), registry=registry)


def cmd_events(args: argparse.Namespace) -> int:
    from beacons.cli import main as events_main

    settings = _settings_or_exit(args)
    _configure_logging(settings.log_level)
    return asyncio.run(events_main(args.action, settings, args))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adgw", description="CTV ad gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.add_argument("--config", default=None, help="TOML file with settings (keys without ADGW_)")
    serve.add_argument("--workers", type=int, default=1, help="processes sharing the port (SO_REUSEPORT)")
    sub.add_parser("simulate", help="replay ad requests offline (see adgw simulate --help)", add_help=False)
    sub.add_parser("models", help="validate or publish ONNX models", add_help=False)
    events = sub.add_parser("events", help="counters consumer and topic tail")
    events.add_argument("action", choices=["consume", "tail"])
    events.add_argument("--config", default=None)
    events.add_argument("--group", default="adgw-counters")
    events.add_argument("--limit", type=int, default=0, help="tail: stop after N events (0: follow)")
    events.add_argument("--from-beginning", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if argv and argv[0] in ("simulate", "models"):
        return cmd_simulate(None, argv[1:]) if argv[0] == "simulate" else cmd_models(argv[1:])  # type: ignore[arg-type]
    args = parser.parse_args(argv)
    if args.command == "serve":
        return cmd_serve(args)
    return cmd_events(args)


if __name__ == "__main__":
    raise SystemExit(main())
