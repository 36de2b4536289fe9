"""Byte stores behind one interface, as named instances built from the settings."""

from __future__ import annotations

from glance.config import Settings
from glance.stores.base import Store, StoredObject, StoreNotFound, StoreWriteError
from glance.stores.file import FileStore
from glance.stores.http import HttpStore

__all__ = ["Store", "StoredObject", "StoreNotFound", "StoreWriteError", "FileStore", "HttpStore",
           "build_stores"]


def build_stores(settings: Settings) -> dict[str, Store]:
    """The store instances this server has, by name (the default store included)."""
    stores: dict[str, Store] = {
        "file": FileStore("file", settings.resolved_file_store_dir, fsync=settings.file_store_fsync,
                          read_chunk_size=settings.chunk_size),
        "http": HttpStore("http", chunk_size=settings.chunk_size),
    }
    if settings.default_store not in stores or not stores[settings.default_store].writable:
        raise SystemExit(f"glance: default_store {settings.default_store!r} is not a configured "
                         f"store (have: {', '.join(stores)})")
    return stores
