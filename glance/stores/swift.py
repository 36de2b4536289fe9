"""Swift store (python-swiftclient): one object per key; large objects as SLO segments.

Objects smaller than ``segment_size`` go up in one PUT. Larger ones are written as segments
``<key>/<upload id>/<n>`` in ``<container>_segments`` (``max_concurrency`` in flight), then a
static large object manifest under ``key``. Failures remove every segment written; delete
removes the manifest and its segments. The client is blocking: calls run in the store's own
worker threads, each on a pooled connection. swiftclient errors never escape this module.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import queue
import uuid
from contextlib import contextmanager
from typing import Any, AsyncGenerator, Iterator

import requests
import urllib3
from swiftclient import client as swiftclient
from swiftclient.exceptions import ClientException

from glance.common import exception
from glance.stores.base import Doing, StoredObject, StoreNotFound, range_header
from glance.stores.multipart import (
    Blocking,
    BufferReader,
    PartedStore,
    PartReader,
    PartSender,
    shielded,
)

LOG = logging.getLogger(__name__)
# urllib3's errors reach us unwrapped from a response body read (a connection broken
# mid-download: ProtocolError)
_VENDOR_ERRORS = (ClientException, requests.RequestException, urllib3.exceptions.HTTPError,
                  OSError)


class SwiftStore(PartedStore):
    """Keys are object names in ``container``; the settings are those declared in
    ``glance.config`` (``STORE_SETTINGS["swift"]``)."""

    driver = "swift"
    listable = True
    max_parts = 1000  # Swift's default max_manifest_segments
    vendor_errors = _VENDOR_ERRORS

    def __init__(self, name: str, *, auth_url: str, user: str, key: str, container: str,
                 auth_version: str, project_name: str | None, project_domain_name: str,
                 user_domain_name: str, region_name: str | None, create_container: bool,
                 segment_size: int, max_concurrency: int, insecure: bool, timeout: float,
                 max_threads: int, read_chunk_size: int) -> None:
        super().__init__(name, part_size=segment_size)
        if segment_size < 1 or max_concurrency < 1:
            raise ValueError("segment_size and max_concurrency must be positive")
        version = str(auth_version).lstrip("v")
        if version in ("1", "1.0"):
            version = "1.0"
        elif version in ("3", "3.0"):
            version = "3"
            if not project_name:
                raise ValueError("auth_version 3 needs project_name")
            if importlib.util.find_spec("keystoneclient") is None:
                raise ValueError("auth_version 3 needs python-keystoneclient "
                                 "(pip install 'glance[keystone]')")
        else:
            raise ValueError(f"auth_version must be 1 or 3, not {auth_version!r}")
        self.container = container
        self.segments = f"{container}_segments"
        self.create_container = create_container
        self.max_concurrency = max_concurrency
        self.read_chunk_size = read_chunk_size
        os_options: dict[str, Any] = {}
        if version == "3":
            os_options = {"project_name": project_name, "project_domain_name":
                          project_domain_name, "user_domain_name": user_domain_name}
            if region_name:
                os_options["region_name"] = region_name
        self._connect_args: dict[str, Any] = {
            "authurl": auth_url, "user": user, "key": key, "auth_version": version,
            "os_options": os_options, "insecure": insecure, "timeout": timeout, "retries": 3}
        self._idle: queue.SimpleQueue[swiftclient.Connection] = queue.SimpleQueue()
        self._call = Blocking(max(max_threads, max_concurrency + 2), name)

    # -- connections and the vendor edge ------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[swiftclient.Connection]:
        """A connection of the pool (one per running thread; they share nothing)."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = swiftclient.Connection(**self._connect_args)
        try:
            yield conn
        except BaseException:
            conn.close()  # its HTTP connection may be mid-response: do not reuse it
            raise
        self._idle.put(conn)

    def _blocking(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with self._connection() as conn:
            return getattr(conn, method)(*args, **kwargs)

    def translate(self, exc: BaseException, key: str | None,
                  doing: Doing) -> exception.GlanceException:
        if isinstance(exc, ClientException) and exc.http_status == 404 and key is not None:
            return StoreNotFound(f"{key} is not in store {self.name}")
        status = getattr(exc, "http_status", None)
        if not status:  # a connection error names the endpoint: kept for the log only
            LOG.warning("store %s: %s of %s failed: %s", self.name, doing, key, exc)
        reason = (f"HTTP {status}" if status
                  else f"the Swift endpoint did not answer ({type(exc).__name__})")
        return self.failed(doing, reason)

    async def _swift(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``method`` of a pooled connection, in a worker thread."""
        return await self._call(self._blocking, method, *args, **kwargs)

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> None:
        for container in (self.container, self.segments):
            try:
                await self._swift("head_container", container)
            except ClientException as exc:
                if exc.http_status != 404 or not self.create_container:
                    raise
                await self._swift("put_container", container)

    async def _list_keys(self) -> list[str]:
        _, listing = await self._swift("get_container", self.container, full_listing=True)
        return [str(item["name"]) for item in listing]

    async def _check(self) -> None:
        await self._swift("head_container", self.container)

    async def close(self) -> None:
        self._call.shutdown()
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    # -- bytes ------------------------------------------------------------------------------

    async def _put_whole(self, key: str, data: bytearray) -> None:
        await self._put_object(self.container, key, data)

    async def _put_object(self, container: str, name: str, data: bytearray) -> str:
        # a file object, so that swiftclient can rewind it to retry
        body: Any = BufferReader(data) if data else b""
        try:
            etag: str = await self._swift("put_object", container, name, body,
                                          content_length=len(data),
                                          chunk_size=(1 << 20) if data else None,
                                          content_type="application/octet-stream")
            return etag
        finally:
            if data:
                body.release()

    async def _put_parts(self, key: str, reader: PartReader) -> None:
        prefix = f"{key}/{uuid.uuid4().hex}/"

        async def send(number: int, data: bytearray) -> dict[str, Any]:
            name = f"{prefix}{number:08d}"
            etag = await self._put_object(self.segments, name, data)
            return {"path": f"/{self.segments}/{name}", "etag": etag, "size_bytes": len(data)}

        sender: PartSender[dict[str, Any]] = PartSender(send, self.max_concurrency)
        try:
            manifest = await sender.run(reader)
            await self._swift("put_object", self.container, key, json.dumps(manifest),
                              query_string="multipart-manifest=put",
                              content_type="application/octet-stream")
        except BaseException:
            await shielded(self._discard_segments(prefix, sender))
            raise

    async def _discard_segments(self, prefix: str, sender: PartSender[Any]) -> None:
        await sender.settle()  # no segment may land after the cleanup
        try:
            _, listing = await self._swift("get_container", self.segments, prefix=prefix,
                                           full_listing=True)
        except _VENDOR_ERRORS as exc:
            LOG.error("store %s: cannot list segments %s*: %s", self.name, prefix, exc)
            return
        await self._delete_segments([f"/{self.segments}/{item['name']}" for item in listing])

    async def _delete_segments(self, paths: list[str]) -> None:
        """Delete segments (``/container/name``), ``max_concurrency`` at a time; log failures."""
        slots = asyncio.Semaphore(self.max_concurrency)

        async def one(path: str) -> None:
            container, _, name = path.lstrip("/").partition("/")
            async with slots:
                try:
                    await self._swift("delete_object", container, name)
                except _VENDOR_ERRORS as exc:
                    if not (isinstance(exc, ClientException) and exc.http_status == 404):
                        LOG.error("store %s: cannot delete segment %s: %s", self.name, path, exc)

        await asyncio.gather(*(one(path) for path in paths))

    async def _discard_partial(self, key: str) -> None:
        _, listing = await self._swift("get_container", self.segments, prefix=f"{key}/",
                                       full_listing=True)
        if listing:
            LOG.warning("store %s: deleting %d segment(s) of %s left by a crash", self.name,
                        len(listing), key)
        await self._delete_segments([f"/{self.segments}/{item['name']}" for item in listing])

    async def _get(self, key: str, offset: int,
                   length: int | None) -> AsyncGenerator[bytes, None]:
        wanted = range_header(offset, length)
        conn = self._take()
        try:
            try:
                _, body = await self._call(conn.get_object, self.container, key,
                                           resp_chunk_size=self.read_chunk_size,
                                           headers={"Range": wanted} if wanted else None)
            except ClientException as exc:
                if exc.http_status != 416:
                    raise
                self._idle.put(conn)
                return  # nothing at or after offset
            try:
                while data := await self._call(body.read, self.read_chunk_size):
                    yield data
            finally:
                body.close()
        except BaseException:
            conn.close()
            raise
        self._idle.put(conn)

    def _take(self) -> swiftclient.Connection:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return swiftclient.Connection(**self._connect_args)

    async def _delete(self, key: str) -> bool:
        try:
            headers = await self._swift("head_object", self.container, key)
        except ClientException as exc:
            if exc.http_status == 404:
                return False
            raise
        segments: list[str] = []
        if str(headers.get("x-static-large-object", "")).lower() == "true":
            _, raw = await self._swift("get_object", self.container, key,
                                       query_string="multipart-manifest=get")
            try:
                segments = [item["name"] for item in json.loads(raw)]
            except (ValueError, KeyError, TypeError):
                raise self.failed("delete", f"the manifest of {key} is not readable") from None
        try:
            await self._swift("delete_object", self.container, key)
        except ClientException as exc:
            if exc.http_status == 404:
                return False
            raise
        if segments:
            await self._delete_segments(segments)
        return True

    async def _stat(self, key: str) -> StoredObject:
        headers = await self._swift("head_object", self.container, key)
        return StoredObject(key=key, size=int(headers.get("content-length", 0)))
