"""``glance-api``: serve the Images API."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Sequence

from glance import __version__
from glance.common.exception import ConfigError
from glance.common.logs import configure_logging
from glance.config import Settings, add_arguments, flags_from_args, load_settings
from glance.server.prefork import run_workers
from glance.server.process import listen, serve

LOG = logging.getLogger("glance.api")


def parse_settings(argv: Sequence[str] | None) -> Settings:
    parser = argparse.ArgumentParser(
        prog="glance-api", description="Serve the Images API (v1 and v2) on one port.")
    parser.add_argument("--version", action="version", version=f"glance {__version__}")
    add_arguments(parser)
    args = parser.parse_args(argv)
    return load_settings(flags_from_args(args), config_file=args.config)


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM; a configuration error ends it with one line and 1."""
    try:
        return _serve(argv)
    except ConfigError as exc:
        sys.stderr.write(f"glance-api: {exc}\n")
        return 1


def _serve(argv: Sequence[str] | None) -> int:
    settings = parse_settings(argv)
    configure_logging(settings.log_level, settings.log_format)
    try:
        sock = listen(settings.host, settings.port)
    except OSError as exc:
        LOG.error("cannot serve on %s:%d: %s", settings.host, settings.port, exc.strerror)
        return 1
    if settings.workers > 1:
        return run_workers(settings, sock)
    asyncio.run(serve(settings, sock))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
