"""S3 store (boto3): one object per key; multipart uploads for large objects.

botocore is blocking: every call runs in the store's own worker threads. botocore errors
are translated here into StoreNotFound / StoreWriteError and never escape.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator, Callable, NoReturn, cast

import boto3
import botocore.exceptions
from botocore.config import Config

from glance.stores._parts import Blocking, PartReader, PartSender, shielded
from glance.stores.base import Chunk, Store, StoredObject, StoreNotFound, StoreWriteError, check_key

LOG = logging.getLogger(__name__)
MAX_PARTS = 10000  # parts of one multipart upload, at most (S3)
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}


class S3Store(Store):
    """Keys are object names in ``bucket``.

    Objects smaller than both ``multipart_threshold`` and ``part_size`` go up in one PUT;
    anything else as a multipart upload of ``part_size`` parts, ``max_concurrency`` in
    flight, aborted on any failure. At most one part per slot is held in memory.
    """

    driver = "s3"

    def __init__(self, name: str, *, bucket: str, endpoint_url: str | None = None,
                 access_key: str | None = None, secret_key: str | None = None,
                 region: str = "us-east-1", addressing_style: str = "path",
                 create_bucket: bool = False, multipart_threshold: int = 8 << 20,
                 part_size: int = 8 << 20, max_concurrency: int = 4, verify_ssl: bool = True,
                 connect_timeout: float = 10.0, read_timeout: float = 120.0,
                 max_threads: int = 16, read_chunk_size: int = 1 << 20) -> None:
        super().__init__(name)
        if part_size < 1 or multipart_threshold < 0 or max_concurrency < 1:
            raise ValueError("part_size and max_concurrency must be positive")
        if addressing_style not in ("path", "virtual", "auto"):
            raise ValueError(f"addressing_style must be path, virtual or auto, "
                             f"not {addressing_style!r}")
        self.bucket = bucket
        self.create_bucket = create_bucket
        self.region = region
        self.multipart_threshold = multipart_threshold
        self.part_size = part_size
        self.max_concurrency = max_concurrency
        self.read_chunk_size = read_chunk_size
        threads = max(max_threads, max_concurrency + 2)
        self._call = Blocking(threads, name)
        session = boto3.session.Session()
        self._client = session.client(
            "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, region_name=region, verify=verify_ssl,
            config=Config(signature_version="s3v4", s3=cast(Any, {"addressing_style": addressing_style}),
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          max_pool_connections=threads,
                          retries={"max_attempts": 3, "mode": "standard"}))

    # -- the edge: every vendor error becomes a store error here ------------------------------

    def _fail(self, exc: Exception, key: str | None, doing: str) -> NoReturn:
        if isinstance(exc, botocore.exceptions.ClientError):
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING and key is not None:
                raise StoreNotFound(f"{key} is not in store {self.name}") from None
            raise StoreWriteError(f"Store {self.name} failed to {doing}: {code or exc}") from None
        raise StoreWriteError(f"Store {self.name} failed to {doing}: {exc}") from None

    async def _s3(self, doing: str, key: str | None, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return await self._call(fn, **kwargs)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as exc:
            self._fail(exc, key, doing)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self._call(self._client.head_bucket, Bucket=self.bucket)
            return
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("404", "NoSuchBucket", "NotFound") or not self.create_bucket:
                self._fail(exc, None, f"open bucket {self.bucket}")
        except botocore.exceptions.BotoCoreError as exc:
            self._fail(exc, None, f"open bucket {self.bucket}")
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self._call(self._client.create_bucket, **kwargs)
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                self._fail(exc, None, f"create bucket {self.bucket}")
        except botocore.exceptions.BotoCoreError as exc:
            self._fail(exc, None, f"create bucket {self.bucket}")

    async def close(self) -> None:
        self._call.shutdown()
        self._client.close()

    # -- bytes ------------------------------------------------------------------------------

    async def put(self, key: str, chunks: AsyncIterator[Chunk],
                  size_hint: int | None = None) -> StoredObject:
        check_key(key)
        part_size = self.part_size
        if size_hint is not None and size_hint > part_size * MAX_PARTS:
            part_size = -(-size_hint // MAX_PARTS)  # bigger parts, so that the upload fits
        reader = PartReader(chunks, part_size)
        first = await reader.next_part() or bytearray()
        if reader.eof and len(first) < part_size and len(first) < self.multipart_threshold:
            await self._s3("write", key, self._client.put_object, Bucket=self.bucket, Key=key,
                           Body=first, ContentType="application/octet-stream")
            return StoredObject(key=key, size=len(first))
        reader.push_back(first)
        del first  # only the reader holds the part now
        return await self._put_multipart(key, reader)

    async def _put_multipart(self, key: str, reader: PartReader) -> StoredObject:
        created = await self._s3("start a multipart upload", key,
                                 self._client.create_multipart_upload, Bucket=self.bucket,
                                 Key=key, ContentType="application/octet-stream")
        upload_id = created["UploadId"]

        async def send(number: int, data: bytearray) -> dict[str, Any]:
            answer = await self._s3("write a part", key, self._client.upload_part,
                                    Bucket=self.bucket, Key=key, UploadId=upload_id,
                                    PartNumber=number, Body=data)
            part = {"PartNumber": number, "ETag": answer["ETag"]}
            for field in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256",
                          "ChecksumCRC64NVME"):
                if answer.get(field):
                    part[field] = answer[field]
            return part

        sender: PartSender[dict[str, Any]] = PartSender(send, self.max_concurrency)
        try:
            parts = await sender.run(reader)
            await self._s3("complete a multipart upload", key,
                           self._client.complete_multipart_upload, Bucket=self.bucket, Key=key,
                           UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            await shielded(self._abort(key, upload_id, sender))
            raise
        return StoredObject(key=key, size=reader.total)

    async def _abort(self, key: str, upload_id: str, sender: PartSender[Any]) -> None:
        await sender.settle()  # no part may land after the abort
        try:
            await self._call(self._client.abort_multipart_upload, Bucket=self.bucket, Key=key,
                             UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the original error
            LOG.error("store %s: cannot abort multipart upload %s of %s: %s", self.name,
                      upload_id, key, exc)

    async def discard_partial(self, key: str) -> None:
        check_key(key)
        answer = await self._s3("list multipart uploads", None,
                                self._client.list_multipart_uploads, Bucket=self.bucket,
                                Prefix=key)
        for upload in answer.get("Uploads", []):
            if upload.get("Key") == key:
                LOG.warning("store %s: aborting multipart upload %s of %s left by a crash",
                            self.name, upload["UploadId"], key)
                try:
                    await self._s3("abort a multipart upload", key,
                                   self._client.abort_multipart_upload, Bucket=self.bucket,
                                   Key=key, UploadId=upload["UploadId"])
                except StoreNotFound:
                    pass

    async def get(self, key: str, offset: int = 0,
                  length: int | None = None) -> AsyncIterator[bytes]:
        check_key(key)
        if length == 0:
            return
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            kwargs["Range"] = f"bytes={offset}-{end}"
        try:
            answer = await self._call(self._client.get_object, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) == "InvalidRange":
                return  # nothing at or after offset
            self._fail(exc, key, "read")
        except botocore.exceptions.BotoCoreError as exc:
            self._fail(exc, key, "read")
        body = answer["Body"]
        try:
            while True:
                try:
                    data = await self._call(body.read, self.read_chunk_size)
                except (botocore.exceptions.BotoCoreError, OSError) as exc:
                    raise StoreWriteError(f"Store {self.name} failed to read {key}: "
                                          f"{exc}") from None
                if not data:
                    break
                yield data
        finally:
            body.close()

    async def delete(self, key: str) -> bool:
        check_key(key)
        try:
            await self.stat(key)
        except StoreNotFound:
            return False
        await self._s3("delete", key, self._client.delete_object, Bucket=self.bucket, Key=key)
        return True

    async def stat(self, key: str) -> StoredObject:
        check_key(key)
        answer = await self._s3("stat", key, self._client.head_object, Bucket=self.bucket,
                                Key=key)
        return StoredObject(key=key, size=int(answer["ContentLength"]))

