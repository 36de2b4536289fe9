"""Registry fixtures: a fresh database on real SQLite and on real PostgreSQL."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import upgrade_engine

POSTGRES_URL = os.environ.get("GLANCE_TEST_POSTGRES_URL",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    name = "glance_test_" + uuid.uuid4().hex[:12]
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # the test command starts PostgreSQL: its absence is a failure
        pytest.fail(f"PostgreSQL at {POSTGRES_URL} is not usable: {exc}")
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/glance.sqlite"
    return request.getfixturevalue("postgres_database")


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    engine = create_registry_engine(database_url)
    upgrade_engine(engine)
    reg = Registry(engine)
    yield reg
    reg.close()
