"""v2 metadata definitions: namespaces and resource types (their objects, properties and tags
are in ``metadefs_items``). Handlers only translate; the service decides."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from glance.api import params
from glance.api.util import context, service, settings
from glance.api.v2.bodies import answer, json_body, no_body
from glance.api.v2.metadefs_views import (
    NAMESPACES_PATH,
    association_view,
    definition_view,
    namespace_path,
    namespace_view,
    resource_type_view,
)
from glance.common import exception
from glance.domain import metadefs


def namespace_name(request: web.Request) -> str:
    return request.match_info["namespace"]


async def definition_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object, refusing the keys only the server writes (403)."""
    body = await json_body(request)
    if not isinstance(body, dict):
        raise exception.BadRequest("The body must be a JSON object")
    metadefs.refuse_read_only(body)
    return body


def _query(request: web.Request) -> metadefs.NamespaceQuery:
    query = request.query
    limit = settings(request).limit_param_default
    if "limit" in query:
        limit = params.nonnegative_int(query["limit"], "limit")
    sort_key = query.get("sort_key", "created_at")
    if sort_key not in metadefs.NAMESPACE_SORT_KEYS:
        raise exception.BadRequest(f"Unsupported sort_key {sort_key!r}. Acceptable values: "
                                   f"{', '.join(metadefs.NAMESPACE_SORT_KEYS)}")
    visibility = query.get("visibility")
    if visibility is not None and visibility not in metadefs.NAMESPACE_VISIBILITIES:
        raise exception.BadRequest(f"Invalid visibility value: {visibility}")
    return metadefs.NamespaceQuery(
        limit=min(limit, settings(request).api_limit_max), marker=query.get("marker"),
        sort_key=sort_key, sort_dir=params.sort_dir(query.get("sort_dir", "desc")),
        visibility=visibility,
        resource_types=tuple(t for t in query.get("resource_types", "").split(",") if t))


def item_page(request: web.Request) -> metadefs.ItemPage:
    """Which objects or tags a list request asks for: ``limit``, ``marker`` (a name),
    ``sort_key`` (name, created_at, updated_at) and ``sort_dir`` (asc unless said)."""
    query = request.query
    sort_key = query.get("sort_key", "name")
    if sort_key not in metadefs.ITEM_SORT_KEYS:
        raise exception.BadRequest(f"Unsupported sort_key {sort_key!r}. Acceptable values: "
                                   f"{', '.join(metadefs.ITEM_SORT_KEYS)}")
    limit = None
    if "limit" in query:
        limit = min(params.nonnegative_int(query["limit"], "limit"),
                    settings(request).api_limit_max)
    return metadefs.ItemPage(limit=limit, marker=query.get("marker"), sort_key=sort_key,
                             sort_dir=params.sort_dir(query.get("sort_dir", "asc")))


def next_link(request: web.Request, count: int, limit: int | None,
              last: str | None) -> dict[str, str]:
    """``{"next": …}`` when a page is full: the same request from after ``last``."""
    if limit is None or not count or count < limit or last is None:
        return {}
    kept = [(k, v) for k, v in request.query.items() if k != "marker"]
    return {"next": f"{request.rel_url.raw_path}?{urlencode([*kept, ('marker', last)])}"}


async def list_namespaces(request: web.Request) -> web.Response:
    no_body(request)
    query = _query(request)
    found = await service(request).metadefs.list_namespaces(context(request), query)
    kept = [(k, v) for k, v in request.query.items() if k != "marker"]
    body: dict[str, Any] = {
        "namespaces": [definition_view(d, detail=False) for d in found],
        "first": NAMESPACES_PATH + (f"?{urlencode(kept)}" if kept else ""),
        "schema": "/v2/schemas/metadefs/namespaces"}
    if found and len(found) == query.limit:
        marker = found[-1].namespace.namespace
        body["next"] = f"{NAMESPACES_PATH}?{urlencode([*kept, ('marker', marker)])}"
    return answer(body)


async def create_namespace(request: web.Request) -> web.Response:
    definition = metadefs.definition(await definition_body(request))
    created = await service(request).metadefs.create(context(request), definition)
    return answer(definition_view(created), 201,
                  {"Location": namespace_path(created.namespace.namespace)})


async def show_namespace(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).metadefs.show(context(request), namespace_name(request),
                                                 request.query.get("resource_type"))
    return answer(definition_view(found))


async def update_namespace(request: web.Request) -> web.Response:
    fields = metadefs.namespace_fields(await definition_body(request),
                                       name=namespace_name(request))
    updated = await service(request).metadefs.update(context(request),
                                                     namespace_name(request), fields)
    return answer(namespace_view(updated))


async def delete_namespace(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.delete(context(request), namespace_name(request))
    return web.Response(status=204)


async def list_resource_types(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).metadefs.resource_types()
    return answer({"resource_types": [resource_type_view(t) for t in found]})


async def list_associations(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).metadefs.associations(context(request),
                                                         namespace_name(request))
    return answer({"resource_type_associations": [association_view(a) for a in found]})


async def associate(request: web.Request) -> web.Response:
    association = metadefs.association(await definition_body(request))
    created = await service(request).metadefs.associate(context(request),
                                                        namespace_name(request), association)
    return answer(association_view(created), 201)


async def dissociate(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.dissociate(context(request), namespace_name(request),
                                               request.match_info["resource_type"])
    return web.Response(status=204)
