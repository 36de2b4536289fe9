"""The upload pipeline's failure paths through ImageService alone: whatever goes wrong,
nothing is left in the store and the image ends as the APIs say (v2: queued again; v1:
killed; deleted meanwhile: Gone)."""

from __future__ import annotations

import errno
import hashlib
import os
from typing import AsyncIterator

import pytest

from glance.common import exception
from glance.domain import Image
from glance.service import NewImage, Source, Upload
from glance.stores import FileStore, StoredObject
from glance.stores.base import Chunk
from tests.service.conftest import OWNER, Harness, chunks_of

RAW = {"disk_format": "raw", "container_format": "bare"}
DATA = os.urandom(10_000)


def _queued(harness: Harness) -> Image:
    return harness.run(harness.service.create(OWNER, NewImage(RAW)))


def _status(harness: Harness, image_id: str) -> str:
    return harness.run(harness.service.core.db(harness.service.core.registry.get, image_id,
                                               True)).status


def test_size_mismatch_leaves_nothing_and_the_image_queued(harness: Harness) -> None:
    image = _queued(harness)
    for declared in (len(DATA) - 1, len(DATA) + 1):  # data too long, then too short
        with pytest.raises(exception.BadRequest, match="Size mismatch"):
            harness.run(harness.service.upload(OWNER, image.id, Upload(
                chunks_of(DATA), size=declared)))
        assert _status(harness, image.id) == "queued"
        assert harness.stored() == []
    upload = harness.run(harness.service.upload(OWNER, image.id, Upload(chunks_of(DATA))))
    assert upload.status == "active"  # and it can be uploaded again


def test_checksum_mismatch_kills_a_v1_image(harness: Harness) -> None:
    wrong = hashlib.md5(b"something else").hexdigest()
    with pytest.raises(exception.BadRequest, match="Checksum mismatch"):
        harness.run(harness.service.register(OWNER, NewImage(RAW), Source(
            body=chunks_of(DATA), checksum=wrong)))
    [image] = harness.run(harness.service.core.db(harness.service.core.registry.ids_in_status,
                                                  "killed"))
    assert image.size is None and image.checksum is None
    assert harness.stored() == []


def test_client_gone_mid_upload_is_400_and_leaves_nothing(harness: Harness) -> None:
    image = _queued(harness)
    with pytest.raises(exception.BadRequest, match="client disconnected"):
        harness.run(harness.service.upload(OWNER, image.id, Upload(
            chunks_of(DATA, fail_after=3), size=len(DATA))))
    assert _status(harness, image.id) == "queued"
    assert harness.stored() == []


class FullDisk(FileStore):
    """A file store whose disk fills up after ``room`` bytes."""

    room = 3000

    async def _put(self, key: str, chunks: AsyncIterator[Chunk],
                   size_hint: int | None) -> StoredObject:
        async def until_full() -> AsyncIterator[Chunk]:
            written = 0
            async for chunk in chunks:
                written += len(chunk)
                if written > self.room:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                yield chunk
        return await super()._put(key, until_full(), size_hint)


def test_store_failure_mid_write_is_a_store_error_and_leaves_nothing(
        harness: Harness) -> None:
    file_store = harness.service.core.stores["file"]
    assert isinstance(file_store, FileStore)
    full = FullDisk("file", str(file_store.directory), fsync=False, read_chunk_size=1 << 20)
    for alias, store in list(harness.service.core.stores.items()):
        if store is file_store:
            harness.service.core.stores[alias] = full
    image = _queued(harness)
    with pytest.raises(exception.StoreError) as raised:
        harness.run(harness.service.upload(OWNER, image.id, Upload(chunks_of(DATA))))
    assert raised.value.code == 503 and "No space left" in str(raised.value)
    assert _status(harness, image.id) == "queued"
    assert harness.stored() == []


def test_deleted_during_upload_is_gone_and_leaves_nothing(harness: Harness) -> None:
    image = _queued(harness)

    async def delete_midway(n: int) -> None:
        if n == 2:
            await harness.service.delete(OWNER, image.id)

    with pytest.raises(exception.Gone):
        harness.run(harness.service.upload(OWNER, image.id, Upload(
            chunks_of(DATA, on_chunk=delete_midway))))
    assert _status(harness, image.id) == "deleted"
    assert harness.stored() == []


def test_storage_quota_is_enforced_while_streaming(harness: Harness) -> None:
    harness.service.core.settings = harness.settings.replace(project_storage_quota=4000)
    image = _queued(harness)
    with pytest.raises(exception.LimitExceeded):
        harness.run(harness.service.upload(OWNER, image.id, Upload(chunks_of(DATA))))
    assert _status(harness, image.id) == "queued"
    assert harness.stored() == []
