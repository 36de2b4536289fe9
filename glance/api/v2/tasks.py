"""The legacy tasks API (POST/GET /v2/tasks, GET /v2/tasks/{id}): JSON ⇄ the service's
import tasks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from glance.api.params import nonnegative_int
from glance.api.util import context, service, settings
from glance.api.v2.bodies import answer, json_body, no_body
from glance.api.v2.views import create_request, timestamp
from glance.common import exception
from glance.domain import Task
from glance.service import NewImage
from glance.service.tasks import TaskQuery

_LIST_PARAMS = frozenset({"type", "status", "sort_key", "sort_dir", "limit", "marker"})


def legacy_task_view(task: Task, detail: bool = True) -> dict[str, Any]:
    """A task as /v2/tasks shows it (the list leaves out input, result and message)."""
    body: dict[str, Any] = {
        "id": task.id, "type": task.type, "status": task.status, "owner": task.owner,
        "created_at": timestamp(task.created_at), "updated_at": timestamp(task.updated_at),
        "expires_at": None, "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task"}
    if detail:
        body["input"] = task.input
        body["result"] = {"image_id": task.image_id} if task.status == "success" else None
        body["message"] = task.message
    return body


async def create(request: web.Request) -> web.Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise exception.BadRequest('The body must be {"type": "import", "input": {...}}')
    task_input = body.get("input")
    properties = task_input.get("image_properties") if isinstance(task_input, dict) else None
    new_id, fields, extra = create_request(properties if isinstance(properties, dict) else {})
    task = await service(request).create_task(context(request), body.get("type"), task_input,
                                              NewImage(fields, extra, new_id,
                                                       amazon_pairs=False))
    return answer(legacy_task_view(task), 201,
                  {"Location": f"/v2/tasks/{task.id}"})


async def show(request: web.Request) -> web.Response:
    no_body(request)
    task = await service(request).get_task(context(request), request.match_info["task_id"])
    return answer(legacy_task_view(task))


async def index(request: web.Request) -> web.Response:
    no_body(request)
    params = request.query
    unknown = sorted(set(params) - _LIST_PARAMS)
    if unknown:
        raise exception.BadRequest(f"Unknown task list parameter(s): {', '.join(unknown)}")
    conf = settings(request)
    query = TaskQuery(filters={k: params[k] for k in ("type", "status") if k in params},
                      sort_key=params.get("sort_key", "created_at"),
                      sort_dir=params.get("sort_dir", "desc"),
                      limit=min(nonnegative_int(params["limit"], "limit"), conf.api_limit_max)
                      if "limit" in params else conf.limit_param_default,
                      marker=params.get("marker") or None)
    found = await service(request).list_tasks(context(request), query)
    base = [(k, v) for k, v in params.items() if k != "marker"]
    body: dict[str, Any] = {"tasks": [legacy_task_view(t, detail=False) for t in found],
                            "first": "/v2/tasks" + ("?" + urlencode(base) if base else ""),
                            "schema": "/v2/schemas/tasks"}
    if found and len(found) == query.limit:
        body["next"] = "/v2/tasks?" + urlencode([*base, ("marker", found[-1].id)])
    return answer(body)
