"""Our ``glance`` command's python-glanceclient commands (image-*, member-*, stores-info),
run as processes against a real glance-api with two file stores: what the user sees (the
tables, byte for byte beside python-glanceclient's own on the same server), the bytes that
come back, and the images' state through the API afterwards."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest

from tests.conftest import RunningServer, free_port, start_server
from tests.functional._cli import (GLANCECLIENT, OURS, clean_env, failed, ok, record, rows,
                                   run, run_on_pty, wait_for)

MiB = 1024 * 1024


class Site:
    """A glance-api with stores ``fast`` (default) and ``slow``, and ways to call it."""

    def __init__(self, server: RunningServer, home: Path, dirs: dict[str, Path]) -> None:
        self.server = server
        self.home = home
        self.dirs = dirs
        self.http = httpx.Client(base_url=server.url, timeout=60)

    def ours(self, *args: str, stdin: bytes | None = None,
             **env: str) -> subprocess.CompletedProcess[bytes]:
        """``glance --os-image-url URL ARGS`` (ours), stdin /dev/null unless fed."""
        return run(OURS, "--os-image-url", self.server.url, *args, stdin=stdin,
                   env=clean_env(self.home, **env))

    def theirs(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        """python-glanceclient's ``glance`` on the same server (stdin closed)."""
        return run(GLANCECLIENT, "--os-image-url", self.server.url, "--os-auth-token", "x",
                   *args, env=clean_env(self.home), close_stdin=True)

    def image(self, image_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/v2/images/{image_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def status_code(self, image_id: str) -> int:
        return self.http.get(f"/v2/images/{image_id}").status_code

    def create(self, data: bytes | None = None, **fields: Any) -> dict[str, Any]:
        """An image made through the API (raw/bare, unique name), with ``data`` if given."""
        body = {"name": unique(), "disk_format": "raw", "container_format": "bare", **fields}
        resp = self.http.post("/v2/images", json=body)
        assert resp.status_code == 201, resp.text
        image = resp.json()
        if data is not None:
            resp = self.http.put(f"/v2/images/{image['id']}/file", content=data,
                                 headers={"Content-Type": "application/octet-stream"})
            assert resp.status_code == 204, resp.text
            image = self.image(image["id"])
        return image


def unique(prefix: str = "cli2") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    base = tmp_path_factory.mktemp("cli-v2")
    dirs = {name: base / f"store-{name}" for name in ("fast", "slow")}
    config = base / "glance.toml"
    text = '[glance]\ndefault_store = "fast"\nweb_download_allow_private = true\n\n'
    for name, directory in dirs.items():
        text += (f'[stores.{name}]\ndriver = "file"\ndirectory = {json.dumps(str(directory))}'
                 f'\nfsync = false\n\n')
    config.write_text(text)
    home = base / "home"
    home.mkdir()
    server = start_server(base / "data", ["--config", str(config)])
    s = Site(server, home, dirs)
    yield s
    s.http.close()
    server.stop()


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "image.raw"
    path.write_bytes(os.urandom(3 * MiB + 17))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- create, show, list, download -----------------------------------------------------------

def test_image_create_with_file_and_every_field(site: Site, data_file: Path) -> None:
    name = unique()
    proc = site.ours("image-create", "--name", name, "--disk-format", "raw",
                     "--container-format", "bare", "--visibility", "public",
                     "--protected", "False", "--min-ram", "512", "--min-disk", "2",
                     "--tags", "alpha", "beta", "--property", "distro=ubuntu",
                     "--property", "os_version=24.04", "--os-distro", "ubuntu",
                     "--file", str(data_file))
    shown = record(ok(proc))
    assert proc.stderr == b""  # no bar without --progress
    data = data_file.read_bytes()
    image = site.image(shown["id"])
    assert image["status"] == "active" and image["size"] == len(data)
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    assert (image["visibility"], image["protected"], image["min_ram"], image["min_disk"]) == \
        ("public", False, 512, 2)
    assert sorted(image["tags"]) == ["alpha", "beta"]
    assert (image["distro"], image["os_version"], image["os_distro"]) == \
        ("ubuntu", "24.04", "ubuntu")
    assert image["stores"] == "fast"
    # What the user reads: the record after the upload, as glanceclient prints it.
    assert shown["status"] == "active" and shown["size"] == str(len(data))
    assert shown["os_hash_value"] == image["os_hash_value"]  # wrapped over two lines
    assert shown["tags"] == json.dumps(image["tags"])
    assert "self" not in shown and "file" not in shown and "schema" not in shown


def test_show_and_list_print_what_glanceclient_prints(site: Site, data_file: Path) -> None:
    image = site.create(data_file.read_bytes(), name="héllo " + unique(), tags=["x"],
                        description="a long description " * 8)
    for args in (["image-show", image["id"]],
                 ["image-show", "--human-readable", "--max-column-width", "30", image["id"]],
                 ["image-list"],
                 ["--verbose", "image-list"],
                 ["image-list", "--include-stores"],
                 ["image-list", "--sort", "size:desc,name", "--page-size", "1"],
                 ["stores-info"],
                 ["import-info"]):
        ours, theirs = site.ours(*args), site.theirs(*args)
        assert ok(ours) == ok(theirs), args

    listed = rows(ok(site.ours("image-list")))
    assert {"ID": image["id"], "Name": image["name"]} in listed
    assert list(listed[0]) == ["ID", "Name"]
    shown = record(ok(site.ours("image-show", "--human-readable", image["id"])))
    assert shown["size"] == "3MB"
    assert shown["description"].split() == image["description"].replace(" ", "").split() or \
        shown["description"].replace(" ", "") == image["description"].replace(" ", "")


def test_image_create_from_stdin_and_without_data(site: Site) -> None:
    data = os.urandom(MiB + 5)
    shown = record(ok(site.ours("image-create", "--name", unique(), "--disk-format", "raw",
                                "--container-format", "bare", stdin=data)))
    image = site.image(shown["id"])
    assert (image["status"], image["size"]) == ("active", len(data))
    assert image["checksum"] == hashlib.md5(data).hexdigest()

    queued = record(ok(site.ours("image-create", "--name", unique())))  # stdin: /dev/null
    assert queued["status"] == "queued" and site.image(queued["id"])["size"] is None

    err = failed(site.ours("image-create", "--name", unique(), stdin=b"data"), 2)
    assert "Must provide --disk-format, --container-format when using stdin." in err
    err = failed(site.ours("image-create", "--name", unique(), "--store", "slow"), 2)
    assert "--store option should only be provided with --file option or stdin." in err


def test_image_create_whose_upload_is_refused_still_shows_the_image(site: Site,
                                                                     data_file: Path) -> None:
    """As python-glanceclient: the record is printed (the user learns the id), then the
    server's refusal; the image stays queued, without data."""
    proc = site.ours("image-create", "--name", unique(), "--disk-format", "qcow2",
                     "--container-format", "bare", "--file", str(data_file))
    err = failed(proc)
    assert "415" in err and err.count("\n") == 1
    shown = record(proc.stdout.decode())
    assert shown["status"] == "queued"
    image = site.image(shown["id"])
    assert (image["status"], image["size"]) == ("queued", None)


def test_image_create_into_a_named_store_and_upload(site: Site, data_file: Path) -> None:
    shown = record(ok(site.ours("image-create", "--name", unique(), "--disk-format", "raw",
                                "--container-format", "bare", "--store", "slow",
                                "--file", str(data_file))))
    assert site.image(shown["id"])["stores"] == "slow"
    assert any(shown["id"] in p.name for p in site.dirs["slow"].iterdir())

    err = failed(site.ours("image-create", "--name", unique(), "--disk-format", "raw",
                           "--container-format", "bare", "--store", "nowhere",
                           "--file", str(data_file)), 2)
    assert "Store 'nowhere' is not valid for this cloud." in err

    queued = site.create()
    assert ok(site.ours("image-upload", "--file", str(data_file), "--store", "slow",
                        queued["id"])) == ""
    image = site.image(queued["id"])
    assert (image["status"], image["stores"]) == ("active", "slow")
    assert image["checksum"] == hashlib.md5(data_file.read_bytes()).hexdigest()

    again = failed(site.ours("image-upload", "--file", str(data_file), queued["id"]))
    assert again.startswith("glance: error: ") and "409" in again and again.count("\n") == 1

    piped = site.create()
    data = os.urandom(200_000)
    ok(site.ours("image-upload", "--size", str(len(data)), piped["id"], stdin=data))
    assert site.image(piped["id"])["size"] == len(data)
    mismatch = site.create()
    err = failed(site.ours("image-upload", "--file", str(data_file), "--size", "5",
                           mismatch["id"]), 2)
    assert "Size mismatch: provided size 5 does not match the size of the image" in err
    assert site.image(mismatch["id"])["status"] == "queued"
    err = failed(site.ours("image-upload", mismatch["id"]), 2)
    assert "--file" in err


def test_image_download_to_file_and_stdout(site: Site, data_file: Path,
                                           tmp_path: Path) -> None:
    data = data_file.read_bytes()
    image = site.create(data)
    target = tmp_path / "copy.raw"
    assert ok(site.ours("image-download", "--file", str(target), image["id"])) == ""
    assert sha256(target.read_bytes()) == sha256(data)

    piped = site.ours("image-download", image["id"])  # stdout is a pipe: the bytes go there
    assert piped.returncode == 0, piped.stderr
    assert sha256(piped.stdout) == sha256(data)

    preferred = site.ours("image-download", "--prefer", "slow,fast", image["id"])
    assert sha256(preferred.stdout) == sha256(data)

    err = failed(site.ours("image-download", "--file", str(tmp_path / "none"),
                           site.create()["id"]))
    assert "has no data" in err and not (tmp_path / "none").exists()
    err = failed(site.ours("image-download", "--file", str(tmp_path / "x"),
                           str(uuid.uuid4())))
    assert "404" in err and not (tmp_path / "x").exists()


def test_a_corrupt_copy_is_refused_and_leaves_no_file(site: Site, tmp_path: Path) -> None:
    data = os.urandom(MiB)
    image = site.create(data)
    stored = [p for p in site.dirs["fast"].iterdir() if image["id"] in p.name]
    assert len(stored) == 1
    stored[0].write_bytes(os.urandom(len(data)))  # same size, other bytes
    target = tmp_path / "corrupt.raw"
    err = failed(site.ours("image-download", "--file", str(target), image["id"]))
    assert "Corrupt image download" in err and image["os_hash_value"] in err
    assert not target.exists()


def test_transfers_stream_and_never_hold_the_image(site: Site, tmp_path: Path) -> None:
    """A 256 MiB upload and download through the CLI: its peak RSS stays far below the
    image's size (the bytes stream in 1 MiB chunks)."""
    big = tmp_path / "big.raw"
    with open(big, "wb") as f:
        block = os.urandom(MiB)
        for _ in range(256):
            f.write(block)

    def peak_rss_mib(*args: str) -> float:
        """Run ours to the end; its peak resident set size in MiB (VmHWM, the high-water
        mark of its own memory, read until it exits: getrusage's maxrss would count
        pytest's memory, which a vforked child starts out with)."""
        proc = subprocess.Popen([*OURS, "--os-image-url", site.server.url, *args],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, env=clean_env(site.home))
        peak_kib = 0
        status = Path(f"/proc/{proc.pid}/status")
        while proc.poll() is None:
            try:
                for line in status.read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        peak_kib = max(peak_kib, int(line.split()[1]))
            except (OSError, ValueError):
                pass  # exiting
            time.sleep(0.02)
        assert proc.stderr is not None
        assert proc.returncode == 0, proc.stderr.read()
        proc.stderr.close()
        assert peak_kib > 0
        return peak_kib / 1024

    image = site.create()
    up = peak_rss_mib("image-upload", "--file", str(big), image["id"])
    assert site.image(image["id"])["size"] == 256 * MiB
    back = tmp_path / "back.raw"
    down = peak_rss_mib("image-download", "--file", str(back), image["id"])
    assert back.stat().st_size == 256 * MiB
    assert up < 80 and down < 80, (up, down)  # ~30 MiB here


# -- list filters, sorting, paging ----------------------------------------------------------

def test_image_list_filters_sort_and_paging(site: Site) -> None:
    group = unique("grp")
    owner = unique("own")
    a = site.create(os.urandom(100), name=f"a-{group}", group=group, tags=["t1"])
    b = site.create(os.urandom(5000), name=f"b-{group}", group=group, tags=["t1", "t2"],
                    owner=owner, visibility="private")
    c = site.create(name=f"c-{group}", group=group, visibility="public")

    def names(*args: str) -> list[str]:
        return [row["Name"] for row in rows(ok(site.ours(
            "image-list", "--property-filter", f"group={group}", *args)))]

    assert names() == [a["name"], b["name"], c["name"]]  # default: name ascending
    assert names("--sort-key", "name", "--sort-dir", "desc") == [c["name"], b["name"],
                                                                 a["name"]]
    assert names("--sort", "name:desc") == [c["name"], b["name"], a["name"]]
    assert names("--sort-key", "size", "--sort-key", "name", "--sort-dir", "asc",
                 "--sort-dir", "asc")[-1] in (a["name"], b["name"], c["name"])
    assert names("--limit", "2") == [a["name"], b["name"]]
    assert names("--page-size", "1") == [a["name"], b["name"], c["name"]]  # every page
    assert names("--page-size", "1", "--limit", "2") == [a["name"], b["name"]]
    assert names("--tag", "t1") == [a["name"], b["name"]]
    assert names("--tag", "t1", "--tag", "t2") == [b["name"]]
    assert names("--visibility", "public") == [c["name"]]
    assert names("--owner", owner) == [b["name"]]
    assert names("--checksum", a["checksum"]) == [a["name"]]
    assert names("--hash", b["os_hash_value"]) == [b["name"]]
    assert names("--member-status", "all") == [a["name"], b["name"], c["name"]]
    verbose = rows(ok(site.ours("--verbose", "image-list", "--property-filter",
                                f"group={group}")))
    assert verbose[1] == {"ID": b["id"], "Name": b["name"], "Disk_format": "raw",
                          "Container_format": "bare", "Size": "5000", "Status": "active",
                          "Owner": owner}
    assert verbose[2]["Size"] == "" and verbose[2]["Status"] == "queued"
    as_json = json.loads(ok(site.ours("--json", "image-list", "--property-filter",
                                      f"group={group}")))
    assert [i["id"] for i in as_json] == [a["id"], b["id"], c["id"]]

    err = failed(site.ours("image-list", "--sort", "bogus"), 2)
    assert "Invalid sort key: bogus" in err
    err = failed(site.ours("image-list", "--sort", "name", "--sort-key", "size"), 2)
    assert "not supported with 'sort_key' or 'sort_dir'" in err
    assert failed(site.ours("image-list", "--sort-key", "bogus"), 2)
    err = failed(site.ours("image-list", "--property-filter", "novalue"), 2)
    assert "KEY=VALUE" in err
    err = failed(site.ours("image-list", "--member-status", "maybe"))
    assert "400" in err and "maybe" in err


# -- update, delete, deactivate, tags ---------------------------------------------------------

def test_image_update_and_remove_property(site: Site) -> None:
    image = site.create(keep="yes", drop="me", other="x")
    new_name = unique()
    shown = record(ok(site.ours("image-update", image["id"], "--name", new_name,
                                "--min-ram", "1024", "--protected", "true",
                                "--property", "added=1", "--property", "other=y",
                                "--remove-property", "drop", "--remove-property", "absent")))
    after = site.image(image["id"])
    assert (after["name"], after["min_ram"], after["protected"]) == (new_name, 1024, True)
    assert (after["keep"], after["added"], after["other"]) == ("yes", "1", "y")
    assert "drop" not in after
    assert shown["name"] == new_name and shown["protected"] == "True" and "drop" not in shown
    ok(site.ours("image-update", image["id"], "--protected", "false"))
    assert site.image(image["id"])["protected"] is False

    err = failed(site.ours("image-update", image["id"], "--protected", "perhaps"), 2)
    assert "--protected" in err
    err = failed(site.ours("image-update", image["id"], "--visibility", "everywhere"))
    assert "400" in err


def test_image_delete_several(site: Site) -> None:
    one, two = site.create(), site.create()
    protected = site.create(protected=True)
    missing = str(uuid.uuid4())
    proc = site.ours("image-delete", one["id"], missing, protected["id"], two["id"])
    err = failed(proc)
    assert f"No image with an ID of '{missing}' exists." in err
    assert f"You are not permitted to delete the image '{protected['id']}'." in err
    assert proc.stdout == b""
    assert site.status_code(one["id"]) == site.status_code(two["id"]) == 404
    assert site.image(protected["id"])["status"] == "queued"
    assert ok(site.ours("image-delete", site.create()["id"])) == ""


def test_deactivate_and_reactivate(site: Site) -> None:
    image = site.create(b"data")
    assert ok(site.ours("image-deactivate", image["id"])) == ""
    assert site.image(image["id"])["status"] == "deactivated"
    assert ok(site.ours("image-reactivate", image["id"])) == ""
    assert site.image(image["id"])["status"] == "active"
    err = failed(site.ours("image-deactivate", site.create()["id"]))  # queued: refused
    assert "403" in err


def test_tags(site: Site) -> None:
    image = site.create(tags=["first"])
    out = ok(site.ours("image-tag-update", image["id"], "second"))
    assert out == ok(site.theirs("image-tag-update", image["id"], "second"))  # idempotent
    assert rows(out) == [{"ID": image["id"], "Tags": "['first', 'second']"}]
    assert ok(site.ours("image-tag-delete", image["id"], "first")) == ""
    assert site.image(image["id"])["tags"] == ["second"]
    err = failed(site.ours("image-tag-delete", image["id"], "first"))
    assert "404" in err


# -- members --------------------------------------------------------------------------------

def test_members(site: Site) -> None:
    image = site.create(visibility="shared")
    created = ok(site.ours("member-create", image["id"], "project-a"))
    assert rows(created) == [{"Image ID": image["id"], "Member ID": "project-a",
                              "Status": "pending"}]
    theirs = ok(site.theirs("member-create", image["id"], "project-b"))
    assert created == theirs.replace("project-b", "project-a")

    listed = ok(site.ours("member-list", "--image-id", image["id"]))
    assert listed == ok(site.theirs("member-list", "--image-id", image["id"]))
    assert sorted(r["Member ID"] for r in rows(listed)) == ["project-a", "project-b"]

    updated = ok(site.ours("member-update", image["id"], "project-a", "accepted"))
    assert rows(updated)[0]["Status"] == "accepted"
    assert updated == ok(site.theirs("member-update", image["id"], "project-a", "accepted"))
    member = record(ok(site.ours("member-get", image["id"], "project-a")))
    assert (member["member_id"], member["status"]) == ("project-a", "accepted")
    members = site.http.get(f"/v2/images/{image['id']}/members").json()["members"]
    assert {m["member_id"]: m["status"] for m in members} == {"project-a": "accepted",
                                                             "project-b": "pending"}
    ok(site.ours("member-delete", image["id"], "project-a"))
    members = site.http.get(f"/v2/images/{image['id']}/members").json()["members"]
    assert [m["member_id"] for m in members] == ["project-b"]

    assert failed(site.ours("member-update", image["id"], "project-b", "maybe"), 2)
    err = failed(site.ours("member-create", site.create(visibility="private")["id"], "p"))
    assert "403" in err


# -- import ---------------------------------------------------------------------------------

def settled(site: Site, image_id: str, stores: str | None = None) -> dict[str, Any]:
    """The image once its import has ended (and it is in ``stores``, if given)."""
    def done() -> dict[str, Any] | None:
        image = site.image(image_id)
        if image["status"] not in ("active", "queued") or image.get(
                "os_glance_importing_to_stores"):
            return None  # uploading, importing, saving: not yet
        if stores is not None and set(image.get("stores", "").split(",")) != \
                set(stores.split(",")):
            return None
        return image
    return wait_for(done)


def test_stage_and_import_methods(site: Site, data_file: Path) -> None:
    data = data_file.read_bytes()
    staged = site.create()
    ok(site.ours("image-stage", "--file", str(data_file), staged["id"]))
    assert site.image(staged["id"])["status"] == "uploading"
    shown = record(ok(site.ours("image-import", staged["id"], "--store", "slow")))
    assert shown["id"] == staged["id"]
    image = settled(site, staged["id"])
    assert (image["status"], image["stores"], image["size"]) == ("active", "slow", len(data))

    ok(site.ours("image-import", staged["id"], "--import-method", "copy-image",
                 "--stores", "fast"))
    assert settled(site, staged["id"], "fast,slow")["status"] == "active"

    source = f"{site.server.url}/v2/images/{staged['id']}/file"
    fetched = site.create()
    ok(site.ours("image-import", fetched["id"], "--import-method", "web-download",
                 "--uri", source, "--store", "slow"))
    image = settled(site, fetched["id"], "slow")
    assert image["os_hash_value"] == hashlib.sha512(data).hexdigest()
    ok(site.ours("image-import", fetched["id"], "--import-method", "copy-image",
                 "--all-stores", "True", "--allow-failure", "False"))
    assert settled(site, fetched["id"], "fast,slow")["status"] == "active"

    for args, message, code in (
            (["--import-method", "web-download"], "Provide URI for web-download", 2),
            (["--uri", source], "Import method should be 'web-download'", 2),
            (["--import-method", "copy-image"], "Provide either --stores or --all-stores", 2),
            (["--stores", "fast", "--all-stores", "true"], "Only one of --store", 2),
            (["--import-method", "nonsense"], "Import method 'nonsense' is not valid", 1),
            (["--stores", "elsewhere"], "Store 'elsewhere' is not valid", 2),
            ([], "can only be applied to an image in status 'uploading'", 1)):
        err = failed(site.ours("image-import", site.create()["id"], *args), code)
        assert message in err, (args, err)


# -- progress, terminals and failures -------------------------------------------------------

def test_progress_bar_on_a_terminal(site: Site, data_file: Path, tmp_path: Path) -> None:
    env = clean_env(site.home)
    status, stdout, terminal = run_on_pty(
        OURS, "--os-image-url", site.server.url, "image-create", "--name", unique(),
        "--disk-format", "raw", "--container-format", "bare", "--file", str(data_file),
        "--progress", env=env)
    assert status == 0, terminal
    bar = terminal.decode()
    assert bar.startswith("\rUploading [") and "100.0%" in bar and "MB/s" in bar
    assert "#" * 24 in bar and bar.endswith("\r\n")  # the pty turns \n into \r\n
    image_id = record(stdout.decode())["id"]

    target = tmp_path / "down.raw"
    status, _, terminal = run_on_pty(OURS, "--os-image-url", site.server.url,
                                     "image-download", "--progress", "--file", str(target),
                                     image_id, env=env)
    assert status == 0, terminal
    assert terminal.decode().startswith("\rDownloading [") and b"100.0%" in terminal
    assert target.read_bytes() == data_file.read_bytes()

    # No --progress, or stderr not a terminal: no bar.
    status, _, terminal = run_on_pty(OURS, "--os-image-url", site.server.url,
                                     "image-download", "--file", str(target), image_id,
                                     env=env)
    assert (status, terminal) == (0, b"")
    piped = site.ours("image-download", "--progress", "--file", str(target), image_id)
    assert ok(piped) == "" and piped.stderr == b""

    # stdout on a terminal and no --file: refused, nothing written there.
    status, _, terminal = run_on_pty(OURS, "--os-image-url", site.server.url,
                                     "image-download", image_id, env=env, stdout_on_pty=True)
    assert status == 2 and b"No redirection or local file specified" in terminal


def test_failures_are_one_line_and_a_status(site: Site, tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for args in (["image-list"], ["image-show", "x"],
                 ["image-create", "--name", "n", "--disk-format", "raw",
                  "--container-format", "bare", "--file", str(tmp_path / "missing")]):
        err = failed(run(OURS, "--os-image-url", dead, *args, env=clean_env(site.home)))
        assert err.startswith("glance: error: ") and err.count("\n") == 1, err
    assert "missing does not exist" in err

    err = failed(site.ours("image-show", str(uuid.uuid4())))
    assert err.startswith("glance: error: ") and "404" in err
    err = failed(site.ours("image-create", "--name", "n", "--disk-format", "floppy"))
    assert "400" in err and "floppy" in err
    assert failed(site.ours("image-create", "--min-ram", "lots"), 2)
    assert failed(site.ours("image-frobnicate"), 2)
    assert failed(site.ours("image-show"), 2)
    err = failed(site.ours("help", "image-frobnicate"), 2)
    assert "'image-frobnicate' is not a valid subcommand" in err
    assert "--human-readable" in ok(site.ours("help", "image-show"))


def test_os_image_url_from_environment_with_version_suffix(site: Site) -> None:
    image = site.create()
    proc = run(OURS, "image-show", image["id"],
               env=clean_env(site.home, OS_IMAGE_URL=site.server.url + "/v2"))
    assert record(ok(proc))["id"] == image["id"]
    # The original verbs use the same URL (v1 under it).
    proc = run(OURS, "--json", "show", image["id"],
               env=clean_env(site.home, OS_IMAGE_URL=site.server.url))
    assert json.loads(ok(proc))["id"] == image["id"]
