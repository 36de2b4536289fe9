"""Several copies of one image: copy-image imports, DELETE /v2/stores/{store}/{id}, download
fallback, delete of every copy, crash reconcile — against glance-api with three file stores
(fast: the default, slow, spare), by raw HTTP and by python-glanceclient and openstacksdk."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import (active, as_project, assert_error, create, new_project, show,
                                  unique)
from tests.functional.test_v2_clients import GLANCE, table

STORES = ("fast", "slow", "spare")


class Site:
    """A running server and the directory of each of its stores."""

    def __init__(self, server: RunningServer, dirs: dict[str, Path]) -> None:
        self.server, self.dirs = server, dirs

    def files(self, store: str) -> list[str]:
        """Every file in ``store``'s directory (temporary parts included)."""
        d = self.dirs[store]
        return sorted(p.name for p in d.iterdir()) if d.is_dir() else []

    def holding(self, image_id: str) -> set[str]:
        return {s for s in STORES if any(image_id in name for name in self.files(s))}

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.server.data_dir / "glance.sqlite")


def start_site(base: Path) -> Site:
    dirs = {name: base / f"store-{name}" for name in STORES}
    config = base / "glance.toml"
    text = '[glance]\ndefault_store = "fast"\n\n'
    for name, d in dirs.items():
        text += (f'[stores.{name}]\ndriver = "file"\ndirectory = {json.dumps(str(d))}\n'
                 f'fsync = false\n\n')
    config.write_text(text)
    return Site(start_server(base / "data", ["--config", str(config)]), dirs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    s = start_site(tmp_path_factory.mktemp("copies"))
    yield s
    s.server.stop()


@pytest.fixture
def http(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.server.url, timeout=60) as client:
        yield client


def copy(http: httpx.Client, image_id: str, headers: dict[str, str] | None = None,
         **body: Any) -> httpx.Response:
    return http.post(f"/v2/images/{image_id}/import", headers=headers,
                     json={"method": {"name": "copy-image"}, **body})


def settled(http: httpx.Client, image_id: str, headers: dict[str, str] | None = None,
            timeout: float = 30) -> dict[str, Any]:
    """The image once no copy is in progress and its newest task has finished."""
    deadline = time.monotonic() + timeout
    while True:
        image = show(http, image_id, headers)
        tasks = http.get(f"/v2/images/{image_id}/tasks", headers=headers).json()["tasks"]
        if not image.get("os_glance_importing_to_stores") and (
                not tasks or tasks[0]["status"] in ("success", "failure")):
            return image
        assert time.monotonic() < deadline, (image, tasks)
        time.sleep(0.05)


def newest_task(http: httpx.Client, image_id: str) -> dict[str, Any]:
    return http.get(f"/v2/images/{image_id}/tasks").json()["tasks"][0]


def download(http: httpx.Client, image_id: str) -> bytes:
    resp = http.get(f"/v2/images/{image_id}/file")
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-MD5"] == hashlib.md5(resp.content).hexdigest()
    return resp.content


# ----------------------------------------------------------------------------- raw HTTP


def test_copy_image_into_two_stores(site: Site, http: httpx.Client) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    image = active(http, data)
    assert image["stores"] == "fast" and site.holding(image["id"]) == {"fast"}
    assert copy(http, image["id"], stores=["slow", "spare"]).status_code == 202
    image = settled(http, image["id"])
    assert image["status"] == "active"
    assert image["stores"] == "fast,slow,spare"
    assert image["os_glance_failed_import"] == ""
    assert site.holding(image["id"]) == set(STORES)
    for store in STORES:  # each copy is whole and identical, no temporary part left
        assert site.files(store).count(image["id"]) == 1
        assert (site.dirs[store] / image["id"]).read_bytes() == data
    task = newest_task(http, image["id"])
    assert task["status"] == "success" and task["type"] == "api_image_import"
    assert task["input"]["import_req"]["method"]["name"] == "copy-image"
    assert task["input"]["backend"] == ["slow", "spare"]
    assert download(http, image["id"]) == data
    # v1 still sees one image with its data
    v1 = http.get(f"/v1/images/{image['id']}")
    assert v1.status_code == 200 and v1.content == data


def test_copy_image_is_advertised(http: httpx.Client) -> None:
    resp = http.post("/v2/images", json={"name": unique("adv")})
    assert "copy-image" in resp.headers["OpenStack-image-import-methods"].split(",")
    info = http.get("/v2/info/import").json()["import-methods"]["value"]
    assert info == ["glance-direct", "web-download", "copy-image", "glance-download"]


def test_info_stores_lists_each_store_once_under_its_own_name(http: httpx.Client) -> None:
    stores = http.get("/v2/info/stores").json()["stores"]
    ids = [s["id"] for s in stores]
    # "file" names the first file store (fast) for the seed's store key; it is not a store
    assert sorted(ids) == ["fast", "http", "slow", "spare"]
    assert [s["id"] for s in stores if s.get("default") == "true"] == ["fast"]
    image = active(http, b"by alias", headers={"X-Image-Meta-Store": "file"})
    assert show(http, image["id"])["stores"] == "fast"


def test_all_stores_copies_where_missing(site: Site, http: httpx.Client) -> None:
    image = active(http, b"everywhere" * 1000)
    assert copy(http, image["id"], stores=["spare"]).status_code == 202
    settled(http, image["id"])
    assert copy(http, image["id"], all_stores=True).status_code == 202
    image = settled(http, image["id"])
    assert image["stores"] == "fast,spare,slow"
    assert newest_task(http, image["id"])["input"]["backend"] == ["slow"]
    tasks_before = len(http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"])
    # every store has it: nothing to do, no new task
    assert copy(http, image["id"], all_stores=True).status_code == 202
    assert len(http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]) == tasks_before


def test_copy_request_errors(site: Site, http: httpx.Client) -> None:
    image = active(http, b"errors")
    assert_error(copy(http, image["id"], stores=["nope"]), 400, "nope")
    assert_error(copy(http, image["id"], stores=["fast"]), 400, "already present")
    assert_error(copy(http, image["id"], stores=["file"]), 400, "already present")  # alias
    assert_error(copy(http, image["id"], stores=["http"]), 400, "read-only")
    assert_error(copy(http, image["id"]), 400, "stores")
    assert_error(copy(http, image["id"], stores="slow"), 400, "list")
    assert_error(copy(http, image["id"], stores=["slow"], all_stores_must_succeed="no"), 400)
    assert_error(copy(http, image["id"], stores=["slow"],
                      headers={"X-Image-Meta-Store": "spare"}), 400, "not both")
    queued = create(http)
    assert_error(copy(http, queued["id"], stores=["slow"]), 409, "active")
    assert_error(copy(http, "00000000-0000-0000-0000-000000000000", stores=["slow"]), 404)
    # someone else's public image: visible, but not theirs to copy
    public = active(http, b"pub", visibility="public")
    other = as_project(new_project())
    assert_error(copy(http, public["id"], other, stores=["slow"]), 403)
    assert site.holding(image["id"]) == {"fast"} and site.holding(public["id"]) == {"fast"}
    assert show(http, image["id"]).get("os_glance_importing_to_stores") is None


def test_simultaneous_copy_requests_start_one_copy(site: Site, http: httpx.Client) -> None:
    from concurrent.futures import ThreadPoolExecutor

    data = os.urandom(256 * 1024)
    image = active(http, data)
    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(
            lambda _: copy(http, image["id"], stores=["spare"]).status_code, range(6)))
    # the losers see the copy running (409) or, if they come late, already done (400)
    assert statuses[0] == 202 and set(statuses[1:]) <= {400, 409}, statuses
    image = settled(http, image["id"])
    assert image.get("os_glance_failed_import", "") == ""
    assert sorted(image["stores"].split(",")) == ["fast", "spare"]
    assert len(http.get(f"/v2/images/{image['id']}/tasks").json()["tasks"]) == 1
    assert site.holding(image["id"]) == {"fast", "spare"}


def test_copy_with_the_store_header(site: Site, http: httpx.Client) -> None:
    image = active(http, b"header")
    resp = copy(http, image["id"], headers={"X-Image-Meta-Store": "slow"})
    assert resp.status_code == 202
    assert settled(http, image["id"])["stores"] == "fast,slow"


def test_delete_from_store(site: Site, http: httpx.Client) -> None:
    data = os.urandom(100_000)
    image = active(http, data)
    iid = image["id"]
    assert copy(http, iid, stores=["slow", "spare"]).status_code == 202
    settled(http, iid)
    assert http.delete(f"/v2/stores/slow/{iid}").status_code == 204
    assert show(http, iid)["stores"] == "fast,spare"
    assert site.holding(iid) == {"fast", "spare"}
    assert_error(http.delete(f"/v2/stores/slow/{iid}"), 404, "slow")
    assert_error(http.delete(f"/v2/stores/nope/{iid}"), 400, "nope")
    assert_error(http.delete("/v2/stores/slow/00000000-0000-0000-0000-000000000000"), 404)
    other = as_project(new_project())
    assert_error(http.delete(f"/v2/stores/spare/{iid}", headers=other), 404)
    # the first copy can go too; the download then comes from the remaining one
    assert http.delete(f"/v2/stores/fast/{iid}").status_code == 204
    assert show(http, iid)["stores"] == "spare" and site.holding(iid) == {"spare"}
    assert download(http, iid) == data
    # never the last copy
    assert_error(http.delete(f"/v2/stores/spare/{iid}"), 403, "only store")
    assert site.holding(iid) == {"spare"}
    # only an active image
    assert http.post(f"/v2/images/{iid}/actions/deactivate").status_code == 204
    assert_error(http.delete(f"/v2/stores/spare/{iid}"), 409, "active")
    assert http.post(f"/v2/images/{iid}/actions/reactivate").status_code == 204
    # a copy back into the store it left works again
    assert copy(http, iid, stores=["fast"]).status_code == 202
    assert settled(http, iid)["stores"] == "spare,fast"


def test_owner_may_copy_and_delete_from_store(site: Site, http: httpx.Client) -> None:
    owner = as_project(new_project())
    image = active(http, b"mine", headers=owner)
    assert copy(http, image["id"], owner, stores=["slow"]).status_code == 202
    assert settled(http, image["id"], owner)["stores"] == "fast,slow"
    assert http.delete(f"/v2/stores/fast/{image['id']}", headers=owner).status_code == 204
    assert show(http, image["id"], owner)["stores"] == "slow"


def test_deleting_an_image_deletes_every_copy(site: Site, http: httpx.Client) -> None:
    image = active(http, os.urandom(5000))
    assert copy(http, image["id"], all_stores=True).status_code == 202
    settled(http, image["id"])
    assert site.holding(image["id"]) == set(STORES)
    assert http.delete(f"/v2/images/{image['id']}").status_code == 204
    assert site.holding(image["id"]) == set()
    with site.db() as con:
        assert con.execute("select count(*) from image_locations where image_id = ?",
                           (image["id"],)).fetchone() == (0,)


def test_deleting_an_image_while_it_is_copied_leaves_nothing(site: Site,
                                                            http: httpx.Client) -> None:
    """Whether the delete lands before, during or after the copy, no bytes and no location
    of the image remain once the copy task has ended."""
    image = active(http, os.urandom(48 * 1024 * 1024))
    iid = image["id"]
    assert copy(http, iid, stores=["slow", "spare"]).status_code == 202
    assert http.delete(f"/v2/images/{iid}").status_code == 204
    deadline = time.monotonic() + 60
    while True:  # the image is gone from the API; its task is still in the registry
        with site.db() as con:
            (status,) = con.execute("select status from tasks where image_id = ?",
                                    (iid,)).fetchone()
        if status in ("success", "failure"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert site.holding(iid) == set()
    assert all(not n.endswith(".part") for store in STORES for n in site.files(store))
    with site.db() as con:
        assert con.execute("select count(*) from image_locations where image_id = ?",
                           (iid,)).fetchone() == (0,)


def test_download_falls_back_to_the_next_copy(site: Site, http: httpx.Client) -> None:
    data = os.urandom(200_000)
    image = active(http, data)
    assert copy(http, image["id"], stores=["slow"]).status_code == 202
    settled(http, image["id"])
    (site.dirs["fast"] / image["id"]).unlink()  # the first copy is lost
    assert download(http, image["id"]) == data
    ranged = http.get(f"/v2/images/{image['id']}/file", headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert http.get(f"/v1/images/{image['id']}").content == data


def test_download_prefers_the_stores_asked_for(site: Site, http: httpx.Client) -> None:
    data = os.urandom(100_000)
    image = active(http, data)
    assert copy(http, image["id"], stores=["slow", "spare"]).status_code == 202
    settled(http, image["id"])
    # mark each copy so the bytes tell which store answered
    for store in ("slow", "spare"):
        (site.dirs[store] / image["id"]).write_bytes(store.encode().ljust(len(data), b"."))
    url = f"/v2/images/{image['id']}/file"
    assert http.get(url).content == data  # the first copy (fast) by default
    assert http.get(url, params={"prefer": "spare"}).content.startswith(b"spare.")
    assert http.get(url, params={"prefer": "slow,spare"}).content.startswith(b"slow.")
    assert http.get(url, params={"prefer": "spare,fast"}).content.startswith(b"spare.")
    assert http.get(url, params={"prefer": "file"}).content == data  # an alias of fast
    assert_error(http.get(url, params={"prefer": "nowhere"}), 400)


def test_copy_that_fails_verification_leaves_nothing(site: Site, http: httpx.Client) -> None:
    """The source copy is corrupt (same size, other bytes): the checksum check fails at the
    end of the stream, after the target wrote everything; the target keeps nothing."""
    data = os.urandom(1024 * 1024)
    image = active(http, data)
    (site.dirs["fast"] / image["id"]).write_bytes(os.urandom(len(data)))
    assert copy(http, image["id"], stores=["slow", "spare"]).status_code == 202
    image = settled(http, image["id"])
    assert image["status"] == "active" and image["stores"] == "fast"
    # all_stores_must_succeed (the default): the first failure stops the copy
    assert image["os_glance_failed_import"] == "slow"
    task = newest_task(http, image["id"])
    assert task["status"] == "failure" and "slow" in task["message"]
    assert site.holding(image["id"]) == {"fast"}
    assert site.files("slow") == sorted(n for n in site.files("slow") if image["id"] not in n)


def test_copy_into_a_broken_store_leaves_the_image_usable(tmp_path: Path) -> None:
    """A store that cannot write (its directory is gone, a file in its place): the image
    stays active and downloadable from its other copy; the good store still gets a copy when
    all_stores_must_succeed is false."""
    s = start_site(tmp_path)
    try:
        with httpx.Client(base_url=s.server.url, timeout=60) as http:
            data = os.urandom(300_000)
            image = active(http, data)
            broken = s.dirs["slow"]
            for leftover in broken.iterdir():
                leftover.unlink()
            broken.rmdir()
            broken.write_bytes(b"not a directory")
            resp = copy(http, image["id"], stores=["slow", "spare"],
                        all_stores_must_succeed=False)
            assert resp.status_code == 202
            image = settled(http, image["id"])
            assert image["status"] == "active" and image["stores"] == "fast,spare"
            assert image["os_glance_failed_import"] == "slow"
            task = newest_task(http, image["id"])
            assert task["status"] == "success" and "slow" in task["message"]
            assert broken.read_bytes() == b"not a directory"
            assert s.holding(image["id"]) == {"fast", "spare"}
            assert download(http, image["id"]) == data
    finally:
        s.server.stop()


def test_restart_cleans_copies_a_crash_interrupted(tmp_path: Path) -> None:
    """A crash during a copy leaves a ``saving`` location and bytes in the target; one during
    a delete-from-store leaves a ``deleting`` location. At start both are cleaned: the image
    stays active with its good copy and no orphan bytes remain."""
    s = start_site(tmp_path)
    try:
        with httpx.Client(base_url=s.server.url, timeout=60) as http:
            data = os.urandom(70_000)
            image = active(http, data)
            assert copy(http, image["id"], stores=["spare"]).status_code == 202
            settled(http, image["id"])
        s.server.stop()
        iid = image["id"]
        (s.dirs["slow"] / iid).write_bytes(data[:1000])  # half-written copy
        with s.db() as con:
            con.execute("insert into image_locations (image_id, store, key, status, "
                        "created_at, updated_at) values (?, 'slow', ?, 'saving', "
                        "'2026-01-01', '2026-01-01')", (iid, iid))
            con.execute("update image_locations set status = 'deleting' "
                        "where image_id = ? and store = 'spare'", (iid,))
            con.execute("update image_properties set value = 'slow' where image_id = ? and "
                        "name = 'os_glance_importing_to_stores'", (iid,))
            con.execute("insert into tasks (id, image_id, type, status, owner, input, message, "
                        "created_at, updated_at) values ('crashed-task', ?, 'api_image_import', "
                        "'processing', null, '{\"backend\": [\"slow\"]}', '', "
                        "'2027-01-01', '2027-01-01')", (iid,))
        s.server = start_server(s.server.data_dir, ["--config", str(tmp_path / "glance.toml")])
        with httpx.Client(base_url=s.server.url, timeout=60) as http:
            image = show(http, iid)
            assert image["status"] == "active" and image["stores"] == "fast"
            assert image["os_glance_importing_to_stores"] == ""
            assert image["os_glance_failed_import"] == "slow"
            assert s.holding(iid) == {"fast"}
            assert download(http, iid) == data
            task = newest_task(http, iid)
            assert task["id"] == "crashed-task" and task["status"] == "failure"
        with s.db() as con:
            assert con.execute("select store, status from image_locations where image_id = ?",
                               (iid,)).fetchall() == [("fast", "active")]
    finally:
        s.server.stop()


# ----------------------------------------------------------------------------- real clients


@pytest.fixture(scope="module")
def cli(site: Site, tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("home")

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [*GLANCE, "--os-image-url", site.server.url, "--os-auth-token", "x",
               "--os-image-api-version", "2", *args]
        env = {k: v for k, v in {**os.environ, "HOME": str(home)}.items()
               if not k.startswith("OS_")}
        result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *cmd], env=env,
                                capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    return run


def test_glanceclient_copy_image_and_stores_delete(site: Site, http: httpx.Client,
                                                   cli) -> None:
    data = os.urandom(400_000)
    image = active(http, data)
    out = cli("image-import", image["id"], "--import-method", "copy-image",
              "--stores", "slow,spare")
    assert table(out.stdout)["id"] == image["id"]
    image = settled(http, image["id"])
    assert image["stores"] == "fast,slow,spare"
    assert site.holding(image["id"]) == set(STORES)
    cli("stores-delete", image["id"], "--store", "slow")
    assert show(http, image["id"])["stores"] == "fast,spare"
    assert site.holding(image["id"]) == {"fast", "spare"}
    shown = table(cli("image-show", image["id"]).stdout)
    assert shown["stores"] == "fast,spare"
    failed = cli("stores-delete", image["id"], "--store", "slow", check=False)  # 404
    assert failed.returncode != 0 and "not found" in failed.stderr
    failed = cli("image-import", image["id"], "--import-method", "copy-image", "--stores",
                 "nope", check=False)
    assert failed.returncode != 0 and "nope" in failed.stdout + failed.stderr
    assert show(http, image["id"])["stores"] == "fast,spare"


@pytest.fixture
def sdk(site: Site):
    import openstack
    conn = openstack.connection.Connection(auth_type="none",
                                           image_endpoint_override=site.server.url + "/v2")
    yield conn
    conn.close()


def test_sdk_copy_and_delete_image_from_store(site: Site, http: httpx.Client, sdk) -> None:
    data = os.urandom(250_000)
    image = active(http, data)
    sdk.image.import_image(sdk.image.get_image(image["id"]), method="copy-image",
                           stores=["slow", "spare"])
    settled(http, image["id"])
    got = sdk.image.get_image(image["id"])
    assert got.properties["stores"] == "fast,slow,spare"
    sdk.image.delete_image(image["id"], store="spare")
    assert show(http, image["id"])["stores"] == "fast,slow"
    assert site.holding(image["id"]) == {"fast", "slow"}
    assert sdk.image.download_image(image["id"]).content == data
    sdk.image.delete_image(image["id"])
    assert site.holding(image["id"]) == set()


def test_old_database_upgrades_with_images_still_downloadable(tmp_path: Path) -> None:
    """A registry at revision 0003 (one store/location column pair per image, here recorded
    under the alias ``file``) is migrated at start: the image keeps its data, now recorded
    under the store instance's real name, and can be copied like any other."""
    from sqlalchemy import text

    from glance.registry.engine import create_registry_engine
    from glance.registry.migrate import upgrade

    data = os.urandom(123_456)
    url = f"sqlite:///{tmp_path / 'data' / 'glance.sqlite'}"
    upgrade(url, "0003")
    engine = create_registry_engine(url)
    with engine.begin() as con:
        con.execute(text(
            "insert into images (id, name, disk_format, container_format, size, checksum, "
            "status, visibility, protected, os_hidden, min_ram, min_disk, store, location, "
            "created_at, updated_at, deleted) values ('old-image', 'old', 'raw', 'bare', "
            ":size, :md5, 'active', 'public', false, false, 0, 0, 'file', 'old-image', "
            "'2025-01-01', '2025-01-01', false)"),
            {"size": len(data), "md5": hashlib.md5(data).hexdigest()})
    engine.dispose()
    (tmp_path / "store-fast").mkdir()
    (tmp_path / "store-fast" / "old-image").write_bytes(data)
    s = start_site(tmp_path)
    try:
        with httpx.Client(base_url=s.server.url, timeout=60) as http:
            assert show(http, "old-image")["stores"] == "fast"
            assert download(http, "old-image") == data
            assert http.get("/v1/images/old-image").content == data
            assert copy(http, "old-image", stores=["slow"]).status_code == 202
            assert settled(http, "old-image")["stores"] == "fast,slow"
            assert (s.dirs["slow"] / "old-image").read_bytes() == data
        with s.db() as con:
            assert con.execute("select store, key, status from image_locations").fetchall() \
                == [("fast", "old-image", "active"), ("slow", "old-image", "active")]
    finally:
        s.server.stop()
