"""Byte stores behind one interface, as named instances built from the settings."""

from __future__ import annotations

from typing import Any, Callable

from glance.common.exception import ConfigError
from glance.config import Settings
from glance.stores.base import (
    Store,
    StoredObject,
    StoreLeftovers,
    StoreNotFound,
    StoreReadError,
    StoreWriteError,
)
from glance.stores.file import FileStore
from glance.stores.http import HttpStore

__all__ = ["DRIVERS", "STAGING_STORE", "WEB_DOWNLOAD_STORE", "FileStore", "HttpStore", "Store",
           "StoreLeftovers", "StoreNotFound", "StoreReadError", "StoreWriteError", "StoredObject",
           "build_stores",
           "build_staging_store", "build_web_download_store", "unique_stores"]

STAGING_STORE = "os_glance_staging_store"
WEB_DOWNLOAD_STORE = "os_glance_web_download"


def _file(name: str, conf: dict[str, Any], settings: Settings) -> Store:
    return FileStore(name, conf["directory"], fsync=conf["fsync"],
                     read_chunk_size=settings.chunk_size)


def _s3(name: str, conf: dict[str, Any], settings: Settings) -> Store:
    from glance.stores.s3 import S3Store  # boto3 is loaded only when an s3 store is configured
    return S3Store(name, read_chunk_size=settings.chunk_size, **conf)


def _swift(name: str, conf: dict[str, Any], settings: Settings) -> Store:
    from glance.stores.swift import SwiftStore
    return SwiftStore(name, read_chunk_size=settings.chunk_size, **conf)


def _http(name: str, conf: dict[str, Any], settings: Settings) -> Store:
    return HttpStore(name, chunk_size=settings.chunk_size, **conf)


# driver name → factory(store name, settings of the store without "driver", Settings)
DRIVERS: dict[str, Callable[[str, dict[str, Any], Settings], Store]] = {
    "file": _file,
    "s3": _s3,
    "swift": _swift,
    "http": _http,
}

# names that also stand for the first configured store of their driver (the seed's values)
ALIASED_DRIVERS = ("file", "s3", "swift", "http")


def build_stores(settings: Settings) -> dict[str, Store]:
    """The store instances this server has, by name and by alias (the default store included).

    Configured stores come from ``settings.stores``; ``file``, ``s3`` and ``swift`` also name
    the first configured store of that driver. Without a store named or aliased ``file``, the
    built-in file store (``file_store_dir``) is kept; the read-only http store (whose keys
    are URLs) is ``http`` unless a store of driver ``http`` is configured under another name
    (``http`` then names that one). An unknown driver or a bad setting stops start-up with a
    message naming the store.
    """
    stores: dict[str, Store] = {}
    for name, conf in settings.stores.items():
        conf = dict(conf)
        driver = conf.pop("driver", None)
        weight = conf.pop("weight", 0)
        factory = DRIVERS.get(driver) if isinstance(driver, str) else None
        if factory is None:
            raise ConfigError(f"store {name!r}: unknown driver {driver!r} "
                              f"(known: {', '.join(sorted(DRIVERS))})")
        if name == "http" and driver != "http":
            raise ConfigError("store name 'http' is reserved for the read-only http store")
        try:
            stores[name] = factory(name, conf, settings)
            stores[name].weight = int(weight)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"store {name!r} (driver {driver}): {exc}") from None
    for driver in ALIASED_DRIVERS:
        if driver not in stores:
            first = next((s for s in stores.values() if s.driver == driver), None)
            if first is not None:
                stores[driver] = first
    if "file" not in stores:
        stores["file"] = FileStore("file", settings.resolved_file_store_dir,
                                   fsync=settings.file_store_fsync,
                                   read_chunk_size=settings.chunk_size)
    if "http" not in stores:
        stores["http"] = HttpStore("http", chunk_size=settings.chunk_size)
    if settings.default_store not in stores or not stores[settings.default_store].writable:
        raise ConfigError(f"default_store {settings.default_store!r} is not a configured "
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


def unique_stores(stores: dict[str, Store]) -> list[Store]:
    """Each instance once (aliases name the same instance as its own name), the highest
    weight first (configuration order among equals)."""
    seen: dict[int, Store] = {}
    for store in stores.values():
        seen.setdefault(id(store), store)
    return sorted(seen.values(), key=lambda store: -store.weight)
