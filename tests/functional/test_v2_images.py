"""Images API v2: versions, schemas, create/show/patch/delete, actions, tags, visibility,
and v1 ⇄ v2 sharing of images (raw HTTP against a real glance-api process)."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import start_server
from tests.functional import _v1
from tests.functional._v2 import (OCTET, PATCH20, active, as_project, assert_error, create,
                                  new_project, patch, show, unique, validate)

SCHEMA_NAMES = ["image", "images", "member", "members", "metadefs/namespace",
                "metadefs/resource_type"]


# --------------------------------------------------------------------------- versions, schemas


def test_versions_list_v2_current_and_v1_supported(server, http):
    for path, status in (("/", 300), ("/versions", 200)):
        resp = http.get(path)
        assert resp.status_code == status
        versions = resp.json()["versions"]
        by_id = {v["id"]: v for v in versions}
        assert by_id["v2.17"]["status"] == "CURRENT"
        for minor in (0, 1, 6, 7, 9, 12, 13):
            assert by_id[f"v2.{minor}"]["status"] == "SUPPORTED"
            assert by_id[f"v2.{minor}"]["links"] == [
                {"rel": "self", "href": f"{server.url}/v2/"}]
        assert by_id["v1.1"]["status"] == by_id["v1.0"]["status"] == "SUPPORTED"
        assert list(versions[0]) == ["id", "status", "links"]


def test_v2_prefix_is_served_not_multiple_choices(server, http):
    assert http.get("/v2/images").status_code == 200
    assert_error(http.get("/v2/nothing-here"), 404)
    assert http.get("/v3/images").status_code == 300


@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_are_valid_json_schemas(server, http, name):
    import jsonschema
    resp = http.get(f"/v2/schemas/{name}")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    schema = resp.json()
    jsonschema.Draft4Validator.check_schema(schema)
    assert schema["name"] in (name.split("/")[-1], "resource_type_association")


def test_image_schema_is_permissive_with_string_extras(server, http):
    schema = http.get("/v2/schemas/image").json()
    assert schema["additionalProperties"] == {"type": "string"}
    props = schema["properties"]
    assert props["min_ram"]["type"] == "integer"
    assert props["status"]["readOnly"] is True
    assert "raw" in props["disk_format"]["enum"] and None in props["disk_format"]["enum"]
    assert {"rel": "enclosure", "href": "{file}"} in schema["links"]


# --------------------------------------------------------------------------- create, show


def test_create_defaults_headers_and_schema(server, http):
    name = unique("create")
    resp = http.post("/v2/images", json={"name": name, "disk_format": "qcow2",
                                         "container_format": "bare", "os_distro": "ubuntu",
                                         "tags": ["a", "b"]})
    assert resp.status_code == 201, resp.text
    image = resp.json()
    assert resp.headers["Location"] == f"{server.url}/v2/images/{image['id']}"
    assert set(resp.headers["OpenStack-image-import-methods"].split(",")) >= {
        "glance-direct", "web-download"}
    assert "file" in resp.headers["OpenStack-image-store-ids"].split(",")
    assert uuid.UUID(image["id"])
    assert image["status"] == "queued" and image["visibility"] == "shared"
    assert image["protected"] is False and image["os_hidden"] is False
    assert image["min_ram"] == 0 and image["min_disk"] == 0
    assert image["size"] is None and image["checksum"] is None
    assert image["os_hash_algo"] is None and image["os_hash_value"] is None
    assert image["tags"] == ["a", "b"] and image["os_distro"] == "ubuntu"
    assert image["self"] == f"/v2/images/{image['id']}"
    assert image["file"] == f"/v2/images/{image['id']}/file"
    assert image["schema"] == "/v2/schemas/image"
    assert image["created_at"].endswith("Z") and len(image["created_at"]) == 20
    validate(http, "image", image)
    assert show(http, image["id"]) == image


def test_create_with_client_id_and_duplicate_409(server, http):
    image_id = str(uuid.uuid4())
    assert create(http, id=image_id)["id"] == image_id
    assert_error(http.post("/v2/images", json={"id": image_id}), 409)
    assert_error(http.post("/v2/images", json={"id": "not-a-uuid"}), 400)


@pytest.mark.parametrize("key", ["status", "checksum", "size", "os_hash_value", "self", "file",
                                 "schema", "direct_url", "stores", "created_at", "location",
                                 "deleted", "deleted_at", "os_glance_import_task"])
def test_create_with_read_only_or_reserved_key_is_403(server, http, key):
    assert_error(http.post("/v2/images", json={"name": "x", key: "v"}), 403, key)


@pytest.mark.parametrize("body", [
    {"disk_format": "floppy"}, {"container_format": "crate"}, {"visibility": "everyone"},
    {"min_ram": "1"}, {"min_disk": -1}, {"protected": "yes"}, {"os_hidden": 1},
    {"name": "n" * 256}, {"name": 5}, {"tags": "a"}, {"tags": ["t" * 256]},
    {"custom": 5}, {"k" * 256: "v"}])
def test_create_schema_violation_is_400(server, http, body):
    assert_error(http.post("/v2/images", json=body), 400)


@pytest.mark.parametrize("content, ctype, status", [
    (b"{not json", "application/json", 400), (b"[1, 2]", "application/json", 400),
    (b"", "application/json", 400), (b"{}", "text/plain", 415)])
def test_create_bad_body(server, http, content, ctype, status):
    assert_error(http.post("/v2/images", content=content, headers={"Content-Type": ctype}),
                 status)


def test_show_unknown_and_deleted_is_404(server, http):
    assert_error(http.get(f"/v2/images/{uuid.uuid4()}"), 404)
    image = create(http)
    assert http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert_error(http.get(f"/v2/images/{image['id']}"), 404)


def test_body_on_bodiless_route_is_400(server, http):
    image = create(http)
    assert_error(http.request("GET", f"/v2/images/{image['id']}", content=b"x"), 400, "body")
    assert_error(http.request("DELETE", f"/v2/images/{image['id']}", content=b"x"), 400)


def test_wrong_method_is_405_with_allow(server, http):
    image = create(http)
    resp = http.post(f"/v2/images/{image['id']}")
    assert_error(resp, 405)
    assert set(resp.headers["Allow"].split(",")) >= {"GET", "PATCH", "DELETE"}


# --------------------------------------------------------------------------- visibility


def test_private_image_of_other_project_is_404_public_visible(server, http):
    owner, other = new_project(), new_project()
    private = create(http, headers=as_project(owner), visibility="private")
    assert private["owner"] == owner
    assert_error(http.get(f"/v2/images/{private['id']}", headers=as_project(other)), 404)
    public = create(http, visibility="public")  # noauth admin
    assert show(http, public["id"], as_project(other))["visibility"] == "public"
    # visible but not ours: 403 on change
    assert_error(patch(http, public["id"], [{"op": "replace", "path": "/name", "value": "x"}],
                       as_project(other)), 403)
    assert_error(http.delete(f"/v2/images/{public['id']}", headers=as_project(other)), 403)


def test_public_needs_admin_and_owner_is_callers(server, http):
    project = new_project()
    assert_error(http.post("/v2/images", json={"visibility": "public"},
                           headers=as_project(project)), 403)
    assert_error(http.post("/v2/images", json={"owner": "someone-else"},
                           headers=as_project(project)), 403)
    community = create(http, headers=as_project(project), visibility="community")
    assert show(http, community["id"], as_project(new_project()))["visibility"] == "community"


# --------------------------------------------------------------------------- PATCH


def test_patch_add_replace_remove_move_copy(server, http):
    image = create(http, os_distro="ubuntu")
    resp = patch(http, image["id"], [
        {"op": "replace", "path": "/name", "value": "renamed"},
        {"op": "add", "path": "/color", "value": "blue"},
        {"op": "replace", "path": "/os_distro", "value": "debian"},
        {"op": "add", "path": "/min_ram", "value": 512},
        {"op": "replace", "path": "/tags", "value": ["x", "y"]},
        {"op": "copy", "from": "/color", "path": "/shade"},
        {"op": "move", "from": "/os_distro", "path": "/distro"},
        {"op": "add", "path": "/a~1b", "value": "slash"},
        {"op": "replace", "path": "/protected", "value": True},
        {"op": "replace", "path": "/protected", "value": False},
        {"op": "replace", "path": "/os_hidden", "value": True},
    ])
    assert resp.status_code == 200, resp.text
    body = resp.json()
    validate(http, "image", body)
    assert body["name"] == "renamed" and body["min_ram"] == 512
    assert body["color"] == "blue" and body["shade"] == "blue" and body["distro"] == "debian"
    assert "os_distro" not in body and body["a/b"] == "slash"
    assert body["tags"] == ["x", "y"] and body["os_hidden"] is True
    assert show(http, image["id"]) == body
    resp = patch(http, image["id"], [{"op": "remove", "path": "/color"}])
    assert resp.status_code == 200 and "color" not in resp.json()


@pytest.mark.parametrize("disk, container", [("ami", "bare"), ("raw", "aki"),
                                               ("ari", "ami"), ("aki", "ovf")])
def test_v2_has_no_amazon_format_pairing_rule(server, http, disk, container):
    # upstream v2 checks each format against its list only (Tempest's fixtures create
    # bare + ami); v1 keeps its rule (tests/functional/test_v1_images.py)
    image = create(http, disk_format=disk, container_format=container)
    assert (image["disk_format"], image["container_format"]) == (disk, container)
    other = create(http, disk_format="raw", container_format="bare")
    resp = patch(http, other["id"], [{"op": "replace", "path": "/disk_format", "value": disk},
                                     {"op": "replace", "path": "/container_format",
                                      "value": container}])
    assert resp.status_code == 200, resp.text
    assert (resp.json()["disk_format"], resp.json()["container_format"]) == (disk, container)
    alone = http.post("/v2/images", json={"disk_format": "ami"})  # v2 fills in nothing
    assert alone.status_code == 201, alone.text
    assert alone.json()["disk_format"] == "ami" and alone.json()["container_format"] is None
    same = _v1.create(http, {"disk_format": disk, "container_format": container})
    assert same.status_code == 400


def test_patch_v20_media_type(server, http):
    image = create(http)
    resp = http.patch(f"/v2/images/{image['id']}", headers=PATCH20,
                      json=[{"replace": "/name", "value": "old-style"},
                            {"add": "/k", "value": "v"}])
    assert resp.status_code == 200, resp.text
    assert resp.json()["name"] == "old-style" and resp.json()["k"] == "v"
    # v2.0: add of an existing property conflicts
    assert_error(http.patch(f"/v2/images/{image['id']}", headers=PATCH20,
                            json=[{"add": "/k", "value": "w"}]), 409)


@pytest.mark.parametrize("ops, status", [
    ([{"op": "replace", "path": "/status", "value": "active"}], 403),
    ([{"op": "replace", "path": "/id", "value": "x"}], 403),
    ([{"op": "add", "path": "/checksum", "value": "x"}], 403),
    ([{"op": "add", "path": "/os_glance_x", "value": "x"}], 403),
    ([{"op": "add", "path": "/deleted", "value": "x"}], 403),
    ([{"op": "remove", "path": "/name"}], 403),
    ([{"op": "replace", "path": "/nope", "value": "x"}], 409),
    ([{"op": "remove", "path": "/nope"}], 409),
    ([{"op": "test", "path": "/name", "value": "x"}], 400),
    ([{"op": "replace", "path": "name", "value": "x"}], 400),
    ([{"op": "replace", "path": "/a/b", "value": "x"}], 400),
    ([{"op": "replace", "path": "/name"}], 400),
    ([{"op": "replace", "path": "/disk_format", "value": "floppy"}], 400),
    ([{"op": "replace", "path": "/min_disk", "value": "big"}], 400),
    ([{"op": "add", "path": "/custom", "value": 1}], 400),
    ({"op": "replace"}, 400),
    (["not an op"], 400),
])
def test_patch_errors(server, http, ops, status):
    image = create(http)
    assert_error(patch(http, image["id"], ops), status)
    assert show(http, image["id"]) == image


@pytest.mark.parametrize("ctype", ["application/json", "application/json-patch+json",
                                   "text/plain"])
def test_patch_wrong_media_type_is_415_with_accept_patch(server, http, ctype):
    image = create(http)
    resp = http.patch(f"/v2/images/{image['id']}", json=[], headers={"Content-Type": ctype})
    assert_error(resp, 415)
    assert "application/openstack-images-v2.1-json-patch" in resp.headers["Accept-Patch"]
    assert "application/openstack-images-v2.0-json-patch" in resp.headers["Accept-Patch"]


def test_patch_owner_and_public_need_admin(server, http):
    project = new_project()
    image = create(http, headers=as_project(project))
    assert_error(patch(http, image["id"], [{"op": "replace", "path": "/owner", "value": "x"}],
                       as_project(project)), 403)
    assert_error(patch(http, image["id"],
                       [{"op": "replace", "path": "/visibility", "value": "public"}],
                       as_project(project)), 403)
    resp = patch(http, image["id"], [{"op": "replace", "path": "/visibility",
                                      "value": "private"}], as_project(project))
    assert resp.status_code == 200 and resp.json()["visibility"] == "private"


# --------------------------------------------------------------------------- delete, actions


def test_delete_204_and_protected_403(server, http):
    image = active(http, protected=True)
    assert_error(http.delete(f"/v2/images/{image['id']}"), 403, "protected")
    assert patch(http, image["id"], [{"op": "replace", "path": "/protected",
                                      "value": False}]).status_code == 200
    resp = http.delete(f"/v2/images/{image['id']}")
    assert resp.status_code == 204 and resp.content == b""
    assert_error(http.delete(f"/v2/images/{image['id']}"), 404)


def test_deactivate_reactivate(server, http):
    project = new_project()
    image = active(http, headers=as_project(project))
    url = f"/v2/images/{image['id']}/actions"
    assert http.post(f"{url}/deactivate", headers=as_project(project)).status_code == 204
    assert show(http, image["id"])["status"] == "deactivated"
    assert http.post(f"{url}/deactivate", headers=as_project(project)).status_code == 204
    # deactivated data: 403 for non-admins, admins may still read it
    assert_error(http.get(f"/v2/images/{image['id']}/file", headers=as_project(project)), 403)
    assert http.get(f"/v2/images/{image['id']}/file").status_code == 200
    assert_error(http.post(f"{url}/deactivate", headers=as_project(new_project())), 404)
    assert http.post(f"{url}/reactivate", headers=as_project(project)).status_code == 204
    assert http.post(f"{url}/reactivate", headers=as_project(project)).status_code == 204
    assert show(http, image["id"])["status"] == "active"
    queued = create(http)
    assert_error(http.post(f"/v2/images/{queued['id']}/actions/deactivate"), 403)
    assert_error(http.post(f"/v2/images/{uuid.uuid4()}/actions/reactivate"), 404)
    assert_error(http.get(f"{url}/deactivate"), 405)


# --------------------------------------------------------------------------- tags


def test_tags_put_delete(server, http):
    image = create(http)
    url = f"/v2/images/{image['id']}/tags"
    resp = http.put(f"{url}/blue", headers=OCTET)  # glanceclient sends this content type
    assert resp.status_code == 204 and resp.content == b""
    assert http.put(f"{url}/blue").status_code == 204  # idempotent
    assert http.put(f"{url}/with space").status_code == 204
    assert sorted(show(http, image["id"])["tags"]) == ["blue", "with space"]
    assert http.delete(f"{url}/blue").status_code == 204
    assert show(http, image["id"])["tags"] == ["with space"]
    assert_error(http.delete(f"{url}/blue"), 404)
    assert_error(http.put(f"/v2/images/{uuid.uuid4()}/tags/x"), 404)
    assert_error(http.put(f"{url}/{'t' * 256}"), 400)
    assert_error(http.put(f"{url}/x", headers=as_project(new_project())), 404)


# --------------------------------------------------------------------------- v1 ⇄ v2


def test_image_made_through_v1_is_usable_through_v2(server, http):
    data = b"made by v1" * 100
    v1_image = _v1.create_ok(http, {"is_public": True}, {"distro": "arch"}, data)
    image = show(http, v1_image["id"])
    validate(http, "image", image)
    assert image["visibility"] == "public" and image["distro"] == "arch"
    assert image["size"] == len(data) and image["checksum"] == _v1.md5(data)
    assert image["os_hash_algo"] == "sha512" and image["status"] == "active"
    assert http.get(f"/v2/images/{image['id']}/file").content == data
    private = _v1.create_ok(http, {"is_public": False})
    assert show(http, private["id"])["visibility"] == "shared"


def test_image_made_through_v2_is_usable_through_v1(server, http):
    data = b"made by v2" * 100
    image = active(http, data, visibility="public", os_distro="fedora", min_ram=64)
    meta = _v1.image_meta(_v1.head(http, image["id"]))
    assert meta["is_public"] == "True" and meta["properties"]["os_distro"] == "fedora"
    assert meta["min_ram"] == "64" and meta["checksum"] == _v1.md5(data)
    assert http.get(f"/v1/images/{image['id']}").content == data
    # v1 property update shows in v2; v2 patch shows in v1
    resp = http.put(f"/v1/images/{image['id']}",
                    headers=_v1.meta_headers({"is_public": False}, {"os_distro": "rhel"}))
    assert resp.status_code == 200, resp.text
    again = show(http, image["id"])
    assert again["visibility"] == "shared" and again["os_distro"] == "rhel"
    assert patch(http, image["id"], [{"op": "add", "path": "/extra",
                                      "value": "v"}]).status_code == 200
    assert _v1.image_meta(_v1.head(http, image["id"]))["properties"]["extra"] == "v"
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert_error(http.get(f"/v2/images/{image['id']}"), 404)


# --------------------------------------------------------------------------- quotas


@pytest.fixture(scope="module")
def small_quotas(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("quota") / "data",
                       ["--image-tag-quota", "2", "--image-property-quota", "2",
                        "--image-member-quota", "1", "--image-size-cap", "1000"])
    import httpx
    with httpx.Client(base_url=srv.url, timeout=60) as client:
        yield client
    srv.stop()


def test_tag_property_member_quotas_are_413(small_quotas):
    http = small_quotas
    assert_error(http.post("/v2/images", json={"tags": ["a", "b", "c"]}), 413)
    assert_error(http.post("/v2/images", json={"p1": "1", "p2": "2", "p3": "3"}), 413)
    image = create(http, tags=["a", "b"], p1="1", p2="2")
    assert_error(http.put(f"/v2/images/{image['id']}/tags/c"), 413)
    assert_error(patch(http, image["id"], [{"op": "add", "path": "/p3", "value": "3"}]), 413)
    resp = patch(http, image["id"], [{"op": "remove", "path": "/p2"},
                                     {"op": "add", "path": "/p3", "value": "3"}])
    assert resp.status_code == 200, resp.text
    assert http.post(f"/v2/images/{image['id']}/members",
                     json={"member": "m1"}).status_code == 200
    assert_error(http.post(f"/v2/images/{image['id']}/members", json={"member": "m2"}), 413)
    # v1 keeps its contract: no property quota there
    resp = http.put(f"/v1/images/{image['id']}", headers=_v1.meta_headers(
        {}, {"a": "1", "b": "2", "c": "3"}))
    assert resp.status_code == 200, resp.text


def test_upload_over_size_cap_is_413_and_image_stays_queued(small_quotas):
    http = small_quotas
    image = create(http)
    resp = http.put(f"/v2/images/{image['id']}/file", content=b"x" * 1001, headers=OCTET)
    assert_error(resp, 413)
    assert show(http, image["id"])["status"] == "queued"
    declared = http.put(f"/v2/images/{image['id']}/file", content=b"x" * 10,
                        headers={**OCTET, "x-openstack-image-size": "5000"})
    assert_error(declared, 413)
    assert http.put(f"/v2/images/{image['id']}/file", content=b"x" * 1000,
                    headers=OCTET).status_code == 204


def test_every_response_carries_its_own_request_id(server, http):
    """OpenStack clients log x-openstack-request-id; errors and downloads carry one too."""
    import re
    seen = set()
    for resp in (http.get("/v2/images"), http.get("/v2/images/" + str(uuid.uuid4())),
                 http.get("/versions"), http.get("/images/detail"), http.get("/v2/nothing")):
        request_id = resp.headers.get("x-openstack-request-id", "")
        assert re.fullmatch(r"req-[0-9a-f-]{36}", request_id), (resp.status_code, resp.headers)
        seen.add(request_id)
    assert len(seen) == 5


def test_show_multiple_locations_lists_each_copy(tmp_path, http):
    # off (the default, as `http` here): no locations field
    assert "locations" not in create(http)
    srv = start_server(tmp_path / "data", ["--show-multiple-locations", "true"])
    try:
        import httpx
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            image = create(client)
            assert image["locations"] == []  # no data yet
            image = active(client, b"located", name=image["name"])
            assert image["locations"] == [{"url": f"file://{image['id']}",
                                           "metadata": {"store": "file"}}]
            validate(client, "image", image)
            listed = client.get("/v2/images").json()["images"]
            assert [i["locations"] for i in listed if i["id"] == image["id"]] == \
                [image["locations"]]
    finally:
        srv.stop()
