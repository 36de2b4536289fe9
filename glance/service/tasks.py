"""The legacy tasks API (POST/GET /v2/tasks): an ``import`` task is a web-download import
of a new image, run by the import machinery; tasks are listed and read here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from glance.common import exception
from glance.context import RequestContext
from glance.domain import TASK_STATUSES, Image, Task
from glance.service import imports
from glance.service.core import Core
from glance.stores.http import check_public_url, check_url

LEGACY_TYPE = "import"
TASK_TYPES: tuple[str, ...] = ("import", "api_image_import", "location_import")
TASK_SORT_KEYS: tuple[str, ...] = ("created_at", "updated_at", "id", "type", "status")


@dataclass
class TaskQuery:
    """A page of GET /v2/tasks."""

    filters: dict[str, str]
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    limit: int = 25
    marker: str | None = None


async def check_import_input(core: Core, task_type: Any, task_input: Any) -> str:
    """The URL an ``import`` task fetches; 400 for another type or a malformed input."""
    if task_type != LEGACY_TYPE:
        raise exception.BadRequest(f"Task type {task_type!r} is not supported: use 'import'")
    if not isinstance(task_input, dict):
        raise exception.BadRequest("Task input must be an object with import_from, "
                                   "import_from_format and image_properties")
    url = task_input.get("import_from")
    if not isinstance(url, str):
        raise exception.BadRequest("Task input needs import_from, an http(s) URL")
    if not isinstance(task_input.get("import_from_format"), str):
        raise exception.BadRequest("Task input needs import_from_format, a disk format")
    if not isinstance(task_input.get("image_properties"), dict):
        raise exception.BadRequest("Task input needs image_properties, an object")
    check_url(url)
    await check_public_url(url, core.settings.web_download_allow_private)
    return url


async def start_import_task(core: Core, ctx: RequestContext, image: Image, url: str,
                            task_input: Mapping[str, Any]) -> Task:
    """Fill the new ``image`` from ``url`` in the default store, as an ``import`` task."""
    targets = imports.import_targets(core, None, False)
    return await imports.start_import(core, ctx, image, "web-download", url, targets, True,
                                      task_type=LEGACY_TYPE, task_input=dict(task_input))


async def get_task(core: Core, ctx: RequestContext, task_id: str) -> Task:
    """A task the caller may see: an admin any, others their project's."""
    return await core.db(core.registry.get_task, task_id,
                         owner=None if ctx.is_admin else (ctx.owner or ""))


async def list_tasks(core: Core, ctx: RequestContext, query: TaskQuery) -> list[Task]:
    """A page of the tasks the caller may see (400 for a bad filter or sort)."""
    if query.sort_key not in TASK_SORT_KEYS:
        raise exception.BadRequest(f"Invalid sort_key {query.sort_key!r}: one of "
                                   f"{', '.join(TASK_SORT_KEYS)}")
    if query.sort_dir not in ("asc", "desc"):
        raise exception.BadRequest(f"Invalid sort_dir {query.sort_dir!r}: asc or desc")
    for key, value in query.filters.items():
        allowed = {"type": TASK_TYPES, "status": TASK_STATUSES}.get(key)
        if allowed is None:
            raise exception.BadRequest(f"Unknown task filter {key!r}: type or status")
        if value not in allowed:
            raise exception.BadRequest(f"Invalid {key} {value!r}: one of "
                                       f"{', '.join(allowed)}")
    return await core.db(core.registry.list_tasks,
                         owner=None if ctx.is_admin else (ctx.owner or ""),
                         filters=query.filters, sort_key=query.sort_key,
                         sort_dir=query.sort_dir, limit=query.limit, marker=query.marker)
