"""Who may see and change what, over v2: callers × images of each visibility × endpoints.

Every cell creates its own image (owner p1, tagged with a tag of its own) so outcomes never
depend on each other. Callers: the owner p1, p2 (the member of shared images), the stranger
p3, and an admin. Kinds: public, private, community, shared with p2 accepted, and shared with
p2 still pending (hidden from p2's default list, but p2 may show it).
"""

from __future__ import annotations

import uuid

import httpx
import pytest


CALLERS: dict[str, dict[str, str]] = {
    "owner": {"X-Project-Id": "p1", "X-Roles": "member"},
    "member": {"X-Project-Id": "p2", "X-Roles": "member"},
    "stranger": {"X-Project-Id": "p3", "X-Roles": "member"},
    "admin": {"X-Project-Id": "ops", "X-Roles": "admin"},
}
KINDS = ("public", "private", "community", "shared_accepted", "shared_pending")
DATA = b"matrix-v2-bytes"
OCTET = {"Content-Type": "application/octet-stream"}
PATCH = {"Content-Type": "application/openstack-images-v2.1-json-patch"}


def make_image(http: httpx.Client, kind: str, tag: str, data: bool = True) -> str:
    """An image owned by p1 with ``tag``; active (with DATA) unless ``data`` is false."""
    visibility = "shared" if kind.startswith("shared") else kind
    owner = CALLERS["owner"]
    # only an admin may publicize: the admin creates public images on p1's behalf
    creator = {**CALLERS["admin"]} if kind == "public" else owner
    body = {"name": "matrix", "disk_format": "raw", "container_format": "bare",
            "visibility": visibility, "tags": [tag]}
    if kind == "public":
        body["owner"] = "p1"
    resp = http.post("/v2/images", json=body, headers=creator)
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["id"]
    assert resp.json()["owner"] == "p1"
    if data:
        resp = http.put(f"/v2/images/{image_id}/file", content=DATA, headers={**OCTET, **owner})
        assert resp.status_code == 204, resp.text
    if visibility == "shared":
        resp = http.post(f"/v2/images/{image_id}/members", json={"member": "p2"}, headers=owner)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "pending"
        if kind == "shared_accepted":
            resp = http.put(f"/v2/images/{image_id}/members/p2", json={"status": "accepted"},
                            headers=CALLERS["member"])
            assert resp.status_code == 200, resp.text
    return image_id


def visible(caller: str, kind: str) -> bool:
    """May ``caller`` show an image of ``kind`` (pending members may)."""
    return (caller in ("owner", "admin") or kind in ("public", "community")
            or (kind.startswith("shared") and caller == "member"))


def listed(caller: str, kind: str) -> bool:
    """Is it in ``caller``'s default list: community and pending shares are not (for others)."""
    if caller in ("owner", "admin"):
        return True
    return kind == "public" or (kind == "shared_accepted" and caller == "member")


def owns(caller: str) -> bool:
    return caller in ("owner", "admin")


def expected(endpoint: str, caller: str, kind: str) -> int:
    if endpoint == "list":
        return 200  # what is listed is checked apart
    if not visible(caller, kind):
        return 404  # never 403 for an image the caller cannot see
    shared = kind.startswith("shared")
    if endpoint in ("show", "download", "tasks"):
        return 200
    if endpoint in ("rename", "tag_add", "tag_delete"):
        return (200 if endpoint == "rename" else 204) if owns(caller) else 403
    if endpoint == "publicize":
        if caller == "admin":
            return 200
        if caller == "owner" and kind == "public":
            return 200  # already public: no change
        return 403
    if endpoint == "set_owner":
        return 200 if caller == "admin" else 403
    if endpoint in ("delete", "upload", "stage", "deactivate", "reactivate"):
        return 204 if owns(caller) else 403
    # members: only shared images have them (403 for any other visible image)
    if not shared:
        return 403
    if endpoint in ("members_list", "member_show"):
        return 200  # the owner and admins see all members, a member itself
    if endpoint == "member_create":
        return 200 if owns(caller) else 403
    if endpoint == "member_delete":
        return 204 if owns(caller) else 403
    if endpoint == "member_status":
        return 200 if caller in ("member", "admin") else 403  # only the member accepts/rejects
    raise AssertionError(endpoint)


ENDPOINTS = ("show", "list", "rename", "publicize", "set_owner", "delete", "upload",
             "download", "tag_add", "tag_delete", "members_list", "member_show",
             "member_create", "member_status", "member_delete", "deactivate", "reactivate",
             "stage", "tasks")
NEEDS_QUEUED = ("upload", "stage")


def request(http: httpx.Client, endpoint: str, caller: str, image_id: str,
            tag: str) -> httpx.Response:
    url = f"/v2/images/{image_id}"
    headers = CALLERS[caller]
    if endpoint == "show":
        return http.get(url, headers=headers)
    if endpoint == "list":
        return http.get("/v2/images", params={"tag": tag}, headers=headers)
    if endpoint == "rename":
        return http.patch(url, json=[{"op": "replace", "path": "/name", "value": "renamed"}],
                          headers={**PATCH, **headers})
    if endpoint == "publicize":
        return http.patch(url, json=[{"op": "replace", "path": "/visibility",
                                      "value": "public"}], headers={**PATCH, **headers})
    if endpoint == "set_owner":
        return http.patch(url, json=[{"op": "replace", "path": "/owner", "value": "p9"}],
                          headers={**PATCH, **headers})
    if endpoint == "delete":
        return http.delete(url, headers=headers)
    if endpoint == "upload":
        return http.put(url + "/file", content=DATA, headers={**OCTET, **headers})
    if endpoint == "download":
        return http.get(url + "/file", headers=headers)
    if endpoint == "tag_add":
        return http.put(f"{url}/tags/extra", headers=headers)
    if endpoint == "tag_delete":
        return http.delete(f"{url}/tags/{tag}", headers=headers)
    if endpoint == "members_list":
        return http.get(url + "/members", headers=headers)
    if endpoint == "member_show":
        return http.get(url + "/members/p2", headers=headers)
    if endpoint == "member_create":
        return http.post(url + "/members", json={"member": "p9"}, headers=headers)
    if endpoint == "member_status":
        return http.put(url + "/members/p2", json={"status": "rejected"}, headers=headers)
    if endpoint == "member_delete":
        return http.delete(url + "/members/p2", headers=headers)
    if endpoint == "deactivate":
        return http.post(url + "/actions/deactivate", headers=headers)
    if endpoint == "reactivate":
        return http.post(url + "/actions/reactivate", headers=headers)
    if endpoint == "stage":
        return http.put(url + "/stage", content=DATA, headers={**OCTET, **headers})
    if endpoint == "tasks":
        return http.get(url + "/tasks", headers=headers)
    raise AssertionError(endpoint)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_cell(http: httpx.Client, endpoint: str, caller: str, kind: str) -> None:
    tag = uuid.uuid4().hex
    image_id = make_image(http, kind, tag, data=endpoint not in NEEDS_QUEUED)
    admin = CALLERS["admin"]
    if endpoint == "reactivate":
        assert http.post(f"/v2/images/{image_id}/actions/deactivate",
                         headers=admin).status_code == 204
    before = http.get(f"/v2/images/{image_id}", headers=admin).json()
    response = request(http, endpoint, caller, image_id, tag)
    want = expected(endpoint, caller, kind)
    assert response.status_code == want, response.text
    after = http.get(f"/v2/images/{image_id}", headers=admin)
    if endpoint == "list":
        found = [i["id"] for i in response.json()["images"]]
        assert found == ([image_id] if listed(caller, kind) else [])
    elif endpoint == "download" and want == 200:
        assert response.content == DATA
    elif endpoint == "delete":  # gone only when allowed; v2 never shows deleted images
        assert after.status_code == (404 if want == 204 else 200)
        return
    assert after.status_code == 200
    image = after.json()
    if want >= 400:  # a refused request changes nothing
        for key in ("name", "visibility", "owner", "status", "tags"):
            assert image[key] == before[key], key
        members = http.get(f"/v2/images/{image_id}/members", headers=admin)
        if members.status_code == 200:
            assert [m["member_id"] for m in members.json()["members"]] == (
                ["p2"] if kind.startswith("shared") else [])
            if kind.startswith("shared"):
                assert members.json()["members"][0]["status"] == (
                    "accepted" if kind == "shared_accepted" else "pending")
    else:
        changes = {"rename": ("name", "renamed"), "publicize": ("visibility", "public"),
                   "set_owner": ("owner", "p9"), "deactivate": ("status", "deactivated"),
                   "reactivate": ("status", "active"), "upload": ("status", "active"),
                   "stage": ("status", "uploading")}
        if endpoint in changes:
            key, value = changes[endpoint]
            assert image[key] == value
        if endpoint == "tag_add":
            assert sorted(image["tags"]) == sorted([tag, "extra"])
        if endpoint == "tag_delete":
            assert image["tags"] == []


@pytest.mark.parametrize("caller", list(CALLERS))
def test_member_lists_show_only_own_membership(http: httpx.Client, caller: str) -> None:
    """The owner and admins see every member; a member sees only itself."""
    image_id = make_image(http, "shared_accepted", uuid.uuid4().hex)
    assert http.post(f"/v2/images/{image_id}/members", json={"member": "p4"},
                     headers=CALLERS["owner"]).status_code == 200
    resp = http.get(f"/v2/images/{image_id}/members", headers=CALLERS[caller])
    if caller == "stranger":
        assert resp.status_code == 404
        return
    assert resp.status_code == 200
    members = sorted(m["member_id"] for m in resp.json()["members"])
    assert members == (["p2"] if caller == "member" else ["p2", "p4"])
    # only a member itself changes its status (others' memberships: 403, as in Glance)
    other = http.put(f"/v2/images/{image_id}/members/p4", json={"status": "accepted"},
                     headers=CALLERS[caller])
    assert other.status_code == {"owner": 403, "member": 403, "admin": 200}[caller]


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("kind", KINDS)
def test_deleted_images_are_gone_for_everyone(http: httpx.Client, caller: str,
                                              kind: str) -> None:
    tag = uuid.uuid4().hex
    image_id = make_image(http, kind, tag)
    assert http.delete(f"/v2/images/{image_id}", headers=CALLERS["owner"]).status_code == 204
    headers = CALLERS[caller]
    assert http.get(f"/v2/images/{image_id}", headers=headers).status_code == 404
    assert http.get(f"/v2/images/{image_id}/file", headers=headers).status_code == 404
    assert http.get("/v2/images", params={"tag": tag}, headers=headers).json()["images"] == []


@pytest.mark.parametrize("caller", list(CALLERS))
def test_list_filters_by_visibility(http: httpx.Client, caller: str) -> None:
    """visibility=community lists community images for everyone; member_status=pending
    shows p2 its pending shares, and visibility=all hides nothing a caller may see."""
    tag = uuid.uuid4().hex
    ids = {kind: make_image(http, kind, tag) for kind in KINDS}

    def ids_for(**params: str) -> set[str]:
        resp = http.get("/v2/images", params={"tag": tag, **params}, headers=CALLERS[caller])
        assert resp.status_code == 200, resp.text
        return {i["id"] for i in resp.json()["images"]}

    assert ids_for(visibility="community") == {ids["community"]}
    assert ids_for(visibility="public") == {ids["public"]}
    assert ids_for() == {ids[k] for k in KINDS if listed(caller, k)}
    if caller == "member":
        # member_status filters shares only: public images stay listed
        assert ids_for(member_status="pending") == {ids["public"], ids["shared_pending"]}
        assert ids_for(visibility="shared", member_status="all") == {
            ids["shared_accepted"], ids["shared_pending"]}


def test_owner_on_create(http: httpx.Client) -> None:
    """Owner is the caller's project; only admins set another; non-admins cannot publicize."""
    body = {"name": "o", "disk_format": "raw", "container_format": "bare"}
    resp = http.post("/v2/images", json=body, headers=CALLERS["stranger"])
    assert resp.status_code == 201 and resp.json()["owner"] == "p3"
    resp = http.post("/v2/images", json={**body, "owner": "p9"}, headers=CALLERS["stranger"])
    assert resp.status_code == 403
    resp = http.post("/v2/images", json={**body, "visibility": "public"},
                     headers=CALLERS["stranger"])
    assert resp.status_code == 403
    resp = http.post("/v2/images", json={**body, "owner": "p9", "visibility": "public"},
                     headers=CALLERS["admin"])
    assert resp.status_code == 201 and resp.json()["owner"] == "p9"
