"""S3 store (boto3): one object per key; multipart uploads for large objects.

botocore is blocking: every call runs in the store's own worker threads. botocore errors
are translated into store errors in ``translate``, the one place, and never escape.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncGenerator, cast

import boto3
import botocore.exceptions
from botocore.config import Config

from glance.common import exception
from glance.stores.base import Doing, StoredObject, StoreNotFound, range_header
from glance.stores.multipart import Blocking, PartedStore, PartReader, PartSender, shielded

LOG = logging.getLogger(__name__)
_MISSING = {"404", "NoSuchKey", "NotFound", "NoSuchUpload"}
_NO_BUCKET = {"404", "NoSuchBucket", "NotFound"}


def _code(exc: BaseException) -> str:
    """The S3 error code of a ClientError ('' for anything else)."""
    if isinstance(exc, botocore.exceptions.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


class S3Store(PartedStore):
    """Keys are object names in ``bucket``.

    Objects smaller than both ``multipart_threshold`` and ``part_size`` go up in one PUT;
    anything else as a multipart upload of ``part_size`` parts, ``max_concurrency`` in
    flight, aborted on any failure. At most one part per slot is held in memory. The
    settings are those declared in ``glance.config`` (``STORE_SETTINGS["s3"]``).
    """

    driver = "s3"
    listable = True
    max_parts = 10000  # parts of one multipart upload, at most (S3)
    vendor_errors = (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError,
                     OSError)

    def __init__(self, name: str, *, bucket: str, endpoint_url: str | None,
                 access_key: str | None, secret_key: str | None, region: str,
                 addressing_style: str, create_bucket: bool, multipart_threshold: int,
                 part_size: int, max_concurrency: int, verify_ssl: bool,
                 connect_timeout: float, read_timeout: float, max_threads: int,
                 read_chunk_size: int) -> None:
        super().__init__(name, part_size=part_size, whole_below=multipart_threshold)
        if part_size < 1 or multipart_threshold < 0 or max_concurrency < 1:
            raise ValueError("part_size and max_concurrency must be positive")
        if addressing_style not in ("path", "virtual", "auto"):
            raise ValueError(f"addressing_style must be path, virtual or auto, "
                             f"not {addressing_style!r}")
        self.bucket = bucket
        self.create_bucket = create_bucket
        self.region = region
        self.max_concurrency = max_concurrency
        self.read_chunk_size = read_chunk_size
        threads = max(max_threads, max_concurrency + 2)
        self._call = Blocking(threads, name)
        session = boto3.session.Session()
        self._client = session.client(
            "s3", endpoint_url=endpoint_url, aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, region_name=region, verify=verify_ssl,
            config=Config(signature_version="s3v4",
                          s3=cast(Any, {"addressing_style": addressing_style}),
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          max_pool_connections=threads,
                          retries={"max_attempts": 3, "mode": "standard"}))

    def translate(self, exc: BaseException, key: str | None,
                  doing: Doing) -> exception.GlanceException:
        code = _code(exc)
        if code in _MISSING and key is not None:
            return StoreNotFound(f"{key} is not in store {self.name}")
        if not code:  # a connection error names the endpoint: kept for the log only
            LOG.warning("store %s: %s of %s failed: %s", self.name, doing, key, exc)
        return self.failed(doing, code or f"the S3 endpoint did not answer "
                                          f"({type(exc).__name__})")

    # -- lifecycle ------------------------------------------------------------------------

    async def _start(self) -> None:
        try:
            await self._call(self._client.head_bucket, Bucket=self.bucket)
            return
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in _NO_BUCKET or not self.create_bucket:
                raise
        kwargs: dict[str, Any] = {"Bucket": self.bucket}
        if self.region and self.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            await self._call(self._client.create_bucket, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    async def _list_keys(self) -> list[str]:
        def keys() -> list[str]:
            pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
            return [item["Key"] for page in pages for item in page.get("Contents", [])]
        return await self._call(keys)

    async def _check(self) -> None:
        await self._call(self._client.head_bucket, Bucket=self.bucket)

    async def close(self) -> None:
        self._call.shutdown()
        self._client.close()

    # -- bytes ------------------------------------------------------------------------------

    async def _put_whole(self, key: str, data: bytearray) -> None:
        await self._call(self._client.put_object, Bucket=self.bucket, Key=key, Body=data,
                         ContentType="application/octet-stream")

    async def _put_parts(self, key: str, reader: PartReader) -> None:
        created = await self._call(self._client.create_multipart_upload, Bucket=self.bucket,
                                   Key=key, ContentType="application/octet-stream")
        upload_id = created["UploadId"]

        async def send(number: int, data: bytearray) -> dict[str, Any]:
            answer = await self._call(self._client.upload_part, Bucket=self.bucket, Key=key,
                                      UploadId=upload_id, PartNumber=number, Body=data)
            part = {"PartNumber": number, "ETag": answer["ETag"]}
            for field in ("ChecksumCRC32", "ChecksumCRC32C", "ChecksumSHA1", "ChecksumSHA256",
                          "ChecksumCRC64NVME"):
                if answer.get(field):
                    part[field] = answer[field]
            return part

        sender: PartSender[dict[str, Any]] = PartSender(send, self.max_concurrency)
        try:
            parts = await sender.run(reader)
            await self._call(self._client.complete_multipart_upload, Bucket=self.bucket,
                             Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})
        except BaseException:
            await shielded(self._abort(key, upload_id, sender))
            raise

    async def _abort(self, key: str, upload_id: str, sender: PartSender[Any]) -> None:
        await sender.settle()  # no part may land after the abort
        try:
            await self._call(self._client.abort_multipart_upload, Bucket=self.bucket, Key=key,
                             UploadId=upload_id)
        except Exception as exc:  # noqa: BLE001 - cleanup must not hide the original error
            LOG.error("store %s: cannot abort multipart upload %s of %s: %s", self.name,
                      upload_id, key, exc)

    async def _discard_partial(self, key: str) -> None:
        answer = await self._call(self._client.list_multipart_uploads, Bucket=self.bucket,
                                  Prefix=key)
        for upload in answer.get("Uploads", []):
            if upload.get("Key") == key:
                LOG.warning("store %s: aborting multipart upload %s of %s left by a crash",
                            self.name, upload["UploadId"], key)
                try:
                    await self._call(self._client.abort_multipart_upload, Bucket=self.bucket,
                                     Key=key, UploadId=upload["UploadId"])
                except botocore.exceptions.ClientError as exc:
                    if _code(exc) not in _MISSING:
                        raise

    async def _get(self, key: str, offset: int,
                   length: int | None) -> AsyncGenerator[bytes, None]:
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key}
        wanted = range_header(offset, length)
        if wanted:
            kwargs["Range"] = wanted
        try:
            answer = await self._call(self._client.get_object, **kwargs)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) == "InvalidRange":
                return  # nothing at or after offset
            raise
        body = answer["Body"]
        try:
            while data := await self._call(body.read, self.read_chunk_size):
                yield data
        finally:
            body.close()

    async def _delete(self, key: str) -> bool:
        try:
            await self._stat(key)
        except botocore.exceptions.ClientError as exc:
            if _code(exc) in _MISSING:
                return False
            raise
        await self._call(self._client.delete_object, Bucket=self.bucket, Key=key)
        return True

    async def _stat(self, key: str) -> StoredObject:
        answer = await self._call(self._client.head_object, Bucket=self.bucket, Key=key)
        return StoredObject(key=key, size=int(answer["ContentLength"]))
