"""The image service: the layer that decides. ``ImageService`` (``facade``) is what the
APIs call; its rooms are ``core`` (registry runner, stores, visible reads), ``access`` (who
may do what, field rules, quotas), ``pipeline`` (the one upload path), ``cache`` (the
per-node image cache: what it serves and fills, the prefetcher, the cache API), ``data``
(upload and download), ``imports`` (v1 locations and copy-from, v2 stage and import), ``members``,
``copies``, ``locations`` (v2's locations: shown, PATCHed, added by URL), ``recovery`` and
``health`` (readiness) — each depending only on rooms listed
before it."""

from glance.service.data import Download, Upload
from glance.service.facade import ImageService
from glance.service.imports import Source
from glance.service.locations import ShownLocation
from glance.service.requests import (
    Change,
    Claims,
    LocationEdit,
    NewImage,
    NewLocation,
    StoreInfo,
)

__all__ = ["Change", "Claims", "Download", "ImageService", "LocationEdit", "NewImage",
           "NewLocation", "ShownLocation", "Source", "StoreInfo", "Upload"]
