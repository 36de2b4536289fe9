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
from typing import Any, AsyncIterator, Iterator, NoReturn

import requests
from swiftclient import client as swiftclient
from swiftclient.exceptions import ClientException

from glance.stores._parts import Blocking, BufferReader, PartReader, PartSender, shielded
from glance.stores.base import Chunk, Store, StoredObject, StoreNotFound, StoreWriteError, check_key

LOG = logging.getLogger(__name__)
MAX_SEGMENTS = 1000  # Swift's default max_manifest_segments
_VENDOR_ERRORS = (ClientException, requests.RequestException, OSError)


class SwiftStore(Store):
    """Keys are object names in ``container``."""

    driver = "swift"

    def __init__(self, name: str, *, auth_url: str, user: str, key: str, container: str,
                 auth_version: str = "1", project_name: str | None = None,
                 project_domain_name: str = "Default", user_domain_name: str = "Default",
                 region_name: str | None = None, create_container: bool = False,
                 segment_size: int = 64 << 20, max_concurrency: int = 2,
                 insecure: bool = False, timeout: float = 120.0, max_threads: int = 16,
                 read_chunk_size: int = 1 << 20) -> None:
        super().__init__(name)
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
        self.segment_size = segment_size
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

    def _fail(self, exc: BaseException, key: str | None, doing: str) -> NoReturn:
        if isinstance(exc, ClientException) and exc.http_status == 404 and key is not None:
            raise StoreNotFound(f"{key} is not in store {self.name}") from None
        status = getattr(exc, "http_status", None)
        lines = [line for line in str(exc).splitlines() if line.strip()]
        reason = f"HTTP {status}" if status else (lines[0][:200] if lines else type(exc).__name__)
        raise StoreWriteError(f"Store {self.name} failed to {doing}: {reason}") from None

    async def _swift(self, doing: str, key: str | None, method: str, *args: Any,
                     **kwargs: Any) -> Any:
        try:
            return await self._call(self._blocking, method, *args, **kwargs)
        except _VENDOR_ERRORS as exc:
            self._fail(exc, key, doing)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        for container in (self.container, self.segments):
            try:
                await self._call(self._blocking, "head_container", container)
            except ClientException as exc:
                if exc.http_status != 404 or not self.create_container:
                    self._fail(exc, None, f"open container {container}")
                await self._swift(f"create container {container}", None, "put_container",
                                  container)
            except _VENDOR_ERRORS as exc:
                self._fail(exc, None, f"open container {container}")

    async def close(self) -> None:
        self._call.shutdown()
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    # -- bytes ------------------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[Chunk],
                  size_hint: int | None = None) -> StoredObject:
        check_key(key)
        segment_size = self.segment_size
        if size_hint is not None and size_hint > segment_size * MAX_SEGMENTS:
            segment_size = -(-size_hint // MAX_SEGMENTS)  # bigger segments, so that it fits
        reader = PartReader(chunks, segment_size)
        first = await reader.next_part() or bytearray()
        if reader.eof and len(first) < segment_size:
            await self._put_plain(key, first)
            return StoredObject(key=key, size=len(first))
        reader.push_back(first)
        del first  # only the reader holds the part now
        return await self._put_segmented(key, reader)

    async def _put_plain(self, container_key: str, data: bytearray, container: str | None = None,
                         doing: str = "write") -> str:
        # a file object, so that swiftclient can rewind it to retry
        body: Any = BufferReader(data) if data else b""
        try:
            etag: str = await self._swift(doing, container_key, "put_object",
                                          container or self.container, container_key, body,
                                          content_length=len(data),
                                          chunk_size=(1 << 20) if data else None,
                                          content_type="application/octet-stream")
            return etag
        finally:
            if data:
                body.release()

    async def _put_segmented(self, key: str, reader: PartReader) -> StoredObject:
        prefix = f"{key}/{uuid.uuid4().hex}/"

        async def send(number: int, data: bytearray) -> dict[str, Any]:
            name = f"{prefix}{number:08d}"
            etag = await self._put_plain(name, data, self.segments, "write a segment")
            return {"path": f"/{self.segments}/{name}", "etag": etag, "size_bytes": len(data)}

        sender: PartSender[dict[str, Any]] = PartSender(send, self.max_concurrency)
        try:
            manifest = await sender.run(reader)
            await self._swift("write the manifest", key, "put_object", self.container, key,
                              json.dumps(manifest), query_string="multipart-manifest=put",
                              content_type="application/octet-stream")
        except BaseException:
            await shielded(self._discard_segments(prefix, sender))
            raise
        return StoredObject(key=key, size=reader.total)

    async def _discard_segments(self, prefix: str, sender: PartSender[Any]) -> None:
        await sender.settle()  # no segment may land after the cleanup
        try:
            _, listing = await self._call(self._blocking, "get_container", self.segments,
                                          prefix=prefix, full_listing=True)
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
                    await self._call(self._blocking, "delete_object", container, name)
                except ClientException as exc:
                    if exc.http_status != 404:
                        LOG.error("store %s: cannot delete segment %s: %s", self.name, path, exc)
                except _VENDOR_ERRORS as exc:
                    LOG.error("store %s: cannot delete segment %s: %s", self.name, path, exc)

        await asyncio.gather(*(one(path) for path in paths))

    async def discard_partial(self, key: str) -> None:
        check_key(key)
        _, listing = await self._swift("list segments", None, "get_container", self.segments,
                                       prefix=f"{key}/", full_listing=True)
        if listing:
            LOG.warning("store %s: deleting %d segment(s) of %s left by a crash", self.name,
                        len(listing), key)
        await self._delete_segments([f"/{self.segments}/{item['name']}" for item in listing])

    async def get(self, key: str, offset: int = 0,
                  length: int | None = None) -> AsyncIterator[bytes]:
        check_key(key)
        if length == 0:
            return
        headers = {}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            headers["Range"] = f"bytes={offset}-{end}"
        conn = self._take()
        try:
            try:
                _, body = await self._call(conn.get_object, self.container, key,
                                           resp_chunk_size=self.read_chunk_size,
                                           headers=headers or None)
            except ClientException as exc:
                if exc.http_status == 416:
                    self._idle.put(conn)
                    return  # nothing at or after offset
                self._fail(exc, key, "read")
            except _VENDOR_ERRORS as exc:
                self._fail(exc, key, "read")
            try:
                while True:
                    try:
                        data = await self._call(body.read, self.read_chunk_size)
                    except _VENDOR_ERRORS as exc:
                        self._fail(exc, None, f"read {key}")
                    if not data:
                        break
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

    async def delete(self, key: str) -> bool:
        check_key(key)
        try:
            headers = await self._swift("stat", key, "head_object", self.container, key)
        except StoreNotFound:
            return False
        segments: list[str] = []
        if str(headers.get("x-static-large-object", "")).lower() == "true":
            _, raw = await self._swift("read the manifest", key, "get_object", self.container,
                                       key, query_string="multipart-manifest=get")
            try:
                segments = [item["name"] for item in json.loads(raw)]
            except (ValueError, KeyError, TypeError):
                raise StoreWriteError(f"Store {self.name}: the manifest of {key} is not "
                                      f"readable") from None
        try:
            await self._swift("delete", key, "delete_object", self.container, key)
        except StoreNotFound:
            return False
        if segments:
            await self._delete_segments(segments)
        return True

    async def stat(self, key: str) -> StoredObject:
        check_key(key)
        headers = await self._swift("stat", key, "head_object", self.container, key)
        return StoredObject(key=key, size=int(headers.get("content-length", 0)))
