"""copy-image and DELETE /v2/stores with object stores: an image uploaded to a local file
store is copied into S3 (multipart) and Swift (segmented), read back from each, removed from
one, and a copy that fails verification leaves no object, part or segment behind."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any

import httpx

from tests.stores.test_api_stores import BIG, Deployment, deployment  # noqa: F401 (fixture)


def _image(url: str, data: bytes) -> str:
    image = httpx.post(url + "/v2/images", json={"name": "copy", "disk_format": "raw",
                                                 "container_format": "bare"}).json()
    resp = httpx.put(f"{url}/v2/images/{image['id']}/file", content=data, timeout=120,
                     headers={"Content-Type": "application/octet-stream"})
    assert resp.status_code == 204, resp.text
    return image["id"]


def _copy_and_wait(url: str, image_id: str, stores: list[str]) -> dict[str, Any]:
    resp = httpx.post(f"{url}/v2/images/{image_id}/import",
                      json={"method": {"name": "copy-image"}, "stores": stores})
    assert resp.status_code == 202, resp.text
    deadline = time.monotonic() + 120
    while True:
        # the task first: an image read after it has finished shows all the task did
        task = httpx.get(f"{url}/v2/images/{image_id}/tasks").json()["tasks"][0]
        image = httpx.get(f"{url}/v2/images/{image_id}").json()
        if task["status"] in ("success", "failure"):
            return image
        assert time.monotonic() < deadline, (image, task)
        time.sleep(0.2)


def _holding(deployment: Deployment, image_id: str) -> set[str]:  # noqa: F811
    return {where for where, names in deployment.leftovers().items()
            if any(image_id in name for name in names)}


def test_copy_into_s3_and_swift_then_delete_from_store(deployment: Deployment) -> None:  # noqa: F811
    url = deployment.server.url
    data = os.urandom(BIG)
    iid = _image(url, data)
    image = _copy_and_wait(url, iid, ["cold", "archive"])
    assert image["stores"] == "local,cold,archive"
    assert _holding(deployment, iid) >= {"local", "bucket", "container", "container_segments"}
    for store in ("local", "cold"):  # each copy serves the download in turn
        got = httpx.get(f"{url}/v2/images/{iid}/file", timeout=120)
        assert got.status_code == 200 and hashlib.md5(got.content).digest() == \
            hashlib.md5(data).digest()
        assert httpx.delete(f"{url}/v2/stores/{store}/{iid}").status_code == 204
    assert httpx.get(f"{url}/v2/images/{iid}").json()["stores"] == "archive"
    assert _holding(deployment, iid) == {"container", "container_segments"}
    got = httpx.get(f"{url}/v2/images/{iid}/file", timeout=120,
                    headers={"Range": "bytes=5-1000004"})
    assert got.status_code == 206 and got.content == data[5:1000005]
    assert httpx.delete(f"{url}/v2/images/{iid}").status_code == 204
    assert _holding(deployment, iid) == set()


def test_failed_copy_into_s3_leaves_no_object_or_part(deployment: Deployment) -> None:  # noqa: F811
    url = deployment.server.url
    data = os.urandom(BIG)
    iid = _image(url, data)
    (deployment.local_dir / iid).write_bytes(os.urandom(BIG))  # same size, other bytes
    image = _copy_and_wait(url, iid, ["cold"])
    assert image["status"] == "active" and image["stores"] == "local"
    assert image["os_glance_failed_import"] == "cold"
    assert _holding(deployment, iid) == {"local"}  # nothing in the bucket nor its parts
    httpx.delete(f"{url}/v2/images/{iid}")
