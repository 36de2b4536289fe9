"""v2 metadata definitions inside a namespace: objects, properties and tags (each listed,
created, shown, replaced, deleted one by one or all at once)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from glance.api.util import context, service
from glance.api.v2.bodies import answer, no_body
from glance.api.v2.metadefs import definition_body, item_page, namespace_name, next_link
from glance.api.v2.metadefs_views import object_view, property_view, tag_view
from glance.domain import metadefs
from glance.domain.metadefs import ObjectDef, PropertyDef, TagDef

APPEND_HEADER = "X-Openstack-Append"


def _name(request: web.Request, key: str) -> str:
    return request.match_info[key]


def _created(body: dict[str, Any]) -> web.Response:
    return answer(body, 201)


def _gone() -> web.Response:
    return web.Response(status=204)


# -- objects ---------------------------------------------------------------------------------

async def list_objects(request: web.Request) -> web.Response:
    no_body(request)
    name, page = namespace_name(request), item_page(request)
    found = await service(request).metadefs.items(context(request), name, ObjectDef, page)
    return answer({"objects": [object_view(name, o) for o in found],
                   "schema": "/v2/schemas/metadefs/objects",
                   **next_link(request, len(found), page.limit,
                               found[-1].name if found else None)})


async def create_object(request: web.Request) -> web.Response:
    name = namespace_name(request)
    item = metadefs.object_def(await definition_body(request))
    added = await service(request).metadefs.add(context(request), name, item)
    return _created(object_view(name, added))


async def show_object(request: web.Request) -> web.Response:
    no_body(request)
    name = namespace_name(request)
    found = await service(request).metadefs.item(context(request), name, ObjectDef,
                                                 _name(request, "object"))
    return answer(object_view(name, found))


async def update_object(request: web.Request) -> web.Response:
    name, old = namespace_name(request), _name(request, "object")
    item = metadefs.object_def(await definition_body(request), name=old)
    changed = await service(request).metadefs.replace(context(request), name, old, item)
    return answer(object_view(name, changed))


async def delete_object(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.remove(context(request), namespace_name(request),
                                           ObjectDef, _name(request, "object"))
    return _gone()


async def delete_objects(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.clear(context(request), namespace_name(request),
                                          ObjectDef)
    return _gone()


# -- properties ------------------------------------------------------------------------------

async def list_properties(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).metadefs.items(context(request), namespace_name(request),
                                                  PropertyDef)
    return answer({"properties": {p.name: dict(p.schema) for p in found}})


async def create_property(request: web.Request) -> web.Response:
    item = metadefs.property_def(await definition_body(request))
    added = await service(request).metadefs.add(context(request), namespace_name(request),
                                                item)
    return _created(property_view(added))


async def show_property(request: web.Request) -> web.Response:
    no_body(request)
    name, wanted = namespace_name(request), _name(request, "property")
    resource_type = request.query.get("resource_type")
    rooms = service(request).metadefs
    if resource_type:
        found = await rooms.prefixed_property(context(request), name, wanted, resource_type)
    else:
        found = await rooms.item(context(request), name, PropertyDef, wanted)
    return answer(property_view(found))


async def update_property(request: web.Request) -> web.Response:
    name, old = namespace_name(request), _name(request, "property")
    item = metadefs.property_def(await definition_body(request), name=old)
    changed = await service(request).metadefs.replace(context(request), name, old, item)
    return answer(property_view(changed))


async def delete_property(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.remove(context(request), namespace_name(request),
                                           PropertyDef, _name(request, "property"))
    return _gone()


async def delete_properties(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.clear(context(request), namespace_name(request),
                                          PropertyDef)
    return _gone()


# -- tags ------------------------------------------------------------------------------------

async def list_tags(request: web.Request) -> web.Response:
    no_body(request)
    page = item_page(request)
    found = await service(request).metadefs.items(context(request), namespace_name(request),
                                                  TagDef, page)
    return answer({"tags": [tag_view(t) for t in found],
                   **next_link(request, len(found), page.limit,
                               found[-1].name if found else None)})


async def create_tags(request: web.Request) -> web.Response:
    """Several tags at once: they replace the namespace's tags, or are added to them when
    the X-Openstack-Append header is true."""
    names = metadefs.tag_names(await definition_body(request))
    append = request.headers.get(APPEND_HEADER, "").strip().lower() in ("true", "1", "yes")
    added = await service(request).metadefs.add_many(
        context(request), namespace_name(request), TagDef, [TagDef(n) for n in names], append)
    return _created({"tags": [tag_view(t) for t in added]})


async def create_tag(request: web.Request) -> web.Response:
    no_body(request)
    tag = TagDef(metadefs.tag_name(_name(request, "tag")))
    added = await service(request).metadefs.add(context(request), namespace_name(request), tag)
    return _created(tag_view(added))


async def show_tag(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).metadefs.item(context(request), namespace_name(request),
                                                 TagDef, _name(request, "tag"))
    return answer(tag_view(found))


async def update_tag(request: web.Request) -> web.Response:
    body = await definition_body(request)
    tag = TagDef(metadefs.tag_name(body.get("name", _name(request, "tag"))))
    changed = await service(request).metadefs.replace(context(request), namespace_name(request),
                                                      _name(request, "tag"), tag)
    return answer(tag_view(changed))


async def delete_tag(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.remove(context(request), namespace_name(request), TagDef,
                                           _name(request, "tag"))
    return _gone()


async def delete_tags(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).metadefs.clear(context(request), namespace_name(request), TagDef)
    return _gone()
