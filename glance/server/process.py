"""One serving process: the application on a listening socket, until SIGTERM or SIGINT, then
a graceful stop."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket

from glance import __version__
from glance.api.app import create_app, server_args
from glance.api.protocol import EnvelopeRunner
from glance.config import Settings
from glance.server.connections import ConnectionPool, track_requests

LOG = logging.getLogger("glance.api")

# After the grace period, aborted requests get this long to clean up (delete what an
# interrupted upload wrote, reset its image) before the process stops anyway.
CLEANUP_SECONDS = 10.0


def listen(host: str, port: int, backlog: int = 1024) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (OSError when it cannot be had)."""
    family, _, _, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.create_server(address, family=family, backlog=backlog)
    sock.setblocking(False)
    return sock


async def serve(settings: Settings, sock: socket.socket, *, parent: int | None = None) -> None:
    """Serve on ``sock`` until SIGTERM or SIGINT (or, for a worker, until its ``parent``
    process is gone); then stop accepting, let requests in flight finish within
    ``shutdown_grace_seconds``, abort the rest and close the service."""
    app = create_app(settings)
    app.middlewares.insert(0, track_requests)
    runner = EnvelopeRunner(
        app, access_log=None, keepalive_timeout=settings.keepalive_timeout,
        shutdown_timeout=CLEANUP_SECONDS,
        **server_args(settings))
    await runner.setup()
    server = runner.server
    assert server is not None
    pool = ConnectionPool(settings.max_connections, settings.client_header_timeout)
    loop = asyncio.get_running_loop()
    accepting = loop.create_task(pool.accept_forever(sock, server))
    host, port = sock.getsockname()[:2]
    LOG.info("glance-api %s serving on http://%s:%d (data in %s)%s", __version__, host, port,
             settings.data_dir, f" as worker pid {os.getpid()}" if parent else "")
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    orphan_watch = loop.create_task(_watch_parent(parent, stop)) if parent else None
    try:
        await stop.wait()
    finally:
        LOG.info("glance-api stopping: no new connections; %d open", len(pool.connections))
        for task in (accepting, orphan_watch):
            if task is not None:
                task.cancel()
        await asyncio.gather(accepting, return_exceptions=True)
        sock.close()
        await pool.drain(settings.shutdown_grace_seconds)
        await runner.cleanup()  # aborted requests get CLEANUP_SECONDS to clean up
        LOG.info("glance-api stopped")


async def _watch_parent(parent: int, stop: asyncio.Event) -> None:
    """A worker whose parent process is gone stops (gracefully) rather than live on alone."""
    while os.getppid() == parent:
        await asyncio.sleep(1)
    LOG.warning("the parent process %d is gone: stopping", parent)
    stop.set()
