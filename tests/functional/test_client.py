"""glance.client.Client against a real glance-api process.

The first tests run the examples of the 2011 client guide (doc/source/client.rst) as written,
in Python 3, with ``glance.example.com`` replaced by the test server.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import httpx
import pytest

import glance.client as glance_client
from glance.client import Client
from glance.common import exception
from tests.functional._disks import qcow2

MiB = 1024 * 1024


@pytest.fixture
def client(server) -> Iterator[Client]:
    with Client(server.url, timeout=120) as c:
        yield c


def tag() -> str:
    """A value unique to one test, to find its images on the shared server."""
    return "t-" + uuid.uuid4().hex[:12]


def payload(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes that are not valid UTF-8 (so text-mode mistakes show)."""
    block = hashlib.sha512(f"{seed}".encode()).digest() + b"\xff\xfe\x80\x00"
    return (block * (size // len(block) + 1))[:size]


def raw_meta(image_meta: dict) -> dict:
    return {"name": tag(), "disk_format": "raw", "container_format": "bare", **image_meta}


# -- the client guide's examples ----------------------------------------------------------

def test_guide_list_public_images(server, client, capsys):
    image = client.add_image(raw_meta({"is_public": True}), b"data")

    from glance.client import Client

    c = Client(server.host, server.port)

    print(c.get_images())

    out = capsys.readouterr().out
    assert image["id"] in out
    listed = {i["id"]: i for i in c.get_images()}
    assert listed[image["id"]]["name"] == image["name"]
    assert listed[image["id"]]["size"] == 4
    assert listed[image["id"]]["uri"].endswith("/images/" + image["id"])


def test_guide_list_detailed(server, client, capsys):
    image = client.add_image(raw_meta({"properties": {"distro": "Ubuntu 10.10"}}), b"data")

    from glance.client import Client

    c = Client(server.host, server.port)

    print(c.get_images_detailed())

    assert image["id"] in capsys.readouterr().out
    detailed = {i["id"]: i for i in c.get_images_detailed()}
    assert detailed[image["id"]]["properties"] == {"distro": "Ubuntu 10.10"}
    assert detailed[image["id"]]["status"] == "active"


def test_guide_filter_example_finds_an_image_being_saved(server, client, capsys):
    """The guide's filter: images <= 5 GiB in the `saving` status."""
    name = tag()
    release = threading.Event()
    first_chunk_sent = threading.Event()
    result: dict = {}

    def slow_data() -> Iterator[bytes]:
        yield b"a" * 1000
        first_chunk_sent.set()
        release.wait(60)
        yield b"b" * 1000

    def upload() -> None:
        with glance_client.Client(server.url, timeout=120) as uploader:
            try:
                result["image"] = uploader.add_image(raw_meta({"name": name, "size": 2000}),
                                                     slow_data())
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                result["error"] = exc

    thread = threading.Thread(target=upload)
    thread.start()
    try:
        assert first_chunk_sent.wait(30)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if [i for i in client.get_images_detailed({"name": name})
                    if i["status"] == "saving"]:
                break
            time.sleep(0.1)

        from glance.client import Client

        c = Client(server.host, server.port)

        filters = {'status': 'saving', 'size_max': (5 * 1024 * 1024 * 1024)}
        print(c.get_images_detailed(filters))

        assert name in capsys.readouterr().out
        saving = [i for i in c.get_images_detailed(filters) if i["name"] == name]
        assert len(saving) == 1, "the image being uploaded is not listed as saving"
        assert saving[0]["status"] == "saving"
        assert all(i["status"] == "saving" for i in c.get_images_detailed(filters))
        # A size_max below the declared size excludes it.
        assert name not in [i["name"] for i in c.get_images_detailed(
            {"status": "saving", "size_max": 1999})]
    finally:
        release.set()
        thread.join(60)
    assert "error" not in result, result.get("error")
    assert result["image"]["status"] == "active"
    assert result["image"]["size"] == 2000
    assert name not in [i["name"] for i in client.get_images_detailed(
        {'status': 'saving', 'size_max': (5 * 1024 * 1024 * 1024)})]


def test_guide_get_image_meta_by_uri(server, client, capsys, tmp_path, monkeypatch):
    data = payload(3000, seed=1)
    client.add_image(raw_meta({"id": "1", "name": "guide image 1"}), data)

    from glance.client import Client

    c = Client(server.host, server.port)

    print(c.get_image_meta(f"http://{server.host}:{server.port}/images/1"))

    out = capsys.readouterr().out
    assert "guide image 1" in out
    meta = c.get_image_meta(f"http://{server.host}:{server.port}/images/1")
    assert meta["id"] == "1"
    assert meta["size"] == 3000
    assert meta["checksum"] == hashlib.md5(data).hexdigest()
    assert meta["status"] == "active"
    assert meta["is_public"] is False

    # The guide's "meta, image_file = c.get_image(...)" example, writing some_local_file.
    meta, image_file = c.get_image(f"http://{server.host}:{server.port}/images/1")

    print(meta)

    monkeypatch.chdir(tmp_path)
    f = open('some_local_file', 'wb')
    for chunk in image_file:
        f.write(chunk)
    f.close()

    assert Path(tmp_path, "some_local_file").read_bytes() == data
    assert meta["size"] == 3000 and meta["name"] == "guide image 1"


def test_guide_add_image_from_a_file_opened_in_text_mode(server, tmp_path, capsys):
    data = payload(200_000, seed=2)  # not UTF-8: a text-mode read would fail or corrupt it
    path = tmp_path / "image.tar.gz"
    path.write_bytes(data)

    from glance.client import Client

    c = Client(server.host, server.port)

    meta = {'name': 'Ubuntu 10.10 5G',
            'type': 'machine',
            'is_public': True,
            'properties': {'distro': 'Ubuntu 10.10'}}

    new_meta = c.add_image(meta, open(str(path)))

    print('Stored image. Got identifier: %s' % new_meta['id'])

    assert f"Stored image. Got identifier: {new_meta['id']}" in capsys.readouterr().out
    assert new_meta["status"] == "active"
    assert new_meta["size"] == len(data)
    assert new_meta["checksum"] == hashlib.md5(data).hexdigest()
    assert new_meta["is_public"] is True
    assert new_meta["properties"]["distro"] == "Ubuntu 10.10"
    assert new_meta["properties"]["type"] == "machine"
    assert (new_meta["disk_format"], new_meta["container_format"]) == ("ami", "ami")
    _, chunks = c.get_image(new_meta["id"])
    assert b"".join(chunks) == data


# -- listing ------------------------------------------------------------------------------

def test_get_image_meta_by_uri_from_listing_and_by_id(client):
    created = client.add_image(raw_meta({"min_ram": 512, "protected": False}), b"x" * 10)
    listed = [i for i in client.get_images() if i["id"] == created["id"]]
    assert len(listed) == 1
    by_uri = client.get_image_meta(listed[0]["uri"])
    by_id = client.get_image_meta(created["id"])
    assert by_uri == by_id
    assert by_id["id"] == created["id"]
    assert by_id["size"] == 10 and by_id["min_ram"] == 512 and by_id["min_disk"] == 0
    assert by_id["is_public"] is False and by_id["protected"] is False
    assert by_id["deleted"] is False
    assert by_id["properties"] == {}
    assert "deleted_at" not in by_id  # null fields are absent, not empty strings
    # The /images/<id> form without /v1 works too.
    assert client.get_image_meta(f"http://example.invalid/images/{created['id']}")["id"] \
        == created["id"]


def test_filters(client):
    mark = tag()
    small = client.add_image(raw_meta({"properties": {"case": mark, "os": "linux"}}), b"1" * 10)
    big = client.add_image({"name": "big", "disk_format": "qcow2", "container_format": "bare",
                            "min_disk": 5, "is_public": True, "protected": True,
                            "properties": {"case": mark, "os": "bsd"}}, qcow2(1000))
    queued = client.add_image(raw_meta({"properties": {"case": mark}}))

    def ids(**filters) -> set[str]:
        found = client.get_images_detailed({"property-case": mark, **filters})
        assert ids_brief(filters) == {i["id"] for i in found}
        return {i["id"] for i in found}

    def ids_brief(filters) -> set[str]:
        return {i["id"] for i in client.get_images({"properties": {"case": mark}, **filters})}

    assert ids() == {small["id"], big["id"], queued["id"]}
    assert ids(disk_format="qcow2") == {big["id"]}
    assert ids(name="big") == {big["id"]}
    assert ids(size_min=11) == {big["id"]}
    assert ids(size_max=10) == {small["id"]}
    assert ids(size_min=10, size_max=1000) == {small["id"], big["id"]}
    assert ids(status="queued") == {queued["id"]}
    assert ids(min_disk=5) == {big["id"]}
    assert ids(is_public=True) == {big["id"]}
    assert ids(protected=True) == {big["id"]}
    assert ids(**{"property-os": "bsd"}) == {big["id"]}
    found = client.get_images_detailed({"properties": {"case": mark, "os": "linux"}})
    assert [i["id"] for i in found] == [small["id"]]
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    assert ids(**{"changes-since": later}) == set()
    earlier = datetime.now(timezone.utc) - timedelta(hours=1)
    assert ids(**{"changes-since": earlier}) == {small["id"], big["id"], queued["id"]}
    client.update_image(big["id"], {"protected": False})


def test_sorting_and_limit(client):
    mark = tag()
    made = [client.add_image(raw_meta({"name": f"{mark}-{n}", "properties": {"case": mark}}))
            for n in (3, 1, 2)]
    by_name = client.get_images({"property-case": mark}, sort_key="name", sort_dir="asc")
    assert [i["name"] for i in by_name] == [f"{mark}-1", f"{mark}-2", f"{mark}-3"]
    page = client.get_images({"property-case": mark}, sort_key="name", sort_dir="desc",
                             limit=2)
    assert [i["name"] for i in page] == [f"{mark}-3", f"{mark}-2"]
    rest = client.get_images({"property-case": mark}, sort_key="name", sort_dir="desc",
                             limit=2, marker=page[-1]["id"])
    assert [i["name"] for i in rest] == [f"{mark}-1"]
    assert len(made) == 3


def test_bad_filter_and_param_values(client):
    with pytest.raises(exception.BadRequest, match="size_min"):
        client.get_images({"size_min": -1})
    with pytest.raises(exception.BadRequest, match="sort_key"):
        client.get_images(sort_key="colour")
    with pytest.raises(TypeError, match="filters"):
        client.get_images(name="x")  # filters go in the filters dict
    with pytest.raises(exception.BadRequest, match="marker"):
        client.get_images(marker="no-such-image")


def test_paging_returns_every_image(fresh_server):
    with Client(fresh_server.url) as c:
        made = {c.add_image({"name": f"image {n}"})["id"] for n in range(30)}
        # The server's default page is smaller than the catalogue, so paging is needed.
        assert len(httpx.get(fresh_server.url + "/v1/images").json()["images"]) < 30
        listed = [i["id"] for i in c.get_images()]
        assert len(listed) == 30 and set(listed) == made
        detailed = [i["id"] for i in c.get_images_detailed()]
        assert len(detailed) == 30 and set(detailed) == made
        assert len(c.get_images(limit=5)) == 5
        assert len(c.get_images_detailed(limit=5)) == 5
        by_name = [i["name"] for i in c.get_images(sort_key="name", sort_dir="asc")]
        assert by_name == sorted(f"image {n}" for n in range(30))
        assert len({i["id"] for i in c.get_images({"status": "queued"})}) == 30


# -- add_image ----------------------------------------------------------------------------

def test_add_without_data_is_queued(client):
    image = client.add_image(raw_meta({}))
    assert image["status"] == "queued"
    assert image["size"] in (None, 0)
    assert client.get_image_meta(image["id"])["status"] == "queued"
    with pytest.raises(exception.NotFound):
        client.get_image(image["id"])


def test_duplicate_id(client):
    image_id = str(uuid.uuid4())
    client.add_image(raw_meta({"id": image_id}), b"abc")
    with pytest.raises(exception.Duplicate, match=image_id):
        client.add_image(raw_meta({"id": image_id}))
    with pytest.raises(exception.Duplicate):
        client.add_image(raw_meta({"id": image_id}), b"other data")
    _, chunks = client.get_image(image_id)
    assert b"".join(chunks) == b"abc"


def test_unknown_store_is_bad_request(client):
    name = tag()
    with pytest.raises(exception.BadRequest, match="nonexistent"):
        client.add_image(raw_meta({"name": name, "store": "nonexistent"}), b"data")
    assert [i for i in client.get_images_detailed({"name": name})
            if i["status"] == "active"] == []


@pytest.mark.parametrize("declared", [5, 20])
@pytest.mark.parametrize("kind", ["bytes", "iterator"])
def test_size_mismatch_is_bad_request_and_leaves_nothing(server, client, declared, kind):
    image_id = str(uuid.uuid4())
    data = b"0123456789"
    body = data if kind == "bytes" else iter([data[:4], data[4:]])
    with pytest.raises(exception.BadRequest, match="(?i)size"):
        client.add_image(raw_meta({"id": image_id, "size": declared}), body)
    assert client.get_image_meta(image_id)["status"] == "killed"
    assert image_id not in [i["id"] for i in client.get_images()]
    assert not [p for p in server.stored_files() if image_id in p.name]
    with pytest.raises(exception.NotFound):
        client.get_image(image_id)


def test_declared_size_that_matches_is_accepted(client, tmp_path):
    path = tmp_path / "img"
    path.write_bytes(b"z" * 1234)
    with open(path, "rb") as f:
        image = client.add_image(raw_meta({"size": 1234}), f)
    assert image["size"] == 1234 and image["status"] == "active"


@pytest.mark.parametrize("value", ["on", "1", "true", True, "True", "yes"])
def test_is_public_true_values(client, value):
    image = client.add_image(raw_meta({"is_public": value}))
    assert image["is_public"] is True
    assert client.get_image_meta(image["id"])["is_public"] is True


@pytest.mark.parametrize("value", ["off", "0", "false", False])
def test_is_public_false_values(client, value):
    image = client.add_image(raw_meta({"is_public": value}))
    assert client.get_image_meta(image["id"])["is_public"] is False


def test_is_public_nonsense_is_bad_request(client):
    with pytest.raises(exception.BadRequest, match="is_public"):
        client.add_image(raw_meta({"is_public": "maybe"}))


def test_properties_round_trip_with_non_ascii(client):
    props = {"distro": "Ubuntu 10.10", "owner_name": "Zoë Ångström", "city": "東京",
             "empty": "", "quote": 'say "hi"; x=1, y'}
    image = client.add_image(raw_meta({"name": "café ☕", "properties": props}), b"d")
    assert image["properties"] == props
    assert image["name"] == "café ☕"
    meta = client.get_image_meta(image["id"])
    assert meta["properties"] == props
    assert meta["name"] == "café ☕"
    detailed = [i for i in client.get_images_detailed({"name": "café ☕"})
                if i["id"] == image["id"]]
    assert detailed[0]["properties"] == props
    assert [i["id"] for i in client.get_images_detailed({"property-city": "東京"})] \
        == [image["id"]]


def test_many_properties_in_40_kib_of_headers(client):
    props = {f"prop_{n:03d}": f"{n:03d}-" + "v" * 80 for n in range(340)}
    header_bytes = sum(len("x-image-meta-property-") + len(k) + len(v) + 4
                       for k, v in props.items())
    assert 38 * 1024 < header_bytes < 42 * 1024
    image = client.add_image(raw_meta({"properties": props}), b"data")
    assert image["properties"] == props
    assert client.get_image_meta(image["id"])["properties"] == props


def test_headers_over_the_server_limit_are_refused_cleanly(client):
    props = {f"p{n}": "v" * 1000 for n in range(100)}  # ~100 KiB
    with pytest.raises(exception.BadRequest):  # 431 HeadersTooLarge is a BadRequest
        client.add_image(raw_meta({"properties": props}))


def test_upload_from_generator_is_streamed_chunked(client):
    chunks = [payload(MiB, seed=n) for n in range(5)] + [b"tail"]
    sent: list[int] = []

    def generate() -> Iterator[bytes]:
        for n, chunk in enumerate(chunks):
            sent.append(n)
            yield chunk

    image = client.add_image(raw_meta({}), generate())
    data = b"".join(chunks)
    assert sent == list(range(len(chunks)))
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    _, body = client.get_image(image["id"])
    assert b"".join(body) == data


def test_upload_from_a_pipe(client):
    data = payload(3 * MiB + 7, seed=9)
    read_fd, write_fd = os.pipe()

    def writer() -> None:
        with os.fdopen(write_fd, "wb") as w:
            w.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    with os.fdopen(read_fd, "rb") as r:
        image = client.add_image(raw_meta({}), r)
    thread.join(30)
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_upload_bytearray_and_memoryview(client, kind):
    data = payload(2 * MiB + 3, seed=4)
    image = client.add_image(raw_meta({}), kind(data))
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()


def test_upload_from_the_middle_of_a_file_sends_the_rest(client, tmp_path):
    path = tmp_path / "img"
    path.write_bytes(b"HEADER" + b"body" * 100)
    with open(path, "rb") as f:
        f.read(6)
        image = client.add_image(raw_meta({}), f)
    assert image["size"] == 400
    _, chunks = client.get_image(image["id"])
    assert b"".join(chunks) == b"body" * 100


def test_str_image_data_is_refused(client):
    with pytest.raises(TypeError, match="open"):
        client.add_image(raw_meta({}), "/path/to/image.tar.gz")


# -- streaming and memory -----------------------------------------------------------------

def _status_kib(field: str) -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", text, re.M).group(1))


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pytest.skip("cannot reset the peak RSS (/proc/self/clear_refs)")


def test_300_mib_upload_and_download_keep_client_memory_flat(server, tmp_path):
    size = 300 * MiB
    path = tmp_path / "big.img"
    md5 = hashlib.md5()
    with open(path, "wb") as f:
        block = os.urandom(MiB)
        for n in range(300):
            chunk = n.to_bytes(4, "big") + block[4:]
            md5.update(chunk)
            f.write(chunk)
    expected = md5.hexdigest()

    with Client(server.url, timeout=300) as c:
        c.get_images(limit=1)  # warm up imports and the connection pool
        _reset_peak_rss()
        before = _status_kib("VmRSS")
        with open(path, "rb") as f:
            image = c.add_image(raw_meta({"name": "big"}), f)
        upload_growth = (_status_kib("VmHWM") - before) * 1024
        assert image["size"] == size
        assert image["checksum"] == expected
        assert upload_growth < 100 * MiB, f"upload grew RSS by {upload_growth / MiB:.0f} MiB"

        _reset_peak_rss()
        before = _status_kib("VmRSS")
        meta, chunks = c.get_image(image["id"])
        got = hashlib.md5()
        total = 0
        for chunk in chunks:
            assert isinstance(chunk, bytes)
            got.update(chunk)
            total += len(chunk)
        download_growth = (_status_kib("VmHWM") - before) * 1024
        assert meta["size"] == size
        assert total == size and got.hexdigest() == expected
        assert download_growth < 100 * MiB, \
            f"download grew RSS by {download_growth / MiB:.0f} MiB"
    path.unlink()


def test_closing_a_download_early_releases_it(client):
    data = payload(8 * MiB, seed=5)
    image = client.add_image(raw_meta({}), data)
    _, chunks = client.get_image(image["id"])
    first = next(chunks)
    assert data.startswith(first) and 0 < len(first) < len(data)
    chunks.close()
    assert list(chunks) == []
    # The client keeps working after an abandoned download.
    for _ in range(3):
        _, again = client.get_image(image["id"])
        next(again)
        del again
    assert client.get_image_meta(image["id"])["size"] == len(data)


# -- update and delete --------------------------------------------------------------------

def test_update_image(client):
    image = client.add_image(raw_meta({"properties": {"a": "1", "b": "2"}}))
    renamed = client.update_image(image["uri"], {"name": "renamed", "min_ram": 256})
    assert renamed["name"] == "renamed" and renamed["min_ram"] == 256
    assert renamed["properties"] == {"a": "1", "b": "2"}  # a name change keeps properties
    replaced = client.update_image(image["id"], {"properties": {"c": "3"}})
    assert replaced["properties"] == {"c": "3"}  # given properties are the new set
    merged = client.update_image(image["id"], {"properties": {"d": "4"}}, purge_props=False)
    assert merged["properties"] == {"c": "3", "d": "4"}

    data = payload(100_000, seed=6)
    uploaded = client.update_image(image["id"], image_data=data)
    assert uploaded["status"] == "active"
    assert uploaded["checksum"] == hashlib.md5(data).hexdigest()
    meta = client.get_image_meta(image["id"])
    assert meta["name"] == "renamed" and meta["size"] == len(data)
    with pytest.raises(exception.Conflict):
        client.update_image(image["id"], image_data=b"more")
    with pytest.raises(exception.Forbidden):
        client.update_image(image["id"], {"status": "queued"})
    with pytest.raises(exception.NotFound):
        client.update_image(str(uuid.uuid4()), {"name": "x"})


def test_delete_image(server, client):
    image = client.add_image(raw_meta({}), b"bytes to delete")
    assert client.delete_image(image["uri"]) is True
    with pytest.raises(exception.NotFound):
        client.get_image_meta(image["id"])
    with pytest.raises(exception.NotFound):
        client.get_image(image["id"])
    with pytest.raises(exception.NotFound):
        client.delete_image(image["id"])
    assert image["id"] not in [i["id"] for i in client.get_images()]
    assert not [p for p in server.stored_files() if image["id"] in p.name]


def test_protected_image_cannot_be_deleted(client):
    image = client.add_image(raw_meta({"protected": True}))
    with pytest.raises(exception.Forbidden):
        client.delete_image(image["id"])
    client.update_image(image["id"], {"protected": False})
    assert client.delete_image(image["id"]) is True


# -- members ------------------------------------------------------------------------------

def test_members(client):
    image = client.add_image(raw_meta({}))
    other = client.add_image(raw_meta({}))
    tenant_a, tenant_b, tenant_c = tag(), tag(), tag()

    assert client.get_image_members(image["id"]) == []
    assert client.add_member(image["id"], tenant_a) is True
    assert client.add_member(image["uri"], tenant_b, can_share=True) is True
    assert client.add_member(other["id"], tenant_a) is True
    members = {m["member_id"]: m["can_share"] for m in client.get_image_members(image["id"])}
    assert members == {tenant_a: False, tenant_b: True}
    shared = {m["image_id"]: m["can_share"] for m in client.get_member_images(tenant_a)}
    assert shared == {image["id"]: False, other["id"]: False}

    assert client.add_member(image["id"], tenant_a, can_share=True) is True
    members = {m["member_id"]: m["can_share"] for m in client.get_image_members(image["id"])}
    assert members[tenant_a] is True

    assert client.replace_members(image["id"], {"member_id": tenant_c, "can_share": True},
                                  {"member_id": tenant_a}) is True
    members = {m["member_id"]: m["can_share"] for m in client.get_image_members(image["id"])}
    assert set(members) == {tenant_a, tenant_c}
    assert members[tenant_c] is True
    assert client.get_member_images(tenant_b) == []

    assert client.replace_members(image["id"], [{"member_id": tenant_b}]) is True
    assert [m["member_id"] for m in client.get_image_members(image["id"])] == [tenant_b]

    assert client.delete_member(image["id"], tenant_b) is True
    assert client.get_image_members(image["id"]) == []
    with pytest.raises(exception.NotFound):
        client.get_image_members(str(uuid.uuid4()))
    # deleting a membership that is gone is idempotent (v1.md: 204), as Diablo's was
    assert client.delete_member(image["id"], tenant_b) is True
    assert client.get_image_members(image["id"]) == []


# -- connection, errors and options --------------------------------------------------------

def test_errors_carry_the_server_message(client):
    missing = str(uuid.uuid4())
    with pytest.raises(exception.NotFound) as info:
        client.get_image(missing)
    assert missing in info.value.message  # the server's message, not the JSON envelope
    assert "{" not in info.value.message
    with pytest.raises(exception.BadRequest, match="(?i)bad header"):
        client.add_image({"nmae": "typo"})


def test_connection_refused_is_client_connection_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        with Client("127.0.0.1", port, timeout=5) as c:
            with pytest.raises(exception.ClientConnectionError):
                c.get_images()


def test_host_and_port_or_base_url(server):
    image_id = Client(server.url).add_image(raw_meta({}))["id"]
    for c in (Client(server.host, server.port), Client(server.url + "/"),
              Client(server.url + "/v1"), Client(server.url, doc_root=None),
              Client(server.host, server.port, doc_root="/v1.1")):
        with c:
            assert c.get_image_meta(image_id)["id"] == image_id


class _Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def do_GET(self) -> None:  # noqa: N802
        _Recorder.seen.append((self.path, dict(self.headers)))
        body = json.dumps({"images": []}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_auth_token_and_query_are_sent():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        _Recorder.seen.clear()
        with Client("127.0.0.1", httpd.server_address[1], auth_tok="secret-token") as c:
            assert c.get_images({"name": "a b", "size_max": 5, "is_public": None},
                                limit=3) == []
        with Client("127.0.0.1", httpd.server_address[1]) as c:
            c.get_images()
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)
    (path, headers), (path2, headers2) = _Recorder.seen
    assert path == "/v1/images?name=a+b&size_max=5&limit=3"
    assert {k.lower(): v for k, v in headers.items()}["x-auth-token"] == "secret-token"
    assert path2 == "/v1/images"
    assert "x-auth-token" not in {k.lower() for k in headers2}
