"""Health endpoints against a real server: /healthcheck as upstream's middleware (disable
file), /readyz checking the registry and each store, with a store that goes down."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import RunningServer, start_server
from tests.registry.conftest import POSTGRES_URL, postgres_database  # noqa: F401  (fixture)


@pytest.fixture
def ops_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server with token auth (so that 'no auth needed' means something), a second file
    stores ``hot`` and ``cold``, and a disable file that does not exist yet."""
    (tmp_path / "tokens.json").write_text('{"tokens": []}')
    stores = {"hot": {"driver": "file", "directory": str(tmp_path / "hot")},
              "cold": {"driver": "file", "directory": str(tmp_path / "cold")}}
    srv = start_server(tmp_path / "data", [
        "--auth-mode", "tokens", "--tokens-file", str(tmp_path / "tokens.json"),
        "--healthcheck-disable-file", str(tmp_path / "disable"),
        "--readiness-timeout", "2"], env={"GLANCE_STORES": json.dumps(stores)})
    yield srv
    srv.stop()


def test_healthcheck_ok_without_credentials_and_disabled_by_file(
        ops_server: RunningServer, tmp_path: Path) -> None:
    url = ops_server.url
    assert httpx.get(url + "/v2/images").status_code == 401  # the API itself needs a token
    answer = httpx.get(url + "/healthcheck")
    assert (answer.status_code, answer.text) == (200, "OK")
    assert answer.headers["content-type"].startswith("text/plain")
    assert httpx.head(url + "/healthcheck").status_code == 200

    (tmp_path / "disable").write_text("maintenance\n")
    answer = httpx.get(url + "/healthcheck")
    assert (answer.status_code, answer.text) == (503, "DISABLED BY FILE")
    assert httpx.head(url + "/healthcheck").status_code == 503
    assert httpx.get(url + "/readyz").status_code == 503  # draining: not ready either

    (tmp_path / "disable").unlink()
    assert httpx.get(url + "/healthcheck").status_code == 200


def test_readiness_names_registry_and_each_store_and_a_store_down(
        ops_server: RunningServer, tmp_path: Path) -> None:
    url = ops_server.url
    answer = httpx.get(url + "/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "ready"
    checks = {c["name"]: c for c in body["checks"]}
    assert set(checks) == {"registry", "hot", "cold", "os_glance_staging_store"}
    assert all(c["status"] == "ok" and c["latency_ms"] >= 0 for c in checks.values())
    assert checks["registry"]["kind"] == "registry" and checks["cold"]["kind"] == "store"

    # the cold store's disk goes away (an unmounted volume): not ready, and it says which
    shutil.rmtree(tmp_path / "cold")
    answer = httpx.get(url + "/readyz")
    assert answer.status_code == 503
    checks = {c["name"]: c for c in answer.json()["checks"]}
    assert checks["cold"]["status"] == "down" and "directory" in checks["cold"]["error"]
    assert checks["hot"]["status"] == "ok" and checks["registry"]["status"] == "ok"
    assert httpx.get(url + "/healthcheck").status_code == 200  # liveness is not readiness

    (tmp_path / "cold").mkdir()
    assert httpx.get(url + "/readyz").status_code == 200


def test_readiness_when_the_registry_is_down(tmp_path: Path,
                                            postgres_database: str) -> None:  # noqa: F811
    """The registry's PostgreSQL database stops accepting connections (and its sessions
    are ended): not ready, registry down; once it accepts them again, ready."""
    srv = start_server(tmp_path / "data", ["--database-url", postgres_database])
    name = make_url(postgres_database).database
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        assert httpx.get(srv.url + "/readyz").status_code == 200
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name"), {"name": name})
        answer = httpx.get(srv.url + "/readyz", timeout=30)
        assert answer.status_code == 503, answer.text
        checks = {c["name"]: c for c in answer.json()["checks"]}
        assert checks["registry"]["status"] == "down" and checks["registry"]["error"]
        assert checks["file"]["status"] == "ok"
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        assert httpx.get(srv.url + "/readyz").status_code == 200
    finally:
        srv.stop()
        admin.dispose()
