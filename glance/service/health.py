"""Readiness: does the registry answer, and does each store? Each check is timed and bounded
by ``readiness_timeout``; a check that fails or is too slow makes the service not ready."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable

from glance.service.core import Core
from glance.stores import unique_stores

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Check:
    """One dependency's answer: ``ok`` or ``down`` (with why), and how long it took."""

    name: str
    kind: str  # "registry" or "store"
    ok: bool
    seconds: float
    error: str | None = None


async def _timed(name: str, kind: str, probe: Callable[[], Awaitable[object]],
                 timeout: float) -> Check:
    started = time.monotonic()
    try:
        await asyncio.wait_for(probe(), timeout)
    except TimeoutError:
        return Check(name, kind, False, time.monotonic() - started,
                     f"no answer within {timeout:g} s")
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        LOG.warning("readiness: %s %s is down: %s", kind, name, detail)
        return Check(name, kind, False, time.monotonic() - started, detail[:300])
    return Check(name, kind, True, time.monotonic() - started)


async def readiness(core: Core) -> list[Check]:
    """The registry's and each store's answer, checked at the same time. Stores whose keys
    are URLs (``http``) are other people's servers, not ours: they are not checked."""
    timeout = core.settings.readiness_timeout
    stores = [s for s in unique_stores(core.stores) if not s.keys_are_urls]
    if core.staging is not None:
        stores.append(core.staging)
    checks = [_timed("registry", "registry", lambda: core.db(core.registry.ping), timeout)]
    checks += [_timed(store.name, "store", store.check, timeout) for store in stores]
    return list(await asyncio.gather(*checks))
