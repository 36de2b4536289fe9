"""A TCP proxy the fault tests control, between glance-api and a real store server: it
forwards bytes both ways until told to fail — cut every connection after so many bytes
have passed in one direction, and refuse new connections until restored. The store is
real, and so is the network fault glance sees (a reset connection, then a refused port)."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Literal

Direction = Literal["up", "down"]  # up: glance → store (uploads); down: store → glance


class FaultyProxy:
    """Listens on 127.0.0.1:``port`` (a free one by default) and forwards to ``target``."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._armed: tuple[Direction, int] | None = None
        self._passed = {"up": 0, "down": 0}
        self.tripped = threading.Event()  # set when an armed fault fired
        self.connections = 0
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port: int = sock.getsockname()[1]
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self, coro):  # noqa: ANN001, ANN202 - a coroutine, its result
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(30)

    # -- control (from the test's thread) ---------------------------------------------------

    def up(self) -> None:
        """Accept connections again (the store is back)."""
        async def start() -> None:
            if self._server is None:
                self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port,
                                                          reuse_address=True)
        self._run(start())

    def down(self) -> None:
        """The store goes away: every open connection is reset, new ones are refused."""
        self._run(self._down())

    def cut_after(self, direction: Direction, nbytes: int) -> None:
        """Go down once ``nbytes`` more bytes have passed in ``direction``."""
        async def arm() -> None:
            self._passed = {"up": 0, "down": 0}
            self.tripped.clear()
            self._armed = (direction, nbytes)
        self._run(arm())

    def close(self) -> None:
        self._run(self._down())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    # -- the proxy ---------------------------------------------------------------------------

    async def _down(self) -> None:
        self._armed = None
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            sock = writer.get_extra_info("socket")
            if sock is not None:  # RST, as a store process that dies would leave it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
            writer.transport.abort()
        self._writers.clear()
        self.tripped.set()

    async def _serve(self, client_r: asyncio.StreamReader,
                     client_w: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            store_r, store_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.transport.abort()
            return
        self._writers |= {client_w, store_w}
        await asyncio.gather(self._pipe(client_r, store_w, "up"),
                             self._pipe(store_r, client_w, "down"), return_exceptions=True)
        for writer in (client_w, store_w):
            self._writers.discard(writer)
            writer.close()

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    direction: Direction) -> None:
        try:
            while data := await reader.read(1 << 16):
                writer.write(data)
                await writer.drain()
                self._passed[direction] += len(data)
                if self._armed and self._armed[0] == direction and \
                        self._passed[direction] >= self._armed[1]:
                    await self._down()
                    return
        finally:
            if writer.can_write_eof() and not writer.is_closing():
                try:
                    writer.write_eof()
                except OSError:
                    pass
