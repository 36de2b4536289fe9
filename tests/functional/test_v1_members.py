"""Images API v1: image members and shared images (raw HTTP)."""

from __future__ import annotations

import uuid

import pytest

from tests.functional._v1 import assert_error, create_ok, unique


def members(http, image_id: str, prefix: str = "/v1") -> dict[str, bool]:
    resp = http.get(f"{prefix}/images/{image_id}/members")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"members"}
    for item in body["members"]:
        assert set(item) >= {"member_id", "can_share"}, item
        assert isinstance(item["can_share"], bool)
    result = {m["member_id"]: m["can_share"] for m in body["members"]}
    assert len(result) == len(body["members"]), body  # no duplicates
    return result


def shared(http, member: str, prefix: str = "/v1") -> dict[str, bool]:
    resp = http.get(f"{prefix}/shared-images/{member}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert set(body) == {"shared_images"}
    for item in body["shared_images"]:
        assert set(item) >= {"image_id", "can_share"}, item
    return {s["image_id"]: s["can_share"] for s in body["shared_images"]}


def tenant() -> str:
    return unique("tenant")


@pytest.fixture
def image(http):
    return create_ok(http, {"name": unique("shared")}, data=b"member data")


def test_new_image_has_no_members(server, http, image):
    assert members(http, image["id"]) == {}


@pytest.mark.parametrize("prefix", ["/v1", ""])
def test_add_member_without_body(server, http, image, prefix):
    t1 = tenant()
    resp = http.put(f"{prefix}/images/{image['id']}/members/{t1}")
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    assert members(http, image["id"], prefix) == {t1: False}
    assert shared(http, t1, prefix) == {image["id"]: False}


def test_add_member_with_body_sets_can_share(server, http, image):
    t1 = tenant()
    resp = http.put(f"/v1/images/{image['id']}/members/{t1}",
                    json={"member": {"can_share": True}})
    assert resp.status_code == 204, resp.text
    assert members(http, image["id"]) == {t1: True}
    # a PUT without body leaves an existing membership unchanged
    assert http.put(f"/v1/images/{image['id']}/members/{t1}").status_code == 204
    assert members(http, image["id"]) == {t1: True}
    # a PUT with a body updates it
    resp = http.put(f"/v1/images/{image['id']}/members/{t1}",
                    json={"member": {"can_share": False}})
    assert resp.status_code == 204
    assert members(http, image["id"]) == {t1: False}
    assert shared(http, t1) == {image["id"]: False}


def test_replace_all_members(server, http, image):
    t1, t2, t3, t4 = tenant(), tenant(), tenant(), tenant()
    assert http.put(f"/v1/images/{image['id']}/members/{t1}").status_code == 204
    assert http.put(f"/v1/images/{image['id']}/members/{t2}",
                    json={"member": {"can_share": True}}).status_code == 204

    resp = http.put(f"/v1/images/{image['id']}/members", json={"memberships": [
        {"member_id": t2},                       # kept, can_share unchanged (True)
        {"member_id": t3, "can_share": True},    # new
        {"member_id": t4},                       # new, can_share defaults to False
    ]})
    assert resp.status_code == 204, resp.text
    assert resp.content == b""
    assert members(http, image["id"]) == {t2: True, t3: True, t4: False}
    assert shared(http, t1) == {}
    assert shared(http, t3) == {image["id"]: True}

    resp = http.put(f"/v1/images/{image['id']}/members", json={"memberships": []})
    assert resp.status_code == 204
    assert members(http, image["id"]) == {}
    assert shared(http, t2) == {}


def test_delete_member_is_idempotent(server, http, image):
    t1, t2 = tenant(), tenant()
    for t in (t1, t2):
        assert http.put(f"/v1/images/{image['id']}/members/{t}").status_code == 204
    resp = http.delete(f"/v1/images/{image['id']}/members/{t1}")
    assert resp.status_code == 204
    assert resp.content == b""
    assert members(http, image["id"]) == {t2: False}
    assert shared(http, t1) == {}
    again = http.delete(f"/v1/images/{image['id']}/members/{t1}")
    assert again.status_code == 204
    never = http.delete(f"/v1/images/{image['id']}/members/{tenant()}")
    assert never.status_code == 204
    assert members(http, image["id"]) == {t2: False}


def test_shared_images_lists_every_image_of_a_member(server, http):
    t1 = tenant()
    first = create_ok(http)
    second = create_ok(http, data=b"second")
    create_ok(http)  # not shared
    assert http.put(f"/v1/images/{first['id']}/members/{t1}").status_code == 204
    assert http.put(f"/v1/images/{second['id']}/members/{t1}",
                    json={"member": {"can_share": True}}).status_code == 204
    assert shared(http, t1) == {first["id"]: False, second["id"]: True}
    assert shared(http, tenant()) == {}


def test_deleted_image_drops_out_of_shared_images(server, http, image):
    t1 = tenant()
    assert http.put(f"/v1/images/{image['id']}/members/{t1}").status_code == 204
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert shared(http, t1) == {}
    assert_error(http.get(f"/v1/images/{image['id']}/members"), 404)
    assert_error(http.put(f"/v1/images/{image['id']}/members/{t1}"), 404)


@pytest.mark.parametrize("body", [
    b"not json",
    b"{",
    b'"memberships"',
    b'{"memberships": "t1"}',
    b'{"memberships": [{"can_share": true}]}',
    b'{"memberships": [{"member_id": "t1", "can_share": "sometimes"}]}',
    b'{"memberships": [42]}',
    b"[1, 2]",
])
def test_malformed_replace_body_is_400(server, http, image, body):
    t1 = tenant()
    assert http.put(f"/v1/images/{image['id']}/members/{t1}").status_code == 204
    resp = http.put(f"/v1/images/{image['id']}/members", content=body,
                    headers={"Content-Type": "application/json"})
    assert_error(resp, 400)
    assert members(http, image["id"]) == {t1: False}


@pytest.mark.parametrize("body", [
    b"not json",
    b'{"member": "yes"}',
    b'{"member": {"can_share": "sometimes"}}',
    b"[]",
])
def test_malformed_member_body_is_400(server, http, image, body):
    t1 = tenant()
    resp = http.put(f"/v1/images/{image['id']}/members/{t1}", content=body,
                    headers={"Content-Type": "application/json"})
    assert_error(resp, 400)
    assert members(http, image["id"]) == {}


def test_unknown_image_is_404(server, http):
    missing = str(uuid.uuid4())
    assert_error(http.get(f"/v1/images/{missing}/members"), 404)
    assert_error(http.put(f"/v1/images/{missing}/members", json={"memberships": []}), 404)
    assert_error(http.put(f"/v1/images/{missing}/members/{tenant()}"), 404)
    assert_error(http.put(f"/v1/images/{missing}/members/{tenant()}",
                          json={"member": {"can_share": True}}), 404)
    assert_error(http.delete(f"/v1/images/{missing}/members/{tenant()}"), 404)


def test_membership_makes_a_private_image_visible(server, http):
    """A project sees public images, its own, and those shared with it."""
    owner, guest = tenant(), tenant()
    name = unique("private")
    image = create_ok(http, {"name": name, "owner": owner, "is_public": False}, data=b"p")
    as_guest = {"X-Project-Id": guest, "X-Roles": "member"}
    assert http.head(f"/v1/images/{image['id']}", headers=as_guest).status_code == 404
    listed = http.get("/v1/images", params={"name": name}, headers=as_guest)
    assert listed.status_code == 200 and listed.json()["images"] == []

    assert http.put(f"/v1/images/{image['id']}/members/{guest}").status_code == 204
    assert http.head(f"/v1/images/{image['id']}", headers=as_guest).status_code == 200
    listed = http.get("/v1/images", params={"name": name}, headers=as_guest)
    assert [i["id"] for i in listed.json()["images"]] == [image["id"]]
    assert http.get(f"/v1/images/{image['id']}", headers=as_guest).content == b"p"

    assert http.delete(f"/v1/images/{image['id']}/members/{guest}").status_code == 204
    assert http.head(f"/v1/images/{image['id']}", headers=as_guest).status_code == 404
