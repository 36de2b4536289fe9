"""Images API v1: listing — fields, filters, sorting and paging (raw HTTP)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from tests.functional._disks import uninspected_server
from tests.functional._v1 import (assert_error, create, create_ok, ids, md5,
                                  meta_headers, unique)

INDEX_FIELDS = {"id", "name", "disk_format", "container_format", "size", "checksum", "uri"}
DETAIL_FIELDS = INDEX_FIELDS | {"status", "is_public", "protected", "min_ram", "min_disk",
                                "owner", "created_at", "updated_at", "deleted_at", "deleted",
                                "properties"}
SORT_KEYS = ["name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at"]
LIST_PATHS = ["/v1/images", "/v1/images/detail", "/images", "/images/detail"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Placeholder bytes of exact sizes under many disk formats: no format inspection here."""
    yield from uninspected_server(tmp_path_factory)


def listing(http: httpx.Client, path: str = "/v1/images/detail", **params: Any) -> list[dict]:
    resp = http.get(path, params=params)
    assert resp.status_code == 200, (path, params, resp.text)
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert set(body) == {"images"}, body.keys()
    return body["images"]


def parse_time(value: str) -> datetime:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ------------------------------------------------------------------------------ catalogue


@pytest.fixture(scope="module")
def catalog(server):
    """Four images tagged with a unique ``suite`` property, for filter tests.

    A: alpha raw/bare 10 B, min_ram 0, min_disk 0, public, red
    B: beta qcow2/ovf 100 B, min_ram 512, min_disk 10, private, protected, blue
    C: alpha iso/bare 1000 B, min_ram 512, min_disk 0, public, blue
    D: gamma vmdk/ova queued (no data), min_disk 20, private
    """
    suite = uuid.uuid4().hex
    alpha, beta, gamma = unique("alpha"), unique("beta"), unique("gamma")
    with httpx.Client(base_url=server.url, timeout=60) as http:
        images = {
            "A": create_ok(http, {"name": alpha, "disk_format": "raw", "container_format": "bare",
                                  "is_public": True},
                           {"suite": suite, "color": "red"}, b"a" * 10),
            "B": create_ok(http, {"name": beta, "disk_format": "qcow2", "container_format": "ovf",
                                  "min_ram": 512, "min_disk": 10, "protected": True},
                           {"suite": suite, "color": "blue"}, b"b" * 100),
            "C": create_ok(http, {"name": alpha, "disk_format": "iso", "container_format": "bare",
                                  "min_ram": 512, "is_public": True},
                           {"suite": suite, "color": "blue"}, b"c" * 1000),
            "D": create_ok(http, {"name": gamma, "disk_format": "vmdk", "container_format": "ova",
                                  "min_disk": 20},
                           {"suite": suite}),
        }
    return {"suite": suite, "names": {"alpha": alpha, "beta": beta, "gamma": gamma},
            "ids": {k: v["id"] for k, v in images.items()}, "images": images}


def letters(catalog, images) -> set[str]:
    by_id = {v: k for k, v in catalog["ids"].items()}
    return {by_id[i["id"]] for i in images if i["id"] in by_id}


def test_catalog_shape(catalog):
    images = catalog["images"]
    assert [images[k]["status"] for k in "ABCD"] == ["active", "active", "active", "queued"]


# ------------------------------------------------------------------------------ fields


def test_index_items_carry_the_index_fields_and_uri(server, http, catalog):
    items = listing(http, "/v1/images", **{"property-suite": catalog["suite"]})
    assert letters(catalog, items) == set("ABCD")
    for item in items:
        assert set(item) == INDEX_FIELDS, item
        assert item["uri"] == f"{server.url}/v1/images/{item['id']}"
    a = next(i for i in items if i["id"] == catalog["ids"]["A"])
    assert a["name"] == catalog["names"]["alpha"]
    assert (a["disk_format"], a["container_format"]) == ("raw", "bare")
    assert a["size"] == 10 and a["checksum"] == md5(b"a" * 10)


def test_root_index_uri_is_absolute_v1_url(server, http, catalog):
    items = listing(http, "/images", **{"property-suite": catalog["suite"]})
    assert {i["uri"] for i in items} == {f"{server.url}/v1/images/{i}"
                                         for i in catalog["ids"].values()}
    # and the uri leads to the image
    for item in items:
        resp = httpx.head(item["uri"], timeout=10)
        assert resp.status_code == 200
        assert resp.headers["x-image-meta-id"] == item["id"]


def test_detail_items_are_full_records(server, http, catalog):
    items = listing(http, "/v1/images/detail", **{"property-suite": catalog["suite"]})
    assert letters(catalog, items) == set("ABCD")
    for item in items:
        assert DETAIL_FIELDS <= set(item), DETAIL_FIELDS - set(item)
        assert item["uri"] == f"{server.url}/v1/images/{item['id']}"
        assert item["deleted"] is False and item["deleted_at"] is None
        assert item["properties"]["suite"] == catalog["suite"]
        parse_time(item["created_at"]), parse_time(item["updated_at"])
    b = next(i for i in items if i["id"] == catalog["ids"]["B"])
    assert b["status"] == "active" and b["size"] == 100 and b["checksum"] == md5(b"b" * 100)
    assert b["is_public"] is False and b["protected"] is True
    assert b["min_ram"] == 512 and b["min_disk"] == 10
    assert b["properties"] == {"suite": catalog["suite"], "color": "blue"}
    # the list agrees with HEAD
    meta = http.head(f"/v1/images/{b['id']}").headers
    assert meta["x-image-meta-checksum"] == b["checksum"]
    assert meta["x-image-meta-name"] == b["name"]


def test_killed_and_deleted_images_are_not_listed(server, http):
    name = unique("gone")
    killed_id = str(uuid.uuid4())
    resp = create(http, {"id": killed_id, "name": name, "disk_format": "raw",
                         "container_format": "bare", "checksum": md5(b"nope")}, data=b"data")
    assert resp.status_code == 400
    assert http.head(f"/v1/images/{killed_id}").headers["x-image-meta-status"] == "killed"
    deleted = create_ok(http, {"name": name}, data=b"deleted data")
    assert http.delete(f"/v1/images/{deleted['id']}").status_code == 200
    kept = create_ok(http, {"name": name}, data=b"kept")
    for path in LIST_PATHS:
        assert ids(listing(http, path, name=name)) == [kept["id"]], path


# ------------------------------------------------------------------------------ filters


@pytest.mark.parametrize("path", ["/v1/images", "/v1/images/detail"])
@pytest.mark.parametrize("params,expected", [
    ({"name": "@alpha"}, "AC"),
    ({"name": "@beta"}, "B"),
    ({"name": "no-such-name"}, ""),
    ({"status": "queued"}, "D"),
    ({"status": "active"}, "ABC"),
    ({"disk_format": "qcow2"}, "B"),
    ({"disk_format": "vmdk"}, "D"),
    ({"container_format": "bare"}, "AC"),
    ({"container_format": "ova"}, "D"),
    ({"min_ram": "512"}, "BC"),
    ({"min_ram": "0"}, "AD"),
    ({"min_disk": "10"}, "B"),
    ({"min_disk": "20"}, "D"),
    ({"size_min": "100"}, "BC"),
    ({"size_min": "1000"}, "C"),
    ({"size_min": "1001"}, ""),
    ({"size_min": "10", "size_max": "100"}, "AB"),
    ({"size_max": "99", "status": "active"}, "A"),
    ({"size_max": "10", "status": "active"}, "A"),
    ({"size_max": "9", "status": "active"}, ""),
    ({"property-color": "blue"}, "BC"),
    ({"property-color": "red"}, "A"),
    ({"property-color": "green"}, ""),
    ({"is_public": "true"}, "AC"),
    ({"is_public": "false"}, "BD"),
    ({"is_public": "none"}, "ABCD"),
    ({}, "ABCD"),
    ({"protected": "true"}, "B"),
    ({"protected": "false"}, "ACD"),
    ({"name": "@alpha", "disk_format": "iso"}, "C"),
    ({"property-color": "blue", "min_ram": "512", "is_public": "true"}, "C"),
])
def test_filters(server, http, catalog, path, params, expected):
    query = {k: (catalog["names"][v[1:]] if v.startswith("@") else v)
             for k, v in params.items()}
    query["property-suite"] = catalog["suite"]
    items = listing(http, path, **query)
    assert letters(catalog, items) == set(expected), query
    assert len(items) == len(expected), query


def test_property_filter_matches_exact_value(server, http):
    tag = unique("prop")
    first = create_ok(http, properties={"tag": tag, "distro": "Ubuntu 10.10"})
    create_ok(http, properties={"tag": tag, "distro": "Ubuntu 10.10 LTS"})
    create_ok(http, properties={"tag": tag, "distro": "ubuntu 10.10"})
    items = listing(http, **{"property-tag": tag, "property-distro": "Ubuntu 10.10"})
    assert ids(items) == [first["id"]]


def test_changes_since_includes_deleted_images(server, http):
    name = unique("changed")
    image = create_ok(http, {"name": name}, data=b"soon deleted")
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert listing(http, name=name) == []
    for since in ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00+00:00", "2000-01-01T00:00:00"):
        items = listing(http, name=name, **{"changes-since": since})
        assert ids(items) == [image["id"]], since
        assert items[0]["status"] == "deleted" and items[0]["deleted"] is True
        assert items[0]["deleted_at"] is not None
        assert ids(listing(http, "/v1/images", name=name, **{"changes-since": since})) == \
            [image["id"]]
    assert listing(http, name=name, **{"changes-since": "2999-01-01T00:00:00Z"}) == []


def test_changes_since_compares_updated_at(server, http):
    name = unique("since")
    image = create_ok(http, {"name": name})
    updated = parse_time(image["updated_at"])
    before = iso(updated - timedelta(seconds=5))
    after = iso(updated + timedelta(hours=1))
    assert ids(listing(http, name=name, **{"changes-since": before})) == [image["id"]]
    assert listing(http, name=name, **{"changes-since": after}) == []


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("param,value", [
    ("min_ram", "abc"), ("min_ram", "-1"), ("min_disk", "abc"), ("min_disk", "-5"),
    ("size_min", "abc"), ("size_min", "-1"), ("size_max", "1.5"), ("size_max", "big"),
    ("is_public", "maybe"), ("protected", "maybe"), ("protected", "2"),
    ("changes-since", "yesterday"), ("changes-since", "2020-13-45T99:00:00"),
    ("limit", "abc"), ("limit", "-1"), ("limit", "1.5"),
    ("sort_key", "bogus"), ("sort_key", "owner"), ("sort_key", "min_ram"),
    ("sort_dir", "up"), ("sort_dir", "ascending"),
    ("marker", "@missing"), ("marker", "not a valid id"),
])
def test_bad_values_are_400_naming_the_parameter(server, http, path, param, value):
    if value == "@missing":
        value = str(uuid.uuid4())
    assert_error(http.get(path, params={param: value}), 400, param)


# ------------------------------------------------------------------------------ sorting


@pytest.fixture(scope="module")
def sort_catalog(server):
    """Nine images with ties on every key but id; seven active, two queued."""
    suite = uuid.uuid4().hex
    specs = [  # name, disk, container, data (None = queued)
        ("bravo", "raw", "bare", b"x" * 5),
        ("alpha", "qcow2", "ovf", b"x" * 3),
        ("charlie", "raw", "bare", b"x" * 5),
        ("alpha", "vmdk", "bare", b"x" * 1),
        ("bravo", "raw", "ova", b"x" * 3),
        ("alpha", "qcow2", "bare", b"x" * 8),
        ("delta", "iso", "ovf", b"x" * 5),
        ("bravo", "raw", "bare", None),
        ("alpha", "vdi", "ovf", None),
    ]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        for name, disk, container, data in specs:
            create_ok(http, {"name": name, "disk_format": disk, "container_format": container},
                      {"suite": suite}, data)
        records = listing(http, "/v1/images/detail", limit=1000, **{"property-suite": suite})
    assert len(records) == len(specs)
    return {"suite": suite, "records": records}


def sort_value(record: dict, key: str):
    value = record[key]
    if key in ("created_at", "updated_at"):
        return parse_time(value)
    return value


def expected_order(records: list[dict], key: str, direction: str) -> list[str]:
    ordered = sorted(records, key=lambda r: (sort_value(r, key), r["id"]),
                     reverse=(direction == "desc"))
    return ids(ordered)


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("key", SORT_KEYS)
@pytest.mark.parametrize("path", ["/v1/images/detail", "/v1/images"])
def test_sort_key_and_direction(server, http, sort_catalog, path, key, direction):
    params = {"property-suite": sort_catalog["suite"], "sort_key": key, "sort_dir": direction}
    records = sort_catalog["records"]
    if key == "size":  # queued images have no size; order among nulls is not defined
        params["status"] = "active"
        records = [r for r in records if r["status"] == "active"]
    got = ids(listing(http, path, **params))
    assert got == expected_order(records, key, direction)


def test_default_sort_is_created_at_desc(server, http, sort_catalog):
    got = ids(listing(http, **{"property-suite": sort_catalog["suite"]}))
    assert got == expected_order(sort_catalog["records"], "created_at", "desc")
    only_key = ids(listing(http, sort_key="created_at", **{"property-suite": sort_catalog["suite"]}))
    assert only_key == got
    only_dir = ids(listing(http, sort_dir="asc", **{"property-suite": sort_catalog["suite"]}))
    assert only_dir == expected_order(sort_catalog["records"], "created_at", "asc")


# ------------------------------------------------------------------------------ paging


@pytest.mark.parametrize("path", ["/v1/images/detail", "/v1/images"])
@pytest.mark.parametrize("sort", [{}, {"sort_key": "name", "sort_dir": "asc"},
                                  {"sort_key": "disk_format", "sort_dir": "desc"},
                                  {"sort_key": "size", "sort_dir": "asc", "status": "active"},
                                  {"sort_key": "created_at", "sort_dir": "asc"},
                                  {"sort_key": "status", "sort_dir": "desc"}],
                         ids=["default", "name-asc", "disk-desc", "size-asc", "created-asc",
                              "status-desc"])
@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_marker_paging_walks_every_image_once(server, http, sort_catalog, path, sort,
                                              page_size):
    base = {"property-suite": sort_catalog["suite"], **sort}
    everything = ids(listing(http, path, **base))
    walked: list[str] = []
    marker = None
    for _ in range(len(everything) + 2):
        params = dict(base, limit=page_size)
        if marker:
            params["marker"] = marker
        page = ids(listing(http, path, **params))
        assert len(page) <= page_size
        if not page:
            break
        walked.extend(page)
        marker = page[-1]
    assert walked == everything
    assert len(set(walked)) == len(walked)


def test_page_starts_strictly_after_the_marker(server, http, sort_catalog):
    records = sort_catalog["records"]
    order = expected_order(records, "name", "asc")
    marker = order[3]
    page = ids(listing(http, sort_key="name", sort_dir="asc", marker=marker, limit=100,
                       **{"property-suite": sort_catalog["suite"]}))
    assert page == order[4:]


def test_unknown_marker_is_400(server, http, sort_catalog):
    assert_error(http.get("/v1/images", params={"marker": str(uuid.uuid4())}), 400, "marker")
    assert_error(http.get("/v1/images/detail", params={"marker": str(uuid.uuid4()),
                                                       "limit": "2"}), 400, "marker")


def test_deleted_image_as_marker_is_400(server, http):
    image = create_ok(http)
    assert http.delete(f"/v1/images/{image['id']}").status_code == 200
    assert_error(http.get("/v1/images", params={"marker": image["id"]}), 400, "marker")


def _create_many(server, count: int, tag: str) -> None:
    def one(i: int) -> int:
        resp = httpx.post(server.url + "/v1/images", timeout=60, headers=meta_headers(
            {"name": f"many-{i:05d}"}, {"tag": tag}))
        return resp.status_code

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(one, range(count)))
    assert statuses == [201] * count


def test_default_limit_is_25(fresh_server):
    _create_many(fresh_server, 30, "limit")
    with httpx.Client(base_url=fresh_server.url, timeout=60) as http:
        for path in ("/v1/images", "/v1/images/detail", "/images"):
            assert len(listing(http, path)) == 25, path
            assert len(listing(http, path, limit=30)) == 30, path
            assert len(listing(http, path, limit=7)) == 7, path
        first = ids(listing(http, "/v1/images"))
        rest = ids(listing(http, "/v1/images", marker=first[-1]))
        assert len(rest) == 5
        assert set(first) | set(rest) == set(ids(listing(http, limit=100)))


def test_limit_is_capped_at_1000(fresh_server):
    _create_many(fresh_server, 1003, "cap")
    with httpx.Client(base_url=fresh_server.url, timeout=120) as http:
        assert len(listing(http, "/v1/images", limit=5000)) == 1000
        assert len(listing(http, "/v1/images/detail", limit=1001)) == 1000
        assert len(listing(http, "/v1/images", limit=1000)) == 1000
        page = ids(listing(http, "/v1/images", limit=5000))
        rest = ids(listing(http, "/v1/images", limit=5000, marker=page[-1]))
        assert len(rest) == 3 and not set(rest) & set(page)
