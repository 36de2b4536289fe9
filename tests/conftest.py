"""Shared fixtures: a real glance-api process on a free loopback port (``glance.testing``,
which the benchmarks use too)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import httpx
import pytest

from glance.testing import RunningServer, free_port, start_server

__all__ = ["RunningServer", "free_port", "start_server"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server per test module (tests must not depend on each other's images)."""
    srv = start_server(tmp_path_factory.mktemp("glance") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own, for tests that count what is in the store or the catalogue."""
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
