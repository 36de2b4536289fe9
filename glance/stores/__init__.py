"""Byte stores behind one interface, as named instances built from the settings."""

from __future__ import annotations

from glance.config import Settings
from glance.stores.base import Store, StoredObject, StoreNotFound, StoreWriteError
from glance.stores.file import FileStore
from glance.stores.http import HttpStore

__all__ = ["Store", "StoredObject", "StoreNotFound", "StoreWriteError", "FileStore", "HttpStore",
           "build_stores", "build_staging_store", "build_web_download_store", "STAGING_STORE",
           "WEB_DOWNLOAD_STORE"]

STAGING_STORE = "os_glance_staging_store"
WEB_DOWNLOAD_STORE = "os_glance_web_download"


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


def build_staging_store(settings: Settings) -> Store:
    """Where v2 stages image data before an import moves it into a real store."""
    return FileStore(STAGING_STORE, settings.resolved_staging_dir,
                     fsync=settings.file_store_fsync, read_chunk_size=settings.chunk_size)


def build_web_download_store(settings: Settings) -> Store:
    """The read-only source of web-download imports: refuses non-public addresses (on every
    redirect hop too) unless ``web_download_allow_private``."""
    return HttpStore(WEB_DOWNLOAD_STORE, chunk_size=settings.chunk_size,
                     allow_private=settings.web_download_allow_private)
