"""The real clients against a real glance-api: python-glanceclient's `glance` CLI and
openstacksdk, unmodified, with no auth (a token the server ignores / auth_type none)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.functional._v2 import unique

# python-glanceclient's `glance` command, run from its module: our package installs a `glance`
# console script of its own, and whichever was installed last owns that name in the venv.
GLANCE = [sys.executable, "-c", "import sys; from glanceclient.shell import main; sys.exit(main())"]


@pytest.fixture(scope="module")
def cli(server, tmp_path_factory):
    """Run `glance --os-image-url <server> --os-auth-token x …` with its own HOME (schema
    cache) and a closed stdin (an open one would count as image data for image-create)."""
    home = tmp_path_factory.mktemp("home")

    def run(*args: str, version: str | None = "2", check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        cmd = [*GLANCE, "--os-image-url", server.url, "--os-auth-token", "x"]
        if version:
            cmd += ["--os-image-api-version", version]
        cmd += list(args)
        env = {**os.environ, "HOME": str(home)}
        env = {k: v for k, v in env.items() if not k.startswith("OS_")}
        result = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *cmd], env=env,
                                capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, (args, result.stdout, result.stderr)
        return result

    run.home = home  # type: ignore[attr-defined]
    return run


def table(output: str) -> dict[str, str]:
    """The Property/Value table glance prints, as a dict."""
    values: dict[str, str] = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 4 and cells[1] and cells[1] != "Property":
            values[cells[1]] = cells[2]
    return values


@pytest.fixture
def image_file(tmp_path) -> Path:
    path = tmp_path / "image.raw"
    path.write_bytes(os.urandom(2 * 1024 * 1024 + 333))
    return path


def test_cli_without_version_discovers_v2_and_caches_schemas(server, cli):
    result = cli("image-list", version=None)
    assert "WARNING" not in result.stderr, result.stderr
    cached = {p.name for p in (cli.home / ".glanceclient").rglob("*_schema.json")}
    assert {"image_schema.json", "namespace_schema.json",
            "resource_type_schema.json"} <= cached, cached


def test_cli_image_lifecycle(server, cli, image_file, tmp_path):
    name = unique("cli")
    created = table(cli("image-create", "--name", name, "--disk-format", "raw",
                        "--container-format", "bare", "--property", "os_distro=cirros",
                        "--file", str(image_file)).stdout)
    data = image_file.read_bytes()
    assert created["status"] == "active" and created["size"] == str(len(data))
    assert created["checksum"] == hashlib.md5(data).hexdigest()
    assert created["os_distro"] == "cirros"
    image_id = created["id"]

    out = tmp_path / "out.raw"
    cli("image-download", "--file", str(out), image_id)  # the CLI verifies the sha512
    assert out.read_bytes() == data

    shown = table(cli("image-show", image_id).stdout)
    assert shown["name"] == name and shown["os_hash_algo"] == "sha512"

    updated = table(cli("image-update", image_id, "--name", name + "-2", "--min-ram", "128",
                        "--property", "color=blue", "--remove-property", "os_distro").stdout)
    assert updated["name"] == name + "-2" and updated["min_ram"] == "128"
    assert updated["color"] == "blue" and "os_distro" not in updated

    cli("image-tag-update", image_id, "tag1")
    cli("image-tag-update", image_id, "tag2")
    assert json.loads(table(cli("image-show", image_id).stdout)["tags"]) == ["tag1", "tag2"]
    cli("image-tag-delete", image_id, "tag1")
    assert json.loads(table(cli("image-show", image_id).stdout)["tags"]) == ["tag2"]

    listed = cli("image-list", "--property-filter", "color=blue").stdout
    assert image_id in listed
    assert image_id in cli("image-list", "--tag", "tag2", "--page-size", "1").stdout

    cli("image-deactivate", image_id)
    assert table(cli("image-show", image_id).stdout)["status"] == "deactivated"
    cli("image-reactivate", image_id)
    assert table(cli("image-show", image_id).stdout)["status"] == "active"

    cli("image-update", image_id, "--protected", "True")
    refused = cli("image-delete", image_id, check=False)
    assert refused.returncode != 0 and "not permitted" in refused.stdout + refused.stderr
    cli("image-update", image_id, "--protected", "False")
    cli("image-delete", image_id)
    gone = cli("image-show", image_id, check=False)
    assert gone.returncode != 0 and "not found" in (gone.stdout + gone.stderr).lower()


def test_cli_create_then_upload_and_queued_download(server, cli, image_file, tmp_path):
    created = table(cli("image-create", "--name", unique("cli"), "--disk-format", "raw",
                        "--container-format", "bare").stdout)
    assert created["status"] == "queued"
    empty = cli("image-download", "--file", str(tmp_path / "none"), created["id"], check=False)
    assert "no data" in (empty.stdout + empty.stderr).lower()
    cli("image-upload", "--file", str(image_file), created["id"])
    shown = table(cli("image-show", created["id"]).stdout)
    assert shown["status"] == "active"
    assert shown["size"] == str(image_file.stat().st_size)


def test_cli_paging_walks_every_image(server, cli):
    mark = unique("page")
    made = set()
    for _ in range(5):
        made.add(table(cli("image-create", "--name", mark, "--property", f"mark={mark}",
                           "--disk-format", "raw", "--container-format", "bare").stdout)["id"])
    listed = cli("image-list", "--property-filter", f"mark={mark}", "--page-size", "2").stdout
    assert {line.split("|")[1].strip() for line in listed.splitlines()
            if mark in line} == made


def test_cli_members(server, cli):
    image_id = table(cli("image-create", "--name", unique("cli"), "--disk-format", "raw",
                         "--container-format", "bare").stdout)["id"]
    out = cli("member-create", image_id, "project-b").stdout
    assert "project-b" in out and "pending" in out
    assert "project-b" in cli("member-list", "--image-id", image_id).stdout
    assert "accepted" in cli("member-update", image_id, "project-b", "accepted").stdout
    assert "accepted" in cli("member-get", image_id, "project-b").stdout
    cli("member-delete", image_id, "project-b")
    assert "project-b" not in cli("member-list", "--image-id", image_id).stdout


def test_cli_info_commands(server, cli):
    assert "file" in cli("stores-info").stdout
    out = cli("import-info").stdout
    assert "import-methods" in out and "direct" in out
    assert "image_count_total" in cli("usage").stdout
    assert "file" in cli("stores-info", "--detail").stdout


def test_cli_error_is_readable(server, cli):
    result = cli("image-show", "00000000-0000-0000-0000-000000000000", check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr


# --------------------------------------------------------------------------- openstacksdk


@pytest.fixture(params=["/v2", ""])
def sdk(server, request):
    import openstack
    conn = openstack.connection.Connection(
        auth_type="none", image_endpoint_override=server.url + request.param)
    yield conn
    conn.close()


def test_sdk_create_download_update_delete(server, sdk, image_file):
    name = unique("sdk")
    image = sdk.image.create_image(name=name, filename=str(image_file), disk_format="raw",
                                   container_format="bare", wait=True)
    data = image_file.read_bytes()
    got = sdk.image.get_image(image.id)
    assert got.status == "active" and got.size == len(data)
    assert got.hash_algo == "sha512" and got.hash_value == hashlib.sha512(data).hexdigest()
    assert sdk.image.download_image(got).content == data  # verified by the SDK

    sdk.image.update_image(got, name=name + "-2", os_distro="cirros", min_ram=64)
    again = sdk.image.get_image(image.id)
    assert again.name == name + "-2" and again.min_ram == 64
    assert again.os_distro == "cirros"
    assert sdk.image.find_image(name + "-2").id == image.id

    sdk.image.add_tag(again, "t1")
    assert sdk.image.get_image(image.id).tags == ["t1"]
    sdk.image.remove_tag(again, "t1")
    sdk.image.deactivate_image(again)
    assert sdk.image.get_image(image.id).status == "deactivated"
    sdk.image.reactivate_image(again)
    sdk.image.delete_image(again)
    assert sdk.image.find_image(image.id) is None


def test_sdk_list_with_paging_and_filters(server, sdk):
    mark = unique("sdkpage")
    made = {sdk.image.create_image(name=f"{mark}-{i}", disk_format="raw",
                                   container_format="bare", allow_duplicates=True, tags=[mark]
                                   ).id for i in range(5)}
    seen = [i.id for i in sdk.image.images(limit=2, tag=mark, sort="name:asc")]
    assert len(seen) == 5 and set(seen) == made
    assert [i.name for i in sdk.image.images(name=f"{mark}-3")] == [f"{mark}-3"]
    assert {i.id for i in sdk.image.images(status="queued", tag=mark)} == made


def test_sdk_members_stores_import_info(server, sdk):
    image = sdk.image.create_image(name=unique("sdkm"), disk_format="raw",
                                   container_format="bare", allow_duplicates=True)
    member = sdk.image.add_member(image, member="project-c")
    assert member.status == "pending"
    assert [m.member_id for m in sdk.image.members(image)] == ["project-c"]
    sdk.image.remove_member("project-c", image)
    assert list(sdk.image.members(image)) == []
    assert any(s.id == "file" and s.is_default for s in sdk.image.stores())
    assert "glance-direct" in sdk.image.get_import_info().import_methods["value"]
