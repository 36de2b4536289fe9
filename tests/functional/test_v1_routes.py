"""Images API v1: the versions document, URL prefixes and method checks (raw HTTP)."""

from __future__ import annotations

import pytest

from tests.functional._v1 import assert_error, create_ok, unique

PREFIXES = ["", "/v1", "/v1.0", "/v1.1"]


def check_versions_document(resp, base: str) -> None:
    assert resp.headers["content-type"].startswith("application/json")
    doc = resp.json()
    assert set(doc) == {"versions"}
    by_id = {v["id"]: v for v in doc["versions"]}
    assert {"v1.0", "v1.1"} <= set(by_id), doc
    for vid in ("v1.0", "v1.1"):
        version = by_id[vid]
        assert version["status"] == "SUPPORTED", version
        assert {"rel": "self", "href": f"{base}/v1/"} in version["links"], version
    for version in doc["versions"]:
        assert version["status"] in ("CURRENT", "SUPPORTED", "DEPRECATED"), version
        assert version["links"] and all(link["href"].startswith(base + "/")
                                        for link in version["links"]), version
    # v1 is the oldest: listed after any newer version
    order = [v["id"] for v in doc["versions"]]
    assert order.index("v1.1") < order.index("v1.0")
    assert order[-2:] == ["v1.1", "v1.0"], order


def test_root_is_versions_document_with_300(server, http):
    resp = http.get("/")
    assert resp.status_code == 300, resp.text
    check_versions_document(resp, server.url)


def test_versions_is_versions_document_with_200(server, http):
    resp = http.get("/versions")
    assert resp.status_code == 200, resp.text
    check_versions_document(resp, server.url)
    assert resp.json() == http.get("/").json()


@pytest.mark.parametrize("path", ["/v9/images", "/v9/", "/v9", "/v1.9/images",
                                  "/v9/images/detail"])
def test_unknown_version_prefix_answers_300_with_document(server, http, path):
    resp = http.get(path)
    assert resp.status_code == 300, (path, resp.status_code, resp.text)
    check_versions_document(resp, server.url)


def test_versions_hrefs_follow_the_host_header(server, http):
    resp = http.get("/versions", headers={"Host": "images.example.com:9292"})
    assert resp.status_code == 200
    hrefs = [link["href"] for v in resp.json()["versions"] for link in v["links"]]
    assert "http://images.example.com:9292/v1/" in hrefs, hrefs


@pytest.mark.parametrize("prefix", PREFIXES)
def test_index_and_detail_answer_under_every_prefix(server, http, prefix):
    name = unique("prefix")
    image = create_ok(http, {"name": name})
    for path in (f"{prefix}/images", f"{prefix}/images/detail"):
        resp = http.get(path, params={"name": name})
        assert resp.status_code == 200, (path, resp.text)
        assert resp.headers["content-type"].startswith("application/json")
        assert [i["id"] for i in resp.json()["images"]] == [image["id"]], path


@pytest.mark.parametrize("prefix", PREFIXES)
def test_create_head_get_update_delete_under_every_prefix(server, http, prefix):
    data = b"prefix-data-" + prefix.encode()
    resp = http.post(f"{prefix}/images", content=data,
                     headers={"x-image-meta-name": unique("pfx"),
                              "x-image-meta-disk_format": "raw",
                              "x-image-meta-container_format": "bare",
                              "Content-Type": "application/octet-stream"})
    assert resp.status_code == 201, resp.text
    image_id = resp.json()["image"]["id"]
    # whatever prefix was used, the canonical location is under /v1
    assert resp.headers["location"] == f"{server.url}/v1/images/{image_id}"
    for other in PREFIXES:
        meta = http.head(f"{other}/images/{image_id}")
        assert meta.status_code == 200, other
        assert meta.headers["x-image-meta-id"] == image_id
    got = http.get(f"{prefix}/images/{image_id}")
    assert got.status_code == 200 and got.content == data
    put = http.put(f"{prefix}/images/{image_id}", headers={"x-image-meta-name": "renamed"})
    assert put.status_code == 200, put.text
    assert put.json()["image"]["name"] == "renamed"
    assert http.delete(f"{prefix}/images/{image_id}").status_code == 200
    assert http.head(f"/v1/images/{image_id}").status_code == 404


def test_v1_root_lists_images_like_last_v1(server, http):
    # v1.md is silent on GET /v1/; the last v1 router mapped it to the image index.
    resp = http.get("/v1/")
    assert resp.status_code == 200, resp.text
    assert isinstance(resp.json()["images"], list)


def test_root_images_is_v1_not_versions_document(server, http):
    resp = http.get("/images")
    assert resp.status_code == 200, resp.text
    assert "images" in resp.json()


def allow_set(resp) -> set[str]:
    assert "allow" in resp.headers, dict(resp.headers)
    return {m.strip().upper() for m in resp.headers["allow"].split(",") if m.strip()}


@pytest.fixture(scope="module")
def image_id(server):
    import httpx
    with httpx.Client(base_url=server.url, timeout=60) as client:
        return create_ok(client, {"name": unique("allow")})["id"]


# (path template, methods that must be refused, methods the Allow header must list)
ROUTES = [
    ("/images", ["PUT", "DELETE", "PATCH"], {"GET", "POST"}),
    ("/images/detail", ["POST", "PUT", "DELETE", "PATCH"], {"GET"}),
    ("/images/{id}", ["POST", "PATCH"], {"GET", "HEAD", "PUT", "DELETE"}),
    ("/images/{id}/members", ["POST", "DELETE", "PATCH"], {"GET", "PUT"}),
    ("/images/{id}/members/tenant1", ["POST", "PATCH"], {"PUT", "DELETE"}),
    ("/shared-images/tenant1", ["POST", "PUT", "DELETE", "PATCH"], {"GET"}),
]


@pytest.mark.parametrize("prefix", ["", "/v1"])
@pytest.mark.parametrize("template,refused,allowed", ROUTES,
                         ids=[r[0] for r in ROUTES])
def test_unsupported_method_is_405_with_allow(server, http, image_id, prefix, template,
                                              refused, allowed):
    path = prefix + template.format(id=image_id)
    for method in refused:
        resp = http.request(method, path)
        assert_error(resp, 405)
        listed = allow_set(resp)
        assert allowed <= listed, (method, path, listed)
        assert method not in listed, (method, path, listed)
    # the refused calls changed nothing
    assert http.head(f"/v1/images/{image_id}").status_code == 200


@pytest.mark.parametrize("prefix", ["", "/v1"])
def test_head_on_detail_is_405(server, http, prefix):
    resp = http.head(f"{prefix}/images/detail")
    assert resp.status_code == 405
    assert "GET" in allow_set(resp)
    assert resp.content == b""


def test_unknown_path_is_404_envelope(server, http):
    assert_error(http.get("/v1/nothing-here"), 404)
