"""The real clients pass tokens: python-glanceclient's `glance` CLI and openstacksdk against
glance-api in `tokens` mode (tokens from `glance token-add`) and in `keystone` mode (the
Keystone-shaped token endpoint of test_auth). A bad token fails in each client; a good one
works, and images get the token's project as owner."""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import RunningServer, start_server
from tests.functional._v2 import unique
from tests.functional.test_auth import FakeKeystone, keystone_token, token_add
from tests.functional.test_v2_clients import GLANCE, table

BAD = "not-a-valid-token"


@pytest.fixture(scope="module", params=["tokens", "keystone"])
def authed(request, tmp_path_factory) -> Iterator[tuple[RunningServer, dict[str, str]]]:
    """A server in the given auth mode and good tokens for projects p1 and p2."""
    base = tmp_path_factory.mktemp(request.param)
    if request.param == "tokens":
        tokens_file = base / "tokens.json"
        good = {"p1": token_add(tokens_file, "p1", "member"),
                "p2": token_add(tokens_file, "p2", "member")}
        server = start_server(base / "data", ["--auth-mode", "tokens",
                                              "--tokens-file", str(tokens_file)])
        yield server, good
        server.stop()
        return
    good = {"p1": "ks-client-p1", "p2": "ks-client-p2"}
    FakeKeystone.tokens.update({good[p]: keystone_token(p, ["member"]) for p in good})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeKeystone)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/v3"
    server = start_server(base / "data", ["--auth-mode", "keystone", "--keystone-url", url])
    try:
        yield server, good
    finally:
        server.stop()
        httpd.shutdown()
        httpd.server_close()


def glance(server: RunningServer, home: Path, token: str,
           *args: str) -> subprocess.CompletedProcess[str]:
    """The `glance` CLI with a static token, its own HOME and stdin closed."""
    cmd = [*GLANCE, "--os-image-url", server.url, "--os-auth-token", token,
           "--os-image-api-version", "2", *args]
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env["HOME"] = str(home)
    return subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", *cmd], env=env,
                          capture_output=True, text=True, timeout=120)


def test_cli_with_tokens(authed, tmp_path) -> None:
    server, good = authed
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "image.raw"
    data.write_bytes(os.urandom(100_000))

    bad = glance(server, home, BAD, "image-list")
    assert bad.returncode != 0
    assert "Invalid OpenStack Identity credentials" in bad.stderr, bad.stderr  # its 401
    assert "Traceback" not in bad.stderr

    name = unique("cli-auth")
    made = glance(server, home, good["p1"], "image-create", "--name", name, "--disk-format",
                  "raw", "--container-format", "bare", "--file", str(data))
    assert made.returncode == 0, made.stderr
    image = table(made.stdout)
    assert image["owner"] == "p1" and image["status"] == "active"

    listed = glance(server, home, good["p1"], "image-list")
    assert listed.returncode == 0 and image["id"] in listed.stdout
    shown = glance(server, home, good["p1"], "image-show", image["id"])
    assert shown.returncode == 0 and table(shown.stdout)["name"] == name
    out = tmp_path / "out.raw"
    got = glance(server, home, good["p1"], "image-download", "--file", str(out), image["id"])
    assert got.returncode == 0, got.stderr
    assert out.read_bytes() == data.read_bytes()

    # another project's token: the private image does not exist for it
    other = glance(server, home, good["p2"], "image-show", image["id"])
    assert other.returncode != 0
    assert image["id"] not in glance(server, home, good["p2"], "image-list").stdout
    assert glance(server, home, good["p2"], "image-delete", image["id"]).returncode != 0
    assert glance(server, home, BAD, "image-delete", image["id"]).returncode != 0

    deleted = glance(server, home, good["p1"], "image-delete", image["id"])
    assert deleted.returncode == 0, deleted.stderr
    assert glance(server, home, good["p1"], "image-show", image["id"]).returncode != 0


def sdk_connection(server: RunningServer, token: str):
    import openstack
    return openstack.connection.Connection(
        auth_type="admin_token", auth={"token": token, "endpoint": server.url},
        image_endpoint_override=server.url)


def test_sdk_with_tokens(authed, tmp_path) -> None:
    from openstack import exceptions

    server, good = authed
    with sdk_connection(server, BAD) as bad:
        with pytest.raises(exceptions.HttpException) as raised:
            list(bad.image.images())
        assert raised.value.status_code == 401

    data = os.urandom(50_000)
    path = tmp_path / "image.raw"
    path.write_bytes(data)
    with sdk_connection(server, good["p1"]) as conn:
        image = conn.image.create_image(name=unique("sdk-auth"), filename=str(path),
                                        disk_format="raw", container_format="bare", wait=True)
        got = conn.image.get_image(image.id)
        assert got.owner == "p1" and got.status == "active"
        assert conn.image.download_image(got).content == data
        assert image.id in {i.id for i in conn.image.images()}
    with sdk_connection(server, good["p2"]) as other:
        with pytest.raises(exceptions.NotFoundException):
            other.image.get_image(image.id)
        assert image.id not in {i.id for i in other.image.images()}
    with sdk_connection(server, good["p1"]) as conn:
        conn.image.delete_image(image.id)
        assert conn.image.find_image(image.id) is None
