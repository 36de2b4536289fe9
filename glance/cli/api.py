"""``glance-api``: serve the Images API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Sequence

from aiohttp import web

from glance import __version__
from glance.api.app import create_app, server_args
from glance.api.protocol import EnvelopeRunner
from glance.common.exception import ConfigError
from glance.config import Settings, add_arguments, flags_from_args, load_settings

LOG = logging.getLogger("glance.api")


def parse_settings(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="glance-api", description="Serve the Images API (v1) on one port.")
    parser.add_argument("--version", action="version", version=f"glance {__version__}")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return load_settings(flags_from_args(args), config_file=args.config)


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    runner = EnvelopeRunner(app, access_log=None, **server_args(settings))
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port, backlog=1024, reuse_address=True)
    await site.start()
    LOG.info("glance-api %s serving on http://%s:%d (data in %s)", __version__, settings.host,
             settings.port, settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        LOG.info("glance-api stopping")
        await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; a configuration error ends it with one line and 1."""
    try:
        return _serve(argv)
    except ConfigError as exc:
        sys.stderr.write(f"glance-api: {exc}\n")
        return 1


def _serve(argv: Sequence[str] | None) -> int:
    settings = parse_settings(argv)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        LOG.error("cannot serve on %s:%d: %s", settings.host, settings.port, exc.strerror)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
