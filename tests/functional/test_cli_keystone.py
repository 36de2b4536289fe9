"""``glance`` with Keystone password (and token) authentication through keystoneauth1,
against a real Keystone (scripts/keystone-*) and a glance-api in ``auth_mode = "keystone"``
whose endpoints are in Keystone's catalogue: from the OS_* variables or the flags, the
image endpoint found by interface and region, bad credentials refused in one line."""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import subprocess
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import KeystoneServer, RunningServer, free_port, start_server
from tests.functional._cli import (GLANCECLIENT, OURS, clean_env, failed, ok, record, rows,
                                   run)

USER, PASSWORD, PROJECT = "glance", "glance-secret", "images"


class Cloud:
    """glance-api behind Keystone, with its image endpoints in the catalogue."""

    def __init__(self, keystone: KeystoneServer, server: RunningServer, home: Path,
                 dead: dict[str, str]) -> None:
        self.keystone = keystone
        self.server = server
        self.home = home
        self.dead = dead  # endpoints that point nowhere, by "interface/region"
        projects = keystone.call("GET", f"/projects?name={PROJECT}")["projects"]
        self.project_id: str = projects[0]["id"]

    def os_env(self, **extra: str) -> dict[str, str]:
        """The variables of an openrc for the glance user, plus ``extra``."""
        openrc = {"OS_AUTH_URL": self.keystone.url, "OS_USERNAME": USER,
                  "OS_PASSWORD": PASSWORD, "OS_PROJECT_NAME": PROJECT,
                  "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_NAME": "Default",
                  "OS_REGION_NAME": "RegionOne"}
        return clean_env(self.home, **{**openrc, **extra})

    def ours(self, *args: str, env: dict[str, str] | None = None,
             stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        return run(OURS, *args, env=env if env is not None else self.os_env(), stdin=stdin)


@pytest.fixture(scope="module")
def cloud(keystone_server: KeystoneServer,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("cli-keystone")
    server = start_server(base / "data", ["--auth-mode", "keystone",
                                          "--keystone-url", keystone_server.url])
    ks = keystone_server
    service = ks.call("POST", "/services", {"service": {"type": "image", "name": "glance"}})
    service_id = service["service"]["id"]
    region = f"Region-{uuid.uuid4().hex[:6]}"
    ks.call("POST", "/regions", {"region": {"id": region}})
    dead = {"internal/RegionOne": f"http://127.0.0.1:{free_port()}",
            f"public/{region}": f"http://127.0.0.1:{free_port()}"}
    endpoints = {"public/RegionOne": server.url, **dead}
    for key, url in endpoints.items():
        interface, region_id = key.split("/")
        ks.call("POST", "/endpoints", {"endpoint": {
            "service_id": service_id, "interface": interface, "region_id": region_id,
            "url": url}})
    home = base / "home"
    home.mkdir()
    try:
        yield Cloud(ks, server, home, dead)
    finally:
        ks.call("DELETE", f"/services/{service_id}")  # its endpoints go with it
        ks.call("DELETE", f"/regions/{region}")
        server.stop()


def test_password_from_os_variables_and_the_catalogue(cloud: Cloud, tmp_path: Path) -> None:
    data = os.urandom(2 * 1024 * 1024 + 3)
    source = tmp_path / "image.raw"
    source.write_bytes(data)
    name = f"ks-{uuid.uuid4().hex[:8]}"
    shown = record(ok(cloud.ours("image-create", "--name", name, "--disk-format", "raw",
                                 "--container-format", "bare", "--file", str(source))))
    assert shown["status"] == "active"
    assert shown["owner"] == cloud.project_id  # the Keystone project of the password's user

    listed = rows(ok(cloud.ours("image-list")))
    assert {"ID": shown["id"], "Name": name} in listed
    target = tmp_path / "back.raw"
    ok(cloud.ours("image-download", "--file", str(target), shown["id"]))
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest()

    # The original verbs authenticate the same way (v1 at the catalogue's endpoint).
    v1 = json.loads(ok(cloud.ours("--json", "show", shown["id"])))
    assert (v1["id"], v1["owner"]) == (shown["id"], cloud.project_id)

    # python-glanceclient, given the same variables, prints the same list. (It reuses
    # kept-alive connections to Keystone, which uWSGI's http-socket may reset in between,
    # and has no retry: such a reset is run again.)
    for _ in range(3):
        theirs = run(GLANCECLIENT, "image-list", env=cloud.os_env(), close_stdin=True)
        if b"Connection reset by peer" not in theirs.stderr:
            break
    assert ok(theirs) == ok(cloud.ours("image-list"))


def test_password_from_flags(cloud: Cloud) -> None:
    flags = ["--os-auth-url", cloud.keystone.url, "--os-username", USER, "--os-password",
             PASSWORD, "--os-project-id", cloud.project_id, "--os-user-domain-id", "default",
             "--os-region-name", "RegionOne"]
    name = f"ks-{uuid.uuid4().hex[:8]}"
    made = record(ok(cloud.ours(*flags, "image-create", "--name", name,
                                env=clean_env(cloud.home))))
    assert (made["name"], made["owner"]) == (name, cloud.project_id)
    # Flags win over the variables (here wrong ones).
    wrong = cloud.os_env(OS_PASSWORD="wrong", OS_PROJECT_NAME="nowhere")
    assert record(ok(cloud.ours(*flags, "image-show", made["id"], env=wrong)))["id"] == \
        made["id"]


def test_bad_or_missing_credentials(cloud: Cloud) -> None:
    err = failed(cloud.ours("image-list", env=cloud.os_env(OS_PASSWORD="wrong")))
    assert err == "glance: error: Invalid OpenStack Identity credentials.\n"
    for missing, message in (("OS_USERNAME", "You must provide a username"),
                             ("OS_PASSWORD", "You must provide a password"),
                             ("OS_PROJECT_NAME", "You must provide a project_id or "
                                                 "project_name")):
        env = cloud.os_env()
        del env[missing]
        assert message in failed(cloud.ours("image-list", env=env), 2)
    dead = f"http://127.0.0.1:{free_port()}/v3"
    err = failed(cloud.ours("image-list", env=cloud.os_env(OS_AUTH_URL=dead)))
    assert err.startswith(f"glance: error: Unable to establish connection to {dead}") and \
        err.count("\n") == 1


def test_password_prompted_on_a_terminal(cloud: Cloud) -> None:
    """No password but a terminal: it is asked for there (no controlling terminal, so
    getpass uses stdin and writes its prompt to stderr, both on the pty)."""
    env = cloud.os_env()
    del env["OS_PASSWORD"]
    master, slave = pty.openpty()
    proc = subprocess.Popen([*OURS, "image-list"], stdin=slave, stdout=subprocess.PIPE,
                            stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    try:
        prompt = b""
        deadline = time.monotonic() + 60
        while b"OS Password:" not in prompt and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                prompt += os.read(master, 1024)
        assert b"OS Password:" in prompt
        os.write(master, PASSWORD.encode() + b"\n")
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    assert proc.returncode == 0
    assert list(rows(out.decode())[0]) == ["ID", "Name"]


def test_interface_and_region_pick_the_endpoint(cloud: Cloud) -> None:
    internal = cloud.dead["internal/RegionOne"]
    for env in (cloud.os_env(OS_INTERFACE="internal"),
                cloud.os_env(OS_ENDPOINT_TYPE="internal")):
        err = failed(cloud.ours("image-list", env=env))
        assert internal in err and err.count("\n") == 1  # refused where the catalogue said
    err = failed(cloud.ours("--os-interface", "internal", "image-list"))
    assert internal in err

    (key, elsewhere), = [(k, v) for k, v in cloud.dead.items() if k.startswith("public/")]
    region = key.split("/")[1]
    assert elsewhere in failed(cloud.ours("image-list", env=cloud.os_env(
        OS_REGION_NAME=region)))
    assert elsewhere in failed(cloud.ours("--os-region-name", region, "image-list"))
    err = failed(cloud.ours("image-list", env=cloud.os_env(OS_REGION_NAME="Atlantis")))
    assert "no public endpoint of service type image in region Atlantis" in err


def test_tokens(cloud: Cloud) -> None:
    token = cloud.keystone.token(USER, PASSWORD, PROJECT)
    image = record(ok(cloud.ours("image-create", "--name", "by-token")))
    # An image URL and a token: Keystone is not asked (its URL here answers nothing).
    direct = clean_env(cloud.home, OS_IMAGE_URL=cloud.server.url, OS_AUTH_TOKEN=token,
                       OS_AUTH_URL=f"http://127.0.0.1:{free_port()}/v3")
    assert record(ok(cloud.ours("image-show", image["id"], env=direct)))["id"] == image["id"]
    flags = record(ok(cloud.ours("--os-image-url", cloud.server.url, "--os-auth-token", token,
                                 "image-show", image["id"], env=clean_env(cloud.home))))
    assert flags["id"] == image["id"]
    # A token and no image URL: the catalogue of the token's project.
    by_catalogue = cloud.os_env(OS_AUTH_TOKEN=token)
    del by_catalogue["OS_PASSWORD"], by_catalogue["OS_USERNAME"]
    assert record(ok(cloud.ours("image-show", image["id"], env=by_catalogue)))["id"] == \
        image["id"]
    # glance-api refuses a token Keystone does not know.
    bad = clean_env(cloud.home, OS_IMAGE_URL=cloud.server.url, OS_AUTH_TOKEN="nonsense")
    err = failed(cloud.ours("image-list", env=bad))
    assert "401" in err and err.count("\n") == 1


def test_no_credentials_against_a_keystone_server(cloud: Cloud) -> None:
    err = failed(cloud.ours("--os-image-url", cloud.server.url, "image-list",
                            env=clean_env(cloud.home)))
    assert "401" in err
