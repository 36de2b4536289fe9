"""Who may see and change what, over v1: callers × images of each visibility × endpoints.

Every cell creates its own image (owner p1) so outcomes never depend on each other. The
callers: the owner p1, p2 (a member of the shared image), the stranger p3, and an admin.
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.conftest import RunningServer

CALLERS: dict[str, dict[str, str]] = {
    "owner": {"X-Project-Id": "p1", "X-Roles": "member"},
    "member": {"X-Project-Id": "p2", "X-Roles": "member"},
    "stranger": {"X-Project-Id": "p3", "X-Roles": "member"},
    "admin": {"X-Project-Id": "ops", "X-Roles": "admin"},
}
KINDS = ("public", "private", "shared")
DATA = b"matrix-bytes"


def make_image(server: RunningServer, kind: str) -> str:
    """An active image owned by p1; public, private, or shared with p2."""
    headers = {**CALLERS["admin"], "x-image-meta-owner": "p1", "x-image-meta-name": "matrix",
               "x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare",
               "x-image-meta-is_public": str(kind == "public"),
               "Content-Type": "application/octet-stream"}
    response = httpx.post(server.url + "/v1/images", headers=headers, content=DATA)
    assert response.status_code == 201, response.text
    image_id = response.json()["image"]["id"]
    if kind == "shared":
        assert httpx.put(f"{server.url}/v1/images/{image_id}/members/p2",
                         headers=CALLERS["owner"]).status_code == 204
    return image_id


def visible(caller: str, kind: str) -> bool:
    return caller in ("owner", "admin") or kind == "public" or (
        kind == "shared" and caller == "member")


def may_change(caller: str) -> bool:
    return caller in ("owner", "admin")


def expected(endpoint: str, caller: str, kind: str) -> int:
    if not visible(caller, kind):
        return 404  # never 403 for an image the caller cannot see
    if endpoint in ("head", "download", "list_members"):
        return 200
    if endpoint in ("update", "delete"):
        return 200 if may_change(caller) else 403
    if endpoint in ("add_member", "remove_member"):
        return 204 if may_change(caller) else 404  # sharing refused reads as not found
    raise AssertionError(endpoint)


def request(server: RunningServer, endpoint: str, caller: str,
            image_id: str) -> httpx.Response:
    url = f"{server.url}/v1/images/{image_id}"
    headers = CALLERS[caller]
    if endpoint == "head":
        return httpx.head(url, headers=headers)
    if endpoint == "download":
        return httpx.get(url, headers=headers)
    if endpoint == "update":
        return httpx.put(url, headers={**headers, "x-image-meta-name": "renamed",
                                       "x-glance-registry-purge-props": "false"})
    if endpoint == "delete":
        return httpx.delete(url, headers=headers)
    if endpoint == "list_members":
        return httpx.get(url + "/members", headers=headers)
    if endpoint == "add_member":
        return httpx.put(url + "/members/p9", headers=headers)
    if endpoint == "remove_member":
        return httpx.delete(url + "/members/p2", headers=headers)
    raise AssertionError(endpoint)


ENDPOINTS = ("head", "download", "update", "delete", "list_members", "add_member",
             "remove_member")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_cell(server: RunningServer, endpoint: str, caller: str, kind: str) -> None:
    image_id = make_image(server, kind)
    response = request(server, endpoint, caller, image_id)
    assert response.status_code == expected(endpoint, caller, kind), response.text
    if endpoint == "download" and response.status_code == 200:
        assert response.content == DATA
    if endpoint == "delete":  # the image is gone only when the delete was allowed
        after = httpx.head(f"{server.url}/v1/images/{image_id}", headers=CALLERS["admin"])
        assert after.status_code == (404 if response.status_code == 200 else 200)


@pytest.mark.parametrize("caller", list(CALLERS))
def test_lists_show_exactly_the_visible_images(server: RunningServer, caller: str) -> None:
    tag = uuid.uuid4().hex
    ids = {}
    for kind in KINDS:
        ids[kind] = make_image(server, kind)
        httpx.put(f"{server.url}/v1/images/{ids[kind]}", headers={
            **CALLERS["admin"], "x-image-meta-property-tag": tag,
            "x-glance-registry-purge-props": "false"}).raise_for_status()
    for path in ("/v1/images", "/v1/images/detail"):
        listed = httpx.get(f"{server.url}{path}?property-tag={tag}",
                           headers=CALLERS[caller]).json()["images"]
        assert {i["id"] for i in listed} == {ids[k] for k in KINDS if visible(caller, k)}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_shared_images_listing(server: RunningServer, caller: str) -> None:
    image_id = make_image(server, "shared")
    response = httpx.get(f"{server.url}/v1/shared-images/p2", headers=CALLERS[caller])
    assert response.status_code == 200
    found = image_id in [s["image_id"] for s in response.json()["shared_images"]]
    assert found == (caller in ("member", "admin"))  # only p2 itself, or an admin, asks


@pytest.mark.parametrize("caller", list(CALLERS))
def test_only_admins_see_deleted_images(server: RunningServer, caller: str) -> None:
    """v1's changes-since lists deleted images, but to admins only."""
    image_id = make_image(server, "public")
    assert httpx.delete(f"{server.url}/v1/images/{image_id}",
                        headers=CALLERS["admin"]).status_code == 200
    listed = httpx.get(f"{server.url}/v1/images/detail?changes-since=2000-01-01T00:00:00",
                       headers=CALLERS[caller]).json()["images"]
    deleted = [i for i in listed if i["id"] == image_id]
    assert bool(deleted) == (caller == "admin")
    if deleted:
        assert deleted[0]["deleted"] is True and deleted[0]["status"] == "deleted"
    assert httpx.head(f"{server.url}/v1/images/{image_id}",
                      headers=CALLERS[caller]).status_code == 404
