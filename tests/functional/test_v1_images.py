"""Images API v1: one image at a time — create, metadata headers, upload, download,
update, delete (raw HTTP against a real glance-api process)."""

from __future__ import annotations

import http.client as httplib
import json
import uuid

import httpx
import pytest

from tests.functional._disks import qcow2, sample
from tests.functional._v1 import (OCTET, assert_error, create, create_ok, head, image_meta,
                                  md5, meta_headers, unique)

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso",
                "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker"]
AMAZON = {"aki", "ari", "ami"}


def new_files(server, before: list) -> list:
    return sorted(set(server.stored_files()) - set(before))


# --------------------------------------------------------------------------- create / read


def test_create_without_body_is_queued(server, http):
    name = unique("queued")
    resp = create(http, {"name": name, "disk_format": "qcow2", "container_format": "bare"})
    assert resp.status_code == 201, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    image = resp.json()["image"]
    assert uuid.UUID(image["id"]).version == 4
    assert image["name"] == name
    assert image["status"] == "queued"
    assert image["disk_format"] == "qcow2" and image["container_format"] == "bare"
    assert image["is_public"] is False and image["protected"] is False
    assert image["min_ram"] == 0 and image["min_disk"] == 0
    assert image["deleted"] is False
    assert image["properties"] == {}
    assert image.get("checksum") is None
    assert resp.headers["location"] == f"{server.url}/v1/images/{image['id']}"
    assert "etag" not in resp.headers

    meta = head(http, image["id"])
    assert meta.status_code == 200
    assert meta.content == b""
    fields = image_meta(meta)
    assert fields["id"] == image["id"]
    assert fields["name"] == name
    assert fields["status"] == "queued"
    assert fields["disk_format"] == "qcow2"
    assert fields["container_format"] == "bare"
    assert fields["is_public"] == "False"
    assert fields["protected"] == "False"
    assert fields["deleted"] == "False"
    # null fields are omitted, not sent empty
    assert "checksum" not in fields and "deleted_at" not in fields
    assert all(value != "" for value in fields.values() if isinstance(value, str)), fields
    assert "etag" not in meta.headers


def test_create_with_body_is_active_with_size_checksum_etag(server, http):
    data = b"0123456789" * 1000
    resp = create(http, {"name": unique("active"), "disk_format": "raw",
                         "container_format": "bare"}, {"distro": "Ubuntu 10.10"}, data)
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["status"] == "active"
    assert image["size"] == len(data)
    assert image["checksum"] == md5(data)
    assert image["properties"] == {"distro": "Ubuntu 10.10"}
    assert resp.headers["etag"].strip('"') == md5(data)
    assert resp.headers["location"] == f"{server.url}/v1/images/{image['id']}"

    meta = head(http, image["id"])
    assert meta.status_code == 200 and meta.content == b""
    fields = image_meta(meta)
    assert fields["status"] == "active"
    assert fields["size"] == str(len(data))
    assert fields["checksum"] == md5(data)
    assert fields["min_ram"] == "0" and fields["min_disk"] == "0"
    assert fields["created_at"] and fields["updated_at"]
    assert fields["properties"] == {"distro": "Ubuntu 10.10"}
    assert meta.headers["etag"].strip('"') == md5(data)
    # header names keep their underscores
    assert "x-image-meta-disk_format" in meta.headers
    assert "x-image-meta-container_format" in meta.headers
    assert "x-image-meta-is_public" in meta.headers


def test_download_returns_bytes_and_headers(server, http):
    data = bytes(range(256)) * 512
    image = create_ok(http, {"is_public": True}, {"kernel_id": "abc"}, data)
    resp = http.get(f"/v1/images/{image['id']}")
    assert resp.status_code == 200
    assert resp.content == data
    assert resp.headers["content-type"] == "application/octet-stream"
    assert resp.headers["content-length"] == str(len(data))
    assert resp.headers["etag"].strip('"') == md5(data)
    fields = image_meta(resp)
    assert fields["id"] == image["id"]
    assert fields["size"] == str(len(data))
    assert fields["checksum"] == md5(data)
    assert fields["is_public"] == "True"
    assert fields["properties"] == {"kernel_id": "abc"}


def test_zero_length_body_is_no_body(server, http):
    # a body counts as present when Content-Length > 0 or the transfer is chunked
    resp = create(http, {"name": unique("empty"), "disk_format": "raw",
                         "container_format": "bare"}, data=b"")
    assert resp.status_code == 201, resp.text
    assert resp.json()["image"]["status"] == "queued"


@pytest.mark.parametrize("range_header,start,stop", [
    ("bytes=2-5", 2, 6),
    ("bytes=1000-", 1000, 1024),
    ("bytes=-10", 1014, 1024),
    ("bytes=0-99999", 0, 1024),
])
def test_download_range_is_206(server, http, range_header, start, stop):
    data = bytes(range(256)) * 4
    image = create_ok(http, data=data)
    resp = http.get(f"/v1/images/{image['id']}", headers={"Range": range_header})
    assert resp.status_code == 206, resp.text
    assert resp.content == data[start:stop]
    assert resp.headers["content-range"] == f"bytes {start}-{stop - 1}/{len(data)}"
    assert resp.headers["content-length"] == str(stop - start)


def test_download_range_beyond_end_is_416(server, http):
    image = create_ok(http, data=b"x" * 100)
    resp = http.get(f"/v1/images/{image['id']}", headers={"Range": "bytes=500-600"})
    assert resp.status_code == 416
    # the server is fine afterwards
    assert http.get(f"/v1/images/{image['id']}").content == b"x" * 100


def test_download_of_queued_image_is_404_not_active(server, http):
    image = create_ok(http)
    assert_error(http.get(f"/v1/images/{image['id']}"), 404, "not active")
    # HEAD works in any status
    assert head(http, image["id"]).headers["x-image-meta-status"] == "queued"


def test_unknown_image_is_404(server, http):
    missing = str(uuid.uuid4())
    assert_error(http.get(f"/v1/images/{missing}"), 404)
    assert head(http, missing).status_code == 404
    assert_error(http.put(f"/v1/images/{missing}", headers={"x-image-meta-name": "x"}), 404)
    assert_error(http.delete(f"/v1/images/{missing}"), 404)


# --------------------------------------------------------------------------- header mapping


def test_dashed_and_underscored_names_are_the_same(server, http):
    resp = http.post("/v1/images", headers={
        "x-image-meta-name": unique("dash"),
        "x-image-meta-disk-format": "qcow2",
        "x-image-meta-container-format": "ovf",
        "x-image-meta-min-ram": "256",
        "x-image-meta-min_disk": "3",
        "x-image-meta-is-public": "true",
        "x-image-meta-property-os-distro": "debian",
        "x-image-meta-property-os_version": "12",
    })
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["disk_format"] == "qcow2"
    assert image["container_format"] == "ovf"
    assert image["min_ram"] == 256 and image["min_disk"] == 3
    assert image["is_public"] is True
    assert image["properties"] == {"os_distro": "debian", "os_version": "12"}
    fields = image_meta(head(http, image["id"]))
    assert fields["properties"] == {"os_distro": "debian", "os_version": "12"}
    assert fields["min_ram"] == "256"

    # updating through the other spelling changes the same field/property
    resp = http.put(f"/v1/images/{image['id']}", headers={
        "x-image-meta-disk_format": "vmdk",
        "x-image-meta-property-os_distro": "ubuntu",
        "x-image-meta-property-os-version": "24.04",
    })
    assert resp.status_code == 200, resp.text
    updated = resp.json()["image"]
    assert updated["disk_format"] == "vmdk"
    assert updated["properties"] == {"os_distro": "ubuntu", "os_version": "24.04"}


def test_header_names_are_case_insensitive(server, http):
    name = unique("case")
    resp = http.post("/v1/images", headers={
        "X-IMAGE-META-NAME": name,
        "X-Image-Meta-Disk_Format": "raw",
        "x-IMAGE-meta-CONTAINER-FORMAT": "bare",
        "X-Image-Meta-Property-Flavor": "Large",
        "X-Image-Meta-Is_Public": "TRUE",
    })
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["name"] == name
    assert image["disk_format"] == "raw" and image["container_format"] == "bare"
    assert image["is_public"] is True
    assert image["properties"] == {"flavor": "Large"}  # the value keeps its case


def test_utf8_header_values_round_trip(server, http):
    name = "café ☃ " + unique()
    resp = http.post("/v1/images", headers=[
        (b"x-image-meta-name", name.encode()),
        (b"x-image-meta-property-description", "naïve — ünïcode".encode()),
    ])
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["name"] == name
    assert image["properties"]["description"] == "naïve — ünïcode"
    meta = head(http, image["id"])
    raw = dict(meta.headers.raw)
    assert raw[b"x-image-meta-name"].decode("utf-8") == name
    assert raw[b"x-image-meta-property-description"].decode("utf-8") == "naïve — ünïcode"


def test_ignored_fields_are_accepted_and_ignored(server, http):
    resp = create(http, {"name": unique("ignored"), "disk_format": "raw",
                         "container_format": "bare", "created_at": "2001-01-01T00:00:00",
                         "updated_at": "2001-01-01T00:00:00", "deleted_at": "2001-01-01T00:00:00",
                         "deleted": "True", "uri": "http://elsewhere/images/1",
                         "virtual_size": "123"})
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["deleted"] is False and image["deleted_at"] is None
    assert not image["created_at"].startswith("2001")
    assert image["status"] == "queued"
    assert head(http, image["id"]).status_code == 200


def test_admin_may_set_owner(server, http):
    image = create_ok(http, {"owner": "project-x"})
    assert image["owner"] == "project-x"
    assert head(http, image["id"]).headers["x-image-meta-owner"] == "project-x"


@pytest.mark.parametrize("header", ["x-image-meta-nmae", "x-image-meta-bogus",
                                    "X-Image-Meta-Sizee"])
def test_unknown_meta_header_is_bad_header(server, http, header):
    resp = http.post("/v1/images", headers={"x-image-meta-name": unique(), header: "x"})
    error = assert_error(resp, 400, "bad header")
    suffix = header.lower()[len("x-image-meta-"):]
    assert suffix in error["message"].lower(), error
    # the same on update
    image = create_ok(http)
    resp = http.put(f"/v1/images/{image['id']}", headers={header: "x"})
    assert_error(resp, 400, "bad header", suffix)


# --------------------------------------------------------------------------- coercion


@pytest.mark.parametrize("field", ["min_ram", "min_disk"])
def test_integer_fields_are_integers(server, http, field):
    image = create_ok(http, {field: "2048"})
    assert image[field] == 2048
    assert head(http, image["id"]).headers[f"x-image-meta-{field}"] == "2048"
    resp = http.put(f"/v1/images/{image['id']}", headers={f"x-image-meta-{field}": "0"})
    assert resp.status_code == 200 and resp.json()["image"][field] == 0


@pytest.mark.parametrize("field", ["size", "min_ram", "min_disk"])
@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "0x10", "1e3"])
def test_bad_integer_values_are_400(server, http, field, value):
    name = unique("badint")
    resp = create(http, {"name": name, "disk_format": "raw", "container_format": "bare",
                         field: value})
    assert_error(resp, 400, field)
    # nothing was created
    listed = http.get("/v1/images", params={"name": name}).json()["images"]
    assert listed == []
    image = create_ok(http)
    assert_error(http.put(f"/v1/images/{image['id']}",
                          headers={f"x-image-meta-{field}": value}), 400, field)


@pytest.mark.parametrize("field", ["is_public", "protected"])
@pytest.mark.parametrize("value,expected", [
    ("true", True), ("True", True), ("TRUE", True), ("on", True), ("ON", True), ("1", True),
    ("yes", True), ("Yes", True),
    ("false", False), ("False", False), ("off", False), ("Off", False), ("0", False),
    ("no", False), ("NO", False),
])
def test_boolean_values(server, http, field, value, expected):
    image = create_ok(http, {field: value})
    assert image[field] is expected
    assert head(http, image["id"]).headers[f"x-image-meta-{field}"] == str(expected)
    if expected:  # and it can be switched back
        resp = http.put(f"/v1/images/{image['id']}", headers={f"x-image-meta-{field}": "off"})
        assert resp.status_code == 200 and resp.json()["image"][field] is False


@pytest.mark.parametrize("field", ["is_public", "protected"])
@pytest.mark.parametrize("value", ["None", "none", ""])
def test_none_and_empty_booleans_are_false(server, http, field, value):
    # python-glanceclient 2.x's v1 CLI sends `x-image-meta-is_public: None` when
    # --is-public is not given; the original server read it (and an empty value) as false
    image = create_ok(http, {field: value})
    assert image[field] is False
    assert head(http, image["id"]).headers[f"x-image-meta-{field}"] == "False"
    switched = create_ok(http, {field: True})
    resp = http.put(f"/v1/images/{switched['id']}", headers={f"x-image-meta-{field}": value})
    assert resp.status_code == 200 and resp.json()["image"][field] is False
    assert head(http, switched["id"]).headers[f"x-image-meta-{field}"] == "False"


def test_glanceclient_2_v1_create_without_is_public(server, http):
    # the headers python-glanceclient 2.17's `glance --os-image-api-version 1 image-create
    # --name x --disk-format raw --container-format bare` sends
    resp = http.post("/v1/images", headers={
        "x-image-meta-name": "x", "x-image-meta-disk_format": "raw",
        "x-image-meta-container_format": "bare", "x-image-meta-is_public": "None",
        "x-image-meta-protected": "False", "x-image-meta-min_disk": "0",
        "x-image-meta-min_ram": "0"})
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["is_public"] is False and image["protected"] is False
    assert image["name"] == "x"


@pytest.mark.parametrize("field", ["is_public", "protected"])
@pytest.mark.parametrize("value", ["maybe", "2", "tru", "yes please", "-1"])
def test_bad_boolean_values_are_400(server, http, field, value):
    resp = create(http, {"name": unique(), field: value})
    assert_error(resp, 400, field)
    image = create_ok(http)
    assert_error(http.put(f"/v1/images/{image['id']}",
                          headers={f"x-image-meta-{field}": value}), 400, field)
    assert head(http, image["id"]).headers[f"x-image-meta-{field}"] == "False"


def test_name_longer_than_255_is_400(server, http):
    image = create_ok(http, {"name": "n" * 255})
    assert image["name"] == "n" * 255
    assert_error(create(http, {"name": "n" * 256}), 400, "name")


# --------------------------------------------------------------------------- immutable fields


def test_status_cannot_be_set(server, http):
    resp = create(http, {"name": unique(), "status": "active"})
    assert_error(resp, 403, "status")
    image = create_ok(http)
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-status": "active"})
    assert_error(resp, 403, "status")
    assert head(http, image["id"]).headers["x-image-meta-status"] == "queued"
    # sending the current value is not a change
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-status": "queued",
                                                          "x-image-meta-name": "same-status"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["image"]["name"] == "same-status"


def test_id_cannot_be_changed(server, http):
    image = create_ok(http)
    other = str(uuid.uuid4())
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-id": other})
    assert_error(resp, 403, "id")
    assert head(http, other).status_code == 404
    assert head(http, image["id"]).status_code == 200
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-id": image["id"],
                                                          "x-image-meta-name": "same-id"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["image"]["id"] == image["id"]


# --------------------------------------------------------------------------- ids


@pytest.mark.parametrize("image_id", [
    "1", "my-image_1.x", "A" * 64, "0." + "z" * 10, str(uuid.uuid4()).upper(),
])
def test_client_supplied_valid_id(server, http, image_id):
    data = b"data of " + image_id.encode()
    resp = create(http, {"id": image_id, "name": unique(), "disk_format": "raw",
                         "container_format": "bare"}, data=data)
    assert resp.status_code == 201, resp.text
    assert resp.json()["image"]["id"] == image_id
    assert resp.headers["location"] == f"{server.url}/v1/images/{image_id}"
    assert head(http, image_id).headers["x-image-meta-id"] == image_id
    assert http.get(f"/v1/images/{image_id}").content == data
    assert http.get(f"/images/{image_id}").content == data
    listed = http.get("/v1/images/detail", params={"name": resp.json()["image"]["name"]})
    assert [i["id"] for i in listed.json()["images"]] == [image_id]


@pytest.mark.parametrize("image_id", [
    "has space", "a/b", "semi;colon", "café", "star*", ".hidden", "." , "A" * 65, "a%2Fb",
])
def test_invalid_id_is_400(server, http, image_id):
    name = unique("badid")
    resp = http.post("/v1/images", headers=[(b"x-image-meta-id", image_id.encode()),
                                            (b"x-image-meta-name", name.encode())])
    assert_error(resp, 400, "id")
    assert http.get("/v1/images", params={"name": name}).json()["images"] == []


def test_duplicate_id_is_409(server, http):
    image_id = str(uuid.uuid4())
    first = create_ok(http, {"id": image_id, "name": "first"})
    resp = create(http, {"id": image_id, "name": "second"})
    assert_error(resp, 409, image_id)
    assert head(http, image_id).headers["x-image-meta-name"] == first["name"]
    # also when the existing image has data and the new request has a body
    before = server.stored_files()
    resp = create(http, {"id": image_id, "name": "third", "disk_format": "raw",
                         "container_format": "bare"}, data=b"dup")
    assert_error(resp, 409)
    assert new_files(server, before) == []


def test_deleted_id_cannot_be_reused_silently(server, http):
    image = create_ok(http, data=b"abc")
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    resp = create(http, {"id": image["id"], "name": "again"})
    # the id is taken by a deleted record: refused, never a 5xx
    assert_error(resp, 409)


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize("disk_format", [f for f in DISK_FORMATS if f not in AMAZON])
def test_each_disk_format_is_accepted(server, http, disk_format):
    image = create_ok(http, {"disk_format": disk_format, "container_format": "bare"},
                      data=sample(disk_format))
    assert image["disk_format"] == disk_format and image["status"] == "active"


@pytest.mark.parametrize("container_format", [f for f in CONTAINER_FORMATS if f not in AMAZON])
def test_each_container_format_is_accepted(server, http, container_format):
    image = create_ok(http, {"disk_format": "raw", "container_format": container_format},
                      data=b"c")
    assert image["container_format"] == container_format and image["status"] == "active"


@pytest.mark.parametrize("fmt", sorted(AMAZON))
def test_amazon_formats_in_matching_pairs(server, http, fmt):
    image = create_ok(http, {"disk_format": fmt, "container_format": fmt}, data=b"a")
    assert (image["disk_format"], image["container_format"]) == (fmt, fmt)


@pytest.mark.parametrize("disk,container", [
    ("aki", "bare"), ("raw", "ami"), ("ari", "aki"), ("ami", "ovf"), ("qcow2", "ari"),
])
def test_amazon_formats_must_match(server, http, disk, container):
    resp = create(http, {"name": unique(), "disk_format": disk, "container_format": container})
    assert_error(resp, 400, "format")
    image = create_ok(http, {"disk_format": "raw", "container_format": "bare"})
    resp = http.put(f"/v1/images/{image['id']}", headers={
        "x-image-meta-disk_format": disk, "x-image-meta-container_format": container})
    assert_error(resp, 400, "format")
    meta = head(http, image["id"]).headers
    assert meta["x-image-meta-disk_format"] == "raw"


@pytest.mark.parametrize("given,fmt", [("disk_format", "aki"), ("disk_format", "ari"),
                                       ("disk_format", "ami"), ("container_format", "aki"),
                                       ("container_format", "ari"), ("container_format", "ami")])
def test_amazon_format_fills_the_other(server, http, given, fmt):
    data = b"amazon"
    image = create_ok(http, {given: fmt}, data=data, default_formats=False)
    assert image["disk_format"] == fmt and image["container_format"] == fmt
    assert image["status"] == "active"


@pytest.mark.parametrize("field,value", [("disk_format", "vhdz"), ("disk_format", "img"),
                                         ("container_format", "zip"),
                                         ("container_format", "tar")])
def test_unknown_format_is_400(server, http, field, value):
    other = {"disk_format": "raw", "container_format": "bare"}
    other[field] = value
    assert_error(create(http, {"name": unique(), **other}), 400, field.split("_")[0], value)


@pytest.mark.parametrize("image_type,disk,container", [
    ("kernel", "aki", "aki"), ("ramdisk", "ari", "ari"), ("machine", "ami", "ami"),
    ("raw", "raw", "bare"),
])
def test_type_fills_formats(server, http, image_type, disk, container):
    data = b"typed " + image_type.encode()
    image = create_ok(http, {"type": image_type}, data=data, default_formats=False)
    assert image["status"] == "active"
    assert (image["disk_format"], image["container_format"]) == (disk, container)
    assert image["properties"]["type"] == image_type
    meta = head(http, image["id"]).headers
    assert meta["x-image-meta-property-type"] == image_type
    assert meta["x-image-meta-disk_format"] == disk


def test_type_does_not_override_given_formats(server, http):
    image = create_ok(http, {"type": "machine", "disk_format": "qcow2",
                             "container_format": "bare"}, data=qcow2())
    assert (image["disk_format"], image["container_format"]) == ("qcow2", "bare")
    assert image["properties"]["type"] == "machine"


@pytest.mark.parametrize("value", ["floppy", "vm"])
def test_bad_type_is_400(server, http, value):
    assert_error(create(http, {"name": unique(), "type": value}), 400, "type")
    resp = http.post("/v1/images", headers={"x-image-meta-name": unique(),
                                            "x-image-meta-property-type": value})
    assert_error(resp, 400, "type")


def test_upload_without_formats_is_400(server, http):
    before = server.stored_files()
    for meta in ({}, {"disk_format": "raw"}, {"container_format": "bare"}):
        image_id = str(uuid.uuid4())
        resp = create(http, {"id": image_id, "name": unique("nofmt"), **meta}, data=b"data")
        assert_error(resp, 400, "format")
        # refused before any data was stored: the record is absent, still queued, or killed
        assert head(http, image_id).headers.get("x-image-meta-status") in (
            None, "queued", "killed")
    # a queued image without formats refuses data, then takes it once formats are set
    image = create_ok(http, default_formats=False)
    resp = http.put(f"/v1/images/{image['id']}", content=b"data", headers=OCTET)
    assert_error(resp, 400, "format")
    assert new_files(server, before) == []
    if head(http, image["id"]).headers["x-image-meta-status"] == "queued":
        resp = http.put(f"/v1/images/{image['id']}", content=b"data", headers={
            **OCTET, "x-image-meta-disk_format": "raw", "x-image-meta-container_format": "bare"})
        assert resp.status_code == 200, resp.text
        assert resp.json()["image"]["status"] == "active"


# --------------------------------------------------------------------------- upload rules


@pytest.mark.parametrize("content_type", ["text/plain", "application/json",
                                          "application/x-www-form-urlencoded", None])
def test_body_must_be_octet_stream(server, http, content_type):
    before = server.stored_files()
    image_id = str(uuid.uuid4())
    headers = meta_headers({"id": image_id, "name": unique(), "disk_format": "raw",
                            "container_format": "bare"})
    if content_type:
        headers["Content-Type"] = content_type
    resp = http.post("/v1/images", headers=headers, content=b"some bytes")
    assert_error(resp, 400, "application/octet-stream")
    assert head(http, image_id).headers.get("x-image-meta-status") in (None, "killed")
    assert new_files(server, before) == []


def test_chunked_upload(server, http):
    chunks = [b"a" * 65536, b"b" * 100, b"c" * 300000, b"", b"d"]
    data = b"".join(chunks)
    seen = {}

    def body():
        yield from chunks

    def hook(request):
        seen.update(request.headers)

    with httpx.Client(base_url=server.url, timeout=60,
                      event_hooks={"request": [hook]}) as client:
        resp = client.post("/v1/images", content=body(), headers={
            **OCTET, **meta_headers({"name": unique("chunked"), "disk_format": "raw",
                                     "container_format": "bare"})})
    assert seen.get("transfer-encoding") == "chunked" and "content-length" not in seen
    assert resp.status_code == 201, resp.text
    image = resp.json()["image"]
    assert image["status"] == "active"
    assert image["size"] == len(data) and image["checksum"] == md5(data)
    assert http.get(f"/v1/images/{image['id']}").content == data


def test_chunked_upload_into_queued_image_with_put(server, http):
    image = create_ok(http)
    data = b"streamed" * 50000
    resp = http.put(f"/v1/images/{image['id']}", headers=OCTET,
                    content=(data[i:i + 70000] for i in range(0, len(data), 70000)))
    assert resp.status_code == 200, resp.text
    assert resp.json()["image"]["size"] == len(data)
    assert http.get(f"/v1/images/{image['id']}").content == data


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("declared,actual", [(100, 50), (10, 5000), (1, 2)])
def test_size_mismatch_kills_image_and_leaves_nothing(server, http, chunked, declared, actual):
    before = server.stored_files()
    image_id = str(uuid.uuid4())
    data = b"s" * actual
    content = iter([data]) if chunked else data
    resp = http.post("/v1/images", content=content, headers={
        **OCTET, **meta_headers({"id": image_id, "name": unique("size"), "size": declared,
                                 "disk_format": "raw", "container_format": "bare"})})
    assert_error(resp, 400, "size")
    assert head(http, image_id).headers["x-image-meta-status"] == "killed"
    assert_error(http.get(f"/v1/images/{image_id}"), 404)
    assert new_files(server, before) == []


def test_matching_size_is_accepted(server, http):
    data = b"m" * 4096
    image = create_ok(http, {"size": len(data)}, data=data)
    assert image["status"] == "active" and image["size"] == len(data)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_checksum_mismatch_kills_image_and_leaves_nothing(server, http, chunked):
    before = server.stored_files()
    image_id = str(uuid.uuid4())
    data = b"checksum me" * 1000
    resp = http.post("/v1/images", content=iter([data]) if chunked else data, headers={
        **OCTET, **meta_headers({"id": image_id, "name": unique("md5"),
                                 "checksum": md5(b"other"), "disk_format": "raw",
                                 "container_format": "bare"})})
    assert_error(resp, 400, "checksum")
    assert head(http, image_id).headers["x-image-meta-status"] == "killed"
    assert new_files(server, before) == []


def test_correct_checksum_is_accepted(server, http):
    data = b"verified" * 1000
    image = create_ok(http, {"checksum": md5(data)}, data=data)
    assert image["status"] == "active" and image["checksum"] == md5(data)
    # upper-case hex is the same checksum
    data2 = b"verified2" * 1000
    image2 = create_ok(http, {"checksum": md5(data2).upper()}, data=data2)
    assert image2["status"] == "active" and image2["checksum"] == md5(data2)


def test_put_data_into_queued_image_then_active_is_409(server, http):
    image = create_ok(http, {"name": unique("putdata")})
    before = server.stored_files()
    data = b"first upload"
    resp = http.put(f"/v1/images/{image['id']}", content=data, headers=OCTET)
    assert resp.status_code == 200, resp.text
    updated = resp.json()["image"]
    assert updated["status"] == "active"
    assert updated["size"] == len(data) and updated["checksum"] == md5(data)
    assert len(new_files(server, before)) == 1
    after_first = server.stored_files()

    resp = http.put(f"/v1/images/{image['id']}", content=b"second upload", headers=OCTET)
    assert_error(resp, 409, "queued")
    assert http.get(f"/v1/images/{image['id']}").content == data
    assert server.stored_files() == after_first


def test_unknown_store_is_400(server, http):
    before = server.stored_files()
    image_id = str(uuid.uuid4())
    resp = create(http, {"id": image_id, "name": unique(), "store": "nosuchstore",
                         "disk_format": "raw", "container_format": "bare"}, data=b"x")
    assert_error(resp, 400, "nosuchstore")
    assert new_files(server, before) == []


def test_file_store_by_name(server, http):
    before = server.stored_files()
    image = create_ok(http, {"store": "file"}, data=b"into the file store")
    assert image["status"] == "active"
    added = new_files(server, before)
    assert len(added) == 1 and added[0].read_bytes() == b"into the file store"


# --------------------------------------------------------------------------- update


def test_put_replaces_properties_by_default(server, http):
    image = create_ok(http, properties={"a": "1", "b": "2"})
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-property-c": "3"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["image"]["properties"] == {"c": "3"}
    assert image_meta(head(http, image["id"]))["properties"] == {"c": "3"}
    # a PUT without any property header clears them all
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-name": "renamed"})
    assert resp.status_code == 200
    assert resp.json()["image"]["properties"] == {}
    assert resp.json()["image"]["name"] == "renamed"


@pytest.mark.parametrize("value", ["false", "False", "FALSE"])
def test_put_with_purge_false_merges_properties(server, http, value):
    image = create_ok(http, properties={"a": "1", "b": "2"})
    resp = http.put(f"/v1/images/{image['id']}", headers={
        "x-glance-registry-purge-props": value,
        "x-image-meta-property-b": "20", "x-image-meta-property-c": "3"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["image"]["properties"] == {"a": "1", "b": "20", "c": "3"}
    assert image_meta(head(http, image["id"]))["properties"] == {"a": "1", "b": "20", "c": "3"}


def test_put_with_purge_true_replaces(server, http):
    image = create_ok(http, properties={"a": "1"})
    resp = http.put(f"/v1/images/{image['id']}", headers={
        "x-glance-registry-purge-props": "true", "x-image-meta-property-z": "26"})
    assert resp.status_code == 200
    assert resp.json()["image"]["properties"] == {"z": "26"}


def test_put_with_body_merges_properties(server, http):
    image = create_ok(http, properties={"a": "1", "b": "2"})
    resp = http.put(f"/v1/images/{image['id']}", content=b"payload", headers={
        **OCTET, "x-image-meta-property-c": "3"})
    assert resp.status_code == 200, resp.text
    body = resp.json()["image"]
    assert body["status"] == "active"
    assert body["properties"] == {"a": "1", "b": "2", "c": "3"}


def test_put_updates_fields_and_keeps_others(server, http):
    data = b"keep me"
    image = create_ok(http, {"min_ram": 128, "is_public": True}, data=data)
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-name": "new name",
                                                          "x-image-meta-min_disk": "7"})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    updated = resp.json()["image"]
    assert updated["name"] == "new name" and updated["min_disk"] == 7
    assert updated["min_ram"] == 128 and updated["is_public"] is True
    assert updated["size"] == len(data) and updated["checksum"] == md5(data)
    assert updated["status"] == "active"
    assert updated["created_at"] == image["created_at"]
    assert http.get(f"/v1/images/{image['id']}").content == data


# --------------------------------------------------------------------------- delete


def test_delete_then_gone(server, http):
    data = b"to be deleted"
    before = server.stored_files()
    image = create_ok(http, {"name": unique("del")}, data=data)
    assert len(new_files(server, before)) == 1
    resp = http.delete(f"/v1/images/{image['id']}")
    assert resp.status_code == 200
    assert resp.content in (b"", b"null")
    assert head(http, image["id"]).status_code == 404
    assert_error(http.get(f"/v1/images/{image['id']}"), 404)
    assert_error(http.delete(f"/v1/images/{image['id']}"), 404)
    assert_error(http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-name": "z"}),
                 404)
    assert new_files(server, before) == []
    assert http.get("/v1/images", params={"name": image["name"]}).json()["images"] == []


def test_delete_queued_image(server, http):
    image = create_ok(http)
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert head(http, image["id"]).status_code == 404


def test_protected_image_cannot_be_deleted(server, http):
    data = b"precious"
    before = server.stored_files()
    image = create_ok(http, {"protected": True}, data=data)
    assert_error(http.delete(f"/v1/images/{image['id']}"), 403, "protected")
    assert head(http, image["id"]).headers["x-image-meta-status"] == "active"
    assert http.get(f"/v1/images/{image['id']}").content == data
    resp = http.put(f"/v1/images/{image['id']}", headers={"x-image-meta-protected": "False"})
    assert resp.status_code == 200
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert new_files(server, before) == []


# --------------------------------------------------------------------------- header budget


def test_properties_totalling_40k_of_headers_are_accepted(server, http):
    props = {f"prop{i:03d}": f"{i:03d}" + "v" * 1000 for i in range(40)}
    image = create_ok(http, properties=props)
    assert image["properties"] == props
    # ~40 KiB of response headers: more than httpx reads, so read them with http.client
    conn = httplib.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request("HEAD", f"/v1/images/{image['id']}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        got = {k.lower()[len("x-image-meta-property-"):]: v for k, v in resp.getheaders()
               if k.lower().startswith("x-image-meta-property-")}
    finally:
        conn.close()
    assert got == props
    assert httpx.get(server.url + "/versions", timeout=10).status_code == 200


def raw_request(server, head_bytes: bytes, timeout: float = 20) -> tuple[int, dict, bytes]:
    """Send raw request bytes, return (status, headers, body) of the response."""
    conn = httplib.HTTPConnection(server.host, server.port, timeout=timeout)
    try:
        conn.connect()
        conn.sock.sendall(head_bytes)
        response = httplib.HTTPResponse(conn.sock, method="POST")
        response.begin()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def check_refused_headers(server, request: bytes) -> None:
    try:
        status, headers, body = raw_request(server, request)
    except (ConnectionResetError, BrokenPipeError, httplib.RemoteDisconnected) as exc:
        pytest.fail(f"the server dropped the connection instead of answering: {exc!r}")
    assert status == 431, (status, body[:300])
    assert headers.get("content-type", "").startswith("application/json"), headers
    error = json.loads(body)["error"]
    assert error["code"] == status and error["message"]
    # and the server still answers
    assert httpx.get(server.url + "/versions", timeout=10).status_code == 200
    listed = httpx.get(server.url + "/v1/images", params={"limit": 1}, timeout=10)
    assert listed.status_code == 200


def test_headers_over_64k_in_total_are_431(server, http):
    lines = b"".join(b"x-image-meta-property-p%03d: %s\r\n" % (i, b"v" * 1000)
                     for i in range(70))
    request = (b"POST /v1/images HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: 0\r\n\r\n"
               % (server.host.encode(), server.port, lines))
    check_refused_headers(server, request)


def test_single_huge_header_is_431(server, http):
    request = (b"POST /v1/images HTTP/1.1\r\nHost: %s:%d\r\nx-image-meta-name: %s\r\n"
               b"Content-Length: 0\r\n\r\n" % (server.host.encode(), server.port, b"n" * 100000))
    check_refused_headers(server, request)


def test_many_small_headers_are_refused_cleanly(server, http):
    lines = b"".join(b"x-image-meta-property-p%05d: v\r\n" % i for i in range(3000))
    request = (b"POST /v1/images HTTP/1.1\r\nHost: %s:%d\r\n%sContent-Length: 0\r\n\r\n"
               % (server.host.encode(), server.port, lines))
    check_refused_headers(server, request)
