"""The per-node image cache: verified copies of images kept in remote stores, on local disk
(``entries``), filled from a download or by the prefetcher (``fill``). It knows ids, sizes
and hashes; what is cached and when an entry is stale is the service's decision
(``glance.service.cache``)."""

from __future__ import annotations

from glance.cache.entries import CachedImage, Identity, ImageCache, valid_id
from glance.cache.fill import Fill
from glance.config import Settings

__all__ = ["CachedImage", "Fill", "Identity", "ImageCache", "build_image_cache", "valid_id"]


def build_image_cache(settings: Settings) -> ImageCache | None:
    """The cache of ``settings`` (None when ``image_cache_enabled`` is off)."""
    if not settings.image_cache_enabled:
        return None
    return ImageCache(settings.resolved_image_cache_dir, settings.image_cache_max_size,
                      settings.image_cache_stall_time)
