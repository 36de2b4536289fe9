"""The image lifecycle through ImageService alone: create → upload → active → deactivate →
reactivate → delete, with the bytes, hashes and statuses the APIs show."""

from __future__ import annotations

import hashlib
import os

import pytest

from glance.common import exception
from glance.domain import ImageQuery
from glance.service import Change, NewImage, Upload
from tests.service.conftest import ADMIN, OTHER, OWNER, Harness, chunks_of

RAW = {"disk_format": "raw", "container_format": "bare"}


async def _read_all(harness: Harness, ctx, image_id: str) -> bytes:  # noqa: ANN001
    download = await harness.service.download(ctx, image_id)
    return b"".join([chunk async for chunk in download.read(0)])


def test_create_upload_download_deactivate_delete(harness: Harness) -> None:
    svc, data = harness.service, os.urandom(5000)
    image = harness.run(svc.create(OWNER, NewImage({"name": "one", **RAW})))
    assert (image.status, image.owner, image.size) == ("queued", "p1", None)

    image = harness.run(svc.upload(OWNER, image.id, Upload(chunks_of(data), size=len(data))))
    assert image.status == "active" and image.size == len(data)
    assert image.checksum == hashlib.md5(data).hexdigest()
    assert (image.os_hash_algo, image.os_hash_value) == ("sha512",
                                                         hashlib.sha512(data).hexdigest())
    assert harness.stored() == [image.id]
    assert harness.run(_read_all(harness, OWNER, image.id)) == data

    with pytest.raises(exception.NotFound):  # a private-by-default image of another project
        harness.run(svc.get(OTHER, image.id))
    with pytest.raises(exception.Forbidden):  # only an administrator gives an image away
        harness.run(svc.update(OWNER, image.id, Change({"owner": "p9"})))

    assert harness.run(svc.deactivate(OWNER, image.id)).status == "deactivated"
    with pytest.raises(exception.Forbidden):
        harness.run(svc.download(OWNER, image.id))
    assert harness.run(_read_all(harness, ADMIN, image.id)) == data  # admins still read it
    assert harness.run(svc.reactivate(OWNER, image.id)).status == "active"

    changed = harness.run(svc.update(OWNER, image.id, Change({"name": "renamed"},
                                                             {"distro": "debian"})))
    assert (changed.name, changed.properties) == ("renamed", {"distro": "debian"})
    listed = harness.run(svc.list_images(OWNER, ImageQuery()))
    assert [i.id for i in listed] == [image.id]

    harness.run(svc.delete(OWNER, image.id))
    with pytest.raises(exception.NotFound):
        harness.run(svc.get(ADMIN, image.id))
    assert harness.stored() == []


def test_status_changes_follow_the_state_machine(harness: Harness) -> None:
    svc = harness.service
    image = harness.run(svc.create(OWNER, NewImage(RAW)))
    with pytest.raises(exception.Forbidden):  # only an active image can be deactivated
        harness.run(svc.deactivate(OWNER, image.id))
    harness.run(svc.upload(OWNER, image.id, Upload(chunks_of(b"abc"))))
    with pytest.raises(exception.Conflict):  # no second upload to an active image
        harness.run(svc.upload(OWNER, image.id, Upload(chunks_of(b"abc"))))
    assert harness.run(svc.get(OWNER, image.id)).status == "active"


def test_tags_and_protection(harness: Harness) -> None:
    svc = harness.service
    image = harness.run(svc.create(OWNER, NewImage({**RAW, "tags": ["a", "b"],
                                                    "protected": True})))
    harness.run(svc.add_tag(OWNER, image.id, "c"))
    harness.run(svc.remove_tag(OWNER, image.id, "a"))
    assert sorted(harness.run(svc.get(OWNER, image.id)).tags) == ["b", "c"]
    with pytest.raises(exception.Forbidden):
        harness.run(svc.delete(OWNER, image.id))
    harness.run(svc.update(OWNER, image.id, Change({"protected": False})))
    harness.run(svc.delete(OWNER, image.id))
