"""Images API v2: members of shared images, and discovery (/v2/info/*) (raw HTTP)."""

from __future__ import annotations

import uuid

from tests.functional._v2 import (as_project, assert_error, create, new_project, show,
                                  validate)


def members_url(image_id: str, member: str | None = None) -> str:
    return f"/v2/images/{image_id}/members" + (f"/{member}" if member else "")


def test_member_lifecycle(server, http):
    owner, member = new_project(), new_project()
    image = create(http, headers=as_project(owner))
    resp = http.post(members_url(image["id"]), json={"member": member},
                     headers=as_project(owner))
    assert resp.status_code == 200, resp.text
    body = resp.json()
    validate(http, "member", body)
    assert body["member_id"] == member and body["image_id"] == image["id"]
    assert body["status"] == "pending" and body["schema"] == "/v2/schemas/member"
    assert body["created_at"].endswith("Z")
    # the member sees the image (pending) and its own membership
    assert show(http, image["id"], as_project(member))["id"] == image["id"]
    resp = http.get(members_url(image["id"]), headers=as_project(owner))
    assert resp.status_code == 200
    validate(http, "members", resp.json())
    assert [m["member_id"] for m in resp.json()["members"]] == [member]
    assert resp.json()["schema"] == "/v2/schemas/members"
    resp = http.get(members_url(image["id"], member), headers=as_project(member))
    assert resp.status_code == 200 and resp.json()["status"] == "pending"
    for status in ("accepted", "rejected", "pending", "accepted"):
        resp = http.put(members_url(image["id"], member), json={"status": status},
                        headers=as_project(member))
        assert resp.status_code == 200 and resp.json()["status"] == status
        validate(http, "member", resp.json())
    # the owner may not change the member's status
    assert_error(http.put(members_url(image["id"], member), json={"status": "rejected"},
                          headers=as_project(owner)), 403)
    assert_error(http.put(members_url(image["id"], member), json={"status": "maybe"},
                          headers=as_project(member)), 400)
    # duplicate → 409; the member may not add others
    assert_error(http.post(members_url(image["id"]), json={"member": member},
                           headers=as_project(owner)), 409)
    assert_error(http.post(members_url(image["id"]), json={"member": "x"},
                           headers=as_project(member)), 403)
    resp = http.delete(members_url(image["id"], member), headers=as_project(owner))
    assert resp.status_code == 204
    assert_error(http.get(f"/v2/images/{image['id']}", headers=as_project(member)), 404)
    assert_error(http.delete(members_url(image["id"], member), headers=as_project(owner)), 404)
    assert_error(http.get(members_url(image["id"], member), headers=as_project(owner)), 404)


def test_members_lose_sight_when_image_stops_being_shared(server, http):
    from tests.functional._v2 import patch
    owner, member = new_project(), new_project()
    image = create(http, headers=as_project(owner))
    assert http.post(members_url(image["id"]), json={"member": member},
                     headers=as_project(owner)).status_code == 200
    assert show(http, image["id"], as_project(member))["id"] == image["id"]
    resp = patch(http, image["id"], [{"op": "replace", "path": "/visibility",
                                      "value": "private"}], as_project(owner))
    assert resp.status_code == 200
    assert_error(http.get(f"/v2/images/{image['id']}", headers=as_project(member)), 404)


def test_members_only_for_shared_images(server, http):
    for visibility in ("private", "public", "community"):
        image = create(http, visibility=visibility)
        assert_error(http.post(members_url(image["id"]), json={"member": "p"}), 403, "shared")
        assert_error(http.get(members_url(image["id"])), 403)


def test_member_bad_bodies(server, http):
    image = create(http)
    for body in ({}, {"member": ""}, {"member": 5}, ["p"]):
        assert_error(http.post(members_url(image["id"]), json=body), 400)
    assert_error(http.post(members_url(image["id"]), content=b"{",
                           headers={"Content-Type": "application/json"}), 400)
    assert_error(http.post(members_url(str(uuid.uuid4())), json={"member": "p"}), 404)


def test_info_stores_and_import(server, http):
    resp = http.get("/v2/info/stores")
    assert resp.status_code == 200
    stores = {s["id"]: s for s in resp.json()["stores"]}
    assert stores["file"]["default"] == "true"
    assert stores["http"]["read-only"] == "true"
    assert "default" not in stores["http"]
    resp = http.get("/v2/info/import")
    assert resp.status_code == 200
    methods = resp.json()["import-methods"]
    assert methods["type"] == "array" and "glance-direct" in methods["value"]


def test_info_stores_detail_is_for_admins(server, http):
    resp = http.get("/v2/info/stores/detail")
    assert resp.status_code == 200
    stores = {s["id"]: s for s in resp.json()["stores"]}
    assert stores["file"]["type"] == "file" and stores["file"]["default"] == "true"
    assert_error(http.get("/v2/info/stores/detail", headers=as_project(new_project())), 403)


def test_image_tasks_endpoint(server, http):
    image = create(http)
    resp = http.get(f"/v2/images/{image['id']}/tasks")
    assert resp.status_code == 200 and resp.json() == {"tasks": []}
    assert_error(http.get(f"/v2/images/{uuid.uuid4()}/tasks"), 404)
