"""The ``glance`` command, run as a process against a real glance-api process."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import RunningServer, free_port, start_server
from tests.functional._disks import qcow2

MiB = 1024 * 1024


def run(*args: str, url: str | None = None, stdin: bytes | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``glance [--url URL] ARGS`` with stdin closed (or fed ``stdin``)."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith("GLANCE_") and k != "OS_AUTH_TOKEN"}
    full_env.update(env or {})
    cmd = [sys.executable, "-m", "glance.cli.main", *(["--url", url] if url else []), *args]
    return subprocess.run(cmd, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          capture_output=True, env=full_env, timeout=120, check=False)


def ok(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def glance(server: RunningServer, *args: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    return run(*args, url=server.url, **kwargs)


def tag() -> str:
    return "cli-" + uuid.uuid4().hex[:10]


def add(server: RunningServer, *fields: str, data: Path | None = None) -> str:
    """Add an image with the CLI; its id, read from the one line it prints."""
    out = ok(glance(server, "add", *fields, *(["--file", str(data)] if data else [])))
    prefix = "Added new image with ID: "
    assert out.startswith(prefix) and out.count("\n") == 1, out
    return out[len(prefix):].strip()


def show_json(server: RunningServer, image_id: str) -> dict:
    return json.loads(ok(glance(server, "--json", "show", image_id)))


@pytest.fixture
def image_file(tmp_path: Path) -> Path:
    path = tmp_path / "image.raw"
    path.write_bytes(os.urandom(3 * MiB + 17))
    return path


# -- add, show, index, details --------------------------------------------------------------------

def test_add_file_then_show_index_details(server: RunningServer, image_file: Path) -> None:
    name = tag()
    data = image_file.read_bytes()
    proc = glance(server, "add", f"name={name}", "distro=Ubuntu", "--file", str(image_file))
    out = ok(proc)
    assert proc.stderr == b""  # no progress bar when stderr is not a terminal
    image_id = out.split("ID: ", 1)[1].strip()

    meta = show_json(server, image_id)
    assert meta["status"] == "active"
    assert meta["size"] == len(data)
    assert meta["checksum"] == hashlib.md5(data).hexdigest()
    assert (meta["disk_format"], meta["container_format"]) == ("raw", "ovf")  # CLI defaults
    assert meta["is_public"] is False
    assert meta["properties"] == {"distro": "Ubuntu"}

    shown = ok(glance(server, "show", image_id)).splitlines()
    assert shown[0] == f"URI: {server.url}/v1/images/{image_id}"
    for line in (f"Id: {image_id}", "Public: No", "Protected: No", f"Name: {name}",
                 "Status: active", f"Size: {len(data)}", "Disk format: raw",
                 "Container format: ovf", "Minimum Ram Required (MB): 0",
                 "Minimum Disk Required (GB): 0", "Property 'distro': Ubuntu"):
        assert line in shown
    assert any(line.startswith("Created at: ") for line in shown)

    table = ok(glance(server, "index", f"name={name}")).splitlines()
    assert table[0].split() == ["ID", "Name", "Disk", "Format", "Container", "Format", "Size"]
    assert table[1] == " ".join("-" * w for w in (36, 30, 20, 20, 14))
    assert len(table) == 3
    row = table[2]
    assert row[:36].strip() == image_id
    assert row[37:67].strip() == name
    assert row[68:88].strip() == "raw"
    assert row[89:109].strip() == "ovf"
    assert row[110:124] == str(len(data)).rjust(14)  # right-justified

    listed = json.loads(ok(glance(server, "--json", "list", f"name={name}")))
    assert [(i["id"], i["name"], i["size"]) for i in listed] == [(image_id, name, len(data))]

    details = ok(glance(server, "details", f"name={name}")).splitlines()
    assert details[0] == details[-1] == "=" * 80
    assert f"URI: {server.url}/v1/images/{image_id}" in details
    assert "Property 'distro': Ubuntu" in details
    detailed = json.loads(ok(glance(server, "details", f"name={name}", "--json")))
    assert detailed[0]["properties"] == {"distro": "Ubuntu"}


def test_add_from_stdin_pipe_and_without_data(server: RunningServer) -> None:
    data = os.urandom(MiB + 5)
    out = ok(glance(server, "add", f"name={tag()}", stdin=data))
    meta = show_json(server, out.split("ID: ", 1)[1].strip())
    assert (meta["status"], meta["size"]) == ("active", len(data))
    assert meta["checksum"] == hashlib.md5(data).hexdigest()

    queued_id = add(server, f"name={tag()}")  # stdin is /dev/null: no data, not an empty image
    meta = show_json(server, queued_id)
    assert meta["status"] == "queued"
    assert "checksum" not in meta


def test_add_does_not_wait_on_a_stdin_that_is_not_a_pipe_or_file(server: RunningServer) -> None:
    """A socket on stdin (as some supervisors give) that never ends is not image data."""
    ours, theirs = socket.socketpair()
    try:
        proc = subprocess.run([sys.executable, "-m", "glance.cli.main", "--url", server.url,
                               "--json", "add", f"name={tag()}"], stdin=theirs,
                              capture_output=True, timeout=30, check=False)
    finally:
        ours.close()
        theirs.close()
    assert json.loads(ok(proc))["status"] == "queued"


def test_add_json_output_and_type(server: RunningServer) -> None:
    proc = glance(server, "--json", "add", f"name={tag()}", "type=kernel", "Min-Ram=64")
    image = json.loads(ok(proc))
    assert (image["disk_format"], image["container_format"]) == ("aki", "aki")
    assert image["min_ram"] == 64  # keys are lowercased, '-' becomes '_'
    assert image["status"] == "queued"


def test_add_drops_non_settable_fields(server: RunningServer) -> None:
    proc = glance(server, "add", f"name={tag()}", "status=active", "size=99")
    ok(proc)
    assert b"Found non-settable field status. Removing." in proc.stderr
    image_id = proc.stdout.decode().split("ID: ", 1)[1].strip()
    assert show_json(server, image_id)["status"] == "queued"


def test_progress_bar_on_request(server: RunningServer, image_file: Path) -> None:
    proc = glance(server, "add", f"name={tag()}", "--file", str(image_file), "--progress")
    ok(proc)
    err = proc.stderr.decode()
    assert err.startswith("\rUploading [")
    assert "100.0%" in err and "MB/s" in err and err.endswith("\n")


# -- filters and paging ---------------------------------------------------------------------------

def test_index_filters_sort_and_limit(server: RunningServer, tmp_path: Path) -> None:
    group = tag()
    small = tmp_path / "small"
    small.write_bytes(b"x" * 100)
    big = tmp_path / "big"
    big.write_bytes(b"y" * 5000)
    a = add(server, "name=a-" + group, f"group={group}", "color=red", data=small)
    big_qcow2 = tmp_path / "big.qcow2"
    big_qcow2.write_bytes(qcow2(5000))
    b = add(server, "name=b-" + group, f"group={group}", "color=blue", "disk_format=qcow2",
            "container_format=bare", data=big_qcow2)
    c = add(server, "name=c-" + group, f"group={group}", "color=red", data=big)

    def ids(*args: str) -> list[str]:
        return [i["id"] for i in json.loads(ok(glance(server, "--json", "index",
                                                        f"group={group}", *args)))]

    assert set(ids()) == {a, b, c}
    assert set(ids("color=red")) == {a, c}  # unknown names filter on properties
    assert set(ids("property-color=blue")) == {b}
    assert ids("disk_format=qcow2") == [b]
    assert set(ids("container_format=ovf")) == {a, c}
    assert set(ids("size_min=1000")) == {b, c}
    assert ids("size_max=1000") == [a]
    assert ids("--sort-key", "name", "--sort-dir", "asc") == [a, b, c]
    assert ids("--sort-key", "name", "--sort-dir", "desc") == [c, b, a]
    assert ids("--sort-key", "name", "--sort-dir", "asc", "--limit", "2") == [a, b]
    assert ids("--sort-key", "name", "--sort-dir", "asc", "--marker", a) == [b, c]
    assert ok(glance(server, "index", "color=green", f"group={group}")) == "No images found.\n"

    proc = glance(server, "index", "--sort-key", "bogus")
    assert proc.returncode == 1
    assert b"sort_key" in proc.stderr


# -- update, download, delete ---------------------------------------------------------------------

def test_update_metadata_merges_or_purges_properties(server: RunningServer) -> None:
    image_id = add(server, f"name={tag()}", "a=1", "b=2")
    new_name = tag()
    out = ok(glance(server, "update", image_id, f"name={new_name}", "b=3", "c=4"))
    assert out == f"Updated image {image_id}\n"
    meta = show_json(server, image_id)
    assert meta["name"] == new_name
    assert meta["properties"] == {"a": "1", "b": "3", "c": "4"}

    ok(glance(server, "update", image_id, "--purge-props", "only=this"))
    assert show_json(server, image_id)["properties"] == {"only": "this"}


def test_update_uploads_into_queued_image(server: RunningServer, image_file: Path) -> None:
    image_id = add(server, f"name={tag()}")
    ok(glance(server, "update", image_id, "--file", str(image_file)))
    meta = show_json(server, image_id)
    assert (meta["status"], meta["size"]) == ("active", image_file.stat().st_size)

    proc = glance(server, "update", image_id, "--file", str(image_file))
    assert proc.returncode == 1
    assert proc.stderr.decode().startswith("glance: error: ")
    assert "queued" in proc.stderr.decode()


def test_download_equals_upload(server: RunningServer, image_file: Path, tmp_path: Path) -> None:
    image_id = add(server, f"name={tag()}", data=image_file)
    target = tmp_path / "out.raw"
    proc = glance(server, "download", image_id, "-o", str(target), "--progress")
    out = ok(proc)
    assert target.read_bytes() == image_file.read_bytes()
    assert out == f"Downloaded image {image_id} to {target} ({image_file.stat().st_size} bytes)\n"
    assert "Downloading [" in proc.stderr.decode() and "100.0%" in proc.stderr.decode()

    piped = glance(server, "download", image_id)  # stdout is a pipe: the bytes go there
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == image_file.read_bytes()

    queued = add(server, f"name={tag()}")
    proc = glance(server, "download", queued, "-o", str(tmp_path / "nothing"))
    assert proc.returncode == 1
    assert not (tmp_path / "nothing").exists()


def test_delete(server: RunningServer) -> None:
    image_id = add(server, f"name={tag()}")
    assert ok(glance(server, "delete", image_id)) == f"Deleted image {image_id}\n"
    proc = glance(server, "show", image_id)
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"glance: error: ") and proc.stderr.count(b"\n") == 1
    assert image_id.encode() in proc.stderr and b"404" in proc.stderr
    again = glance(server, "delete", image_id)
    assert again.returncode == 1
    assert again.stderr.startswith(b"glance: error: ") and again.stderr.count(b"\n") == 1


def test_image_uri_accepted(server: RunningServer) -> None:
    image_id = add(server, f"name={tag()}")
    assert show_json(server, f"{server.url}/v1/images/{image_id}")["id"] == image_id


# -- members --------------------------------------------------------------------------------------

def test_members(server: RunningServer) -> None:
    image_id = add(server, f"name={tag()}")
    assert ok(glance(server, "members", image_id)) == f"No members for image {image_id}\n"
    ok(glance(server, "member-add", image_id, "tenant-a", "--can-share"))
    ok(glance(server, "member-add", image_id, "tenant-b"))
    members = json.loads(ok(glance(server, "--json", "members", image_id)))
    assert sorted((m["member_id"], m["can_share"]) for m in members) == [
        ("tenant-a", True), ("tenant-b", False)]
    text = ok(glance(server, "members", image_id)).splitlines()
    assert "tenant-a *" in text and "tenant-b" in text and text[-1] == "(*: Can share image)"
    ok(glance(server, "member-delete", image_id, "tenant-a"))
    assert [m["member_id"] for m in json.loads(ok(glance(server, "--json", "members", image_id)))] \
        == ["tenant-b"]


# -- errors and options ---------------------------------------------------------------------------

def test_usage_errors_exit_2(server: RunningServer) -> None:
    proc = glance(server, "add", "name")
    assert proc.returncode == 2
    assert b"Arguments should be in the form of field=value. You specified name." in proc.stderr
    proc = glance(server, "add", "disk_format=raw")
    assert proc.returncode == 2
    assert b"Please specify a name for the image using name=VALUE" in proc.stderr
    assert glance(server, "frobnicate").returncode == 2
    assert glance(server, "show").returncode == 2
    proc = run("--url", server.url, "--host", "127.0.0.1", "index")
    assert proc.returncode == 2
    assert b"not both" in proc.stderr


def test_server_errors_exit_1_with_its_message(server: RunningServer) -> None:
    proc = glance(server, "add", f"name={tag()}", "disk_format=floppy")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("glance: error: ") and err.count("\n") == 1
    assert "disk_format" in err and "floppy" in err
    assert proc.stdout == b""

    proc = glance(server, "add", f"name={tag()}", "--file", "/nonexistent/file")
    assert proc.returncode == 1
    assert b"/nonexistent/file" in proc.stderr


def test_unreachable_server(tmp_path: Path) -> None:
    proc = run("index", url=f"http://127.0.0.1:{free_port()}")
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("glance: error: ") and err.count("\n") == 1


def test_server_from_environment_and_host_port(server: RunningServer) -> None:
    image_id = add(server, f"name={tag()}")
    via_env = run("--json", "show", image_id, env={"GLANCE_URL": server.url})
    assert json.loads(ok(via_env))["id"] == image_id
    via_host = run("--host", server.host, "--port", str(server.port), "--json", "show", image_id)
    assert json.loads(ok(via_host))["id"] == image_id
    # Global options are accepted after the command too.
    assert json.loads(ok(run("show", image_id, "--url", server.url, "--json")))["id"] == image_id


# -- db upgrade -----------------------------------------------------------------------------------

def test_db_upgrade_creates_a_schema_glance_api_runs_on(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    out = ok(run("db", "upgrade", "--data-dir", str(data_dir)))
    assert (data_dir / "glance.sqlite").is_file()
    assert "up to date" in out
    ok(run("db", "upgrade", "--data-dir", str(data_dir)))  # idempotent

    srv = start_server(data_dir, ["--auto-migrate", "false"])
    try:
        image_id = add(srv, f"name={tag()}", "k=v")
        assert show_json(srv, image_id)["properties"] == {"k": "v"}
    finally:
        srv.stop()


def test_db_upgrade_reads_environment_and_reports_failures(tmp_path: Path) -> None:
    data_dir = tmp_path / "from-env"
    ok(run("db", "upgrade", env={"GLANCE_DATA_DIR": str(data_dir)}))
    assert (data_dir / "glance.sqlite").is_file()

    url = f"postgresql+psycopg://nobody:secret@127.0.0.1:{free_port()}/glance"
    proc = run("db", "upgrade", "--database-url", url)
    assert proc.returncode == 1
    err = proc.stderr.decode()
    assert err.startswith("glance: error: cannot upgrade") and err.count("\n") == 1
    assert "secret" not in err
