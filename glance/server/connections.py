"""Client connections below aiohttp's request handling: a time limit on receiving each
request's head, a cap on open connections, and closing them all at shutdown (aiohttp's
own graceful shutdown stops reading request bodies at once, cutting uploads in flight).

Each accepted socket gets a ``Connection``: an asyncio protocol that hands every event to
aiohttp's own protocol for the connection and, on the side, times the request head — from
the connection's start until its first request reaches the application, and from the first
byte of each later request until that one does. ``track_requests`` (a middleware) tells the
connection when a request has arrived and when it is done. Idle keep-alive connections are
closed by aiohttp itself (``keepalive_timeout``); stalled bodies by the body reader
(``client_body_timeout``).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time
from typing import Callable

from aiohttp import web
from aiohttp.typedefs import Handler

LOG = logging.getLogger("glance.server")

IDLE, HEAD, BUSY, CLOSING = "idle", "head", "busy", "closing"
EVICT_SECONDS = 10.0  # how long a connection closed to make room may finish its answer


class Connection(asyncio.Protocol):
    """One client connection: aiohttp's protocol inside, the request-head timer around it."""

    def __init__(self, inner: web.RequestHandler, pool: ConnectionPool) -> None:
        self.inner = inner
        self.pool = pool
        self.state = HEAD  # the first request's head is due from the start
        self.idle_since = time.monotonic()
        self.transport: asyncio.Transport | None = None
        self._head_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol, passed on to aiohttp ----------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.pool.add(self)
        self.inner.connection_made(transport)
        self._start_head_timer()

    def data_received(self, data: bytes) -> None:
        if self.state == IDLE:
            self.state = HEAD
            self._start_head_timer()
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        self.inner.eof_received()
        return None  # as aiohttp: the transport closes its side

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self.transport = None
        self.pool.discard(self)
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    # -- requests ----------------------------------------------------------------------------

    def request_started(self) -> None:
        self.state = BUSY
        self._stop_head_timer()

    def request_finished(self) -> None:
        if self.state == BUSY:
            self.state = IDLE
        self.idle_since = time.monotonic()
        self.pool.changed()

    def close_soon(self) -> asyncio.Task[None]:
        """Close once the request in progress, if any, is answered (aborted after
        ``EVICT_SECONDS``); no new request is read meanwhile."""
        self.state = CLOSING
        self.inner.close()  # an idle connection stops waiting for a request
        return asyncio.get_running_loop().create_task(self.inner.shutdown(EVICT_SECONDS))

    def abort(self) -> None:
        """Drop the connection at once (a request in progress sees the client gone)."""
        if self.transport is not None:
            self.transport.abort()

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = asyncio.get_running_loop().call_later(
            self.pool.header_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.state != HEAD or self.transport is None:
            return
        peer = self.transport.get_extra_info("peername")
        LOG.info("closing the connection from %s: no complete request head within %gs "
                 "(client_header_timeout)", peer, self.pool.header_timeout)
        self.inner.force_close()


@web.middleware
async def track_requests(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Tell the request's ``Connection`` that its head has arrived, and when it is done."""
    transport = request.transport
    connection = transport.get_protocol() if transport is not None else None
    if not isinstance(connection, Connection):
        return await handler(request)
    connection.request_started()
    try:
        return await handler(request)
    finally:
        connection.request_finished()


async def _readable(sock: socket.socket) -> None:
    """Until the listening ``sock`` has a connection to accept."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(sock.fileno(), wake)
    try:
        await ready
    finally:
        loop.remove_reader(sock.fileno())


class ConnectionPool:
    """The open connections of one process; accepts new ones while fewer than ``limit``."""

    def __init__(self, limit: int, header_timeout: float) -> None:
        self.limit = limit
        self.header_timeout = header_timeout
        self.connections: set[Connection] = set()
        self._changed = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, connection: Connection) -> None:
        self.connections.add(connection)

    def discard(self, connection: Connection) -> None:
        self.connections.discard(connection)
        self.changed()

    def changed(self) -> None:
        """A connection closed or finished a request."""
        self._changed.set()

    async def _wait_change(self, timeout: float | None = None) -> None:
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    async def accept_forever(self, sock: socket.socket,
                             make_handler: Callable[[], web.RequestHandler]) -> None:
        """Accept connections on the listening ``sock``; at the cap, leave newcomers in the
        listen backlog (closing the longest-idle keep-alive connection to make room)."""
        loop = asyncio.get_running_loop()
        while True:
            while len(self.connections) >= self.limit:
                await _readable(sock)  # someone waits in the backlog
                self._close_longest_idle()
                await self._wait_change(0.5)
            try:
                client, _ = await loop.sock_accept(sock)
            except OSError as exc:
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    LOG.error("cannot accept a connection: %s; retrying", exc.strerror)
                    await asyncio.sleep(0.1)
                continue  # ECONNABORTED and the like: that client is gone already
            try:
                await loop.connect_accepted_socket(
                    lambda: Connection(make_handler(), self), client)
            except OSError:
                client.close()

    def _close_longest_idle(self) -> None:
        idle = [c for c in self.connections if c.state == IDLE]
        if idle:
            self._close(min(idle, key=lambda c: c.idle_since))

    def _close(self, connection: Connection) -> None:
        closing = connection.close_soon()
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    async def drain(self, grace: float) -> None:
        """Close every connection: those between requests now, busy ones once their request
        is answered (until then they keep receiving its body); after ``grace`` seconds,
        abort those still open (requests in progress see the client gone)."""
        deadline = time.monotonic() + grace
        while self.connections:
            for connection in list(self.connections):
                if connection.state in (IDLE, HEAD):
                    self._close(connection)
            if (left := deadline - time.monotonic()) <= 0:
                break
            await self._wait_change(left)
        if self.connections:
            LOG.warning("aborting %d connection(s) still busy after %gs "
                        "(shutdown_grace_seconds)", len(self.connections), grace)
        for connection in list(self.connections):
            connection.abort()
        await asyncio.gather(*self._closing, return_exceptions=True)
