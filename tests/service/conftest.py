"""An ImageService on a real SQLite registry and a real file store in a temporary
directory, driven without HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Iterator, TypeVar

import pytest

from glance.config import Settings
from glance.context import RequestContext
from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import upgrade_engine
from glance.service import ImageService
from glance.stores import build_staging_store, build_stores

T = TypeVar("T")
ADMIN = RequestContext(is_admin=True)
OWNER = RequestContext(project_id="p1", roles=("member",))
OTHER = RequestContext(project_id="p2", roles=("member",))


class Harness:
    """The service under test, its loop, and what its file store holds."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        self.settings = Settings(data_dir=str(data_dir), file_store_fsync=False, **settings)
        self.loop = asyncio.new_event_loop()
        engine = create_registry_engine(self.settings.resolved_database_url)
        upgrade_engine(engine)
        self.service = ImageService(self.settings, Registry(engine),
                                    build_stores(self.settings),
                                    build_staging_store(self.settings))
        self.run(self.service.start())

    def run(self, step: Awaitable[T]) -> T:
        return self.loop.run_until_complete(step)

    def stored(self) -> list[str]:
        """Every file in the file store, partial writes included."""
        directory = Path(self.settings.resolved_file_store_dir)
        return sorted(p.name for p in directory.iterdir()) if directory.exists() else []

    def close(self) -> None:
        self.run(self.service.close())
        self.loop.close()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path / "data")
    yield h
    h.close()


async def chunks_of(data: bytes, size: int = 1000,
                    on_chunk: Callable[[int], Awaitable[None]] | None = None,
                    fail_after: int | None = None,
                    error: BaseException | None = None) -> AsyncIterator[bytes]:
    """``data`` in chunks; ``on_chunk(n)`` runs before chunk n; with ``fail_after``,
    ``error`` is raised after that many chunks."""
    for n, start in enumerate(range(0, len(data), size)):
        if fail_after is not None and n == fail_after:
            raise error or ConnectionResetError("the client went away")
        if on_chunk is not None:
            await on_chunk(n)
        yield data[start:start + size]
