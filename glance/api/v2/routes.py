"""Routes are data: every v2 path with its handlers, in one table."""

from __future__ import annotations

from aiohttp import web

from glance.api.errors import Handler
from glance.api.v2 import cache as c
from glance.api.v2 import discovery as d
from glance.api.v2 import images as h
from glance.api.v2 import listing as ls
from glance.api.v2 import members as m
from glance.api.v2 import metadefs as md
from glance.api.v2 import metadefs_items as mdi
from glance.api.v2 import tasks as t
from glance.api.v2.schemas import SCHEMAS

_SCHEMA_NAMES = "|".join(SCHEMAS)

ROUTES: tuple[tuple[str, dict[str, Handler]], ...] = (
    ("/schemas/{name:" + _SCHEMA_NAMES + "}", {"GET": d.schema}),
    ("/info/import", {"GET": d.info_import}),
    ("/info/stores", {"GET": d.info_stores}),
    ("/info/stores/detail", {"GET": d.info_stores_detail}),
    ("/info/usage", {"GET": d.info_usage}),
    ("/images", {"GET": ls.index, "POST": h.create}),
    ("/images/{image_id}", {"GET": h.show, "PATCH": h.update, "DELETE": h.delete}),
    ("/images/{image_id}/file", {"GET": h.download, "PUT": h.upload}),
    ("/images/{image_id}/actions/deactivate", {"POST": h.deactivate}),
    ("/images/{image_id}/actions/reactivate", {"POST": h.reactivate}),
    ("/images/{image_id}/tags/{tag}", {"PUT": h.add_tag, "DELETE": h.remove_tag}),
    ("/images/{image_id}/members", {"GET": m.members, "POST": m.add_member}),
    ("/images/{image_id}/members/{member_id}",
     {"GET": m.show_member, "PUT": m.update_member, "DELETE": m.remove_member}),
    ("/images/{image_id}/stage", {"PUT": h.stage}),
    ("/images/{image_id}/import", {"POST": h.import_image}),
    ("/images/{image_id}/tasks", {"GET": h.tasks}),
    ("/images/{image_id}/locations", {"GET": h.locations, "POST": h.add_location}),
    ("/stores/{store}/{image_id}", {"DELETE": h.delete_from_store}),
    ("/tasks", {"GET": t.index, "POST": t.create}),
    ("/tasks/{task_id}", {"GET": t.show}),
    ("/cache", {"GET": c.listing, "DELETE": c.clear}),
    ("/cache/{image_id}", {"PUT": c.enqueue, "DELETE": c.remove}),
    ("/metadefs/resource_types", {"GET": md.list_resource_types}),
    ("/metadefs/namespaces", {"GET": md.list_namespaces, "POST": md.create_namespace}),
    ("/metadefs/namespaces/{namespace}",
     {"GET": md.show_namespace, "PUT": md.update_namespace, "DELETE": md.delete_namespace}),
    ("/metadefs/namespaces/{namespace}/resource_types",
     {"GET": md.list_associations, "POST": md.associate}),
    ("/metadefs/namespaces/{namespace}/resource_types/{resource_type}",
     {"DELETE": md.dissociate}),
    ("/metadefs/namespaces/{namespace}/objects",
     {"GET": mdi.list_objects, "POST": mdi.create_object, "DELETE": mdi.delete_objects}),
    ("/metadefs/namespaces/{namespace}/objects/{object}",
     {"GET": mdi.show_object, "PUT": mdi.update_object, "DELETE": mdi.delete_object}),
    ("/metadefs/namespaces/{namespace}/properties",
     {"GET": mdi.list_properties, "POST": mdi.create_property,
      "DELETE": mdi.delete_properties}),
    ("/metadefs/namespaces/{namespace}/properties/{property}",
     {"GET": mdi.show_property, "PUT": mdi.update_property, "DELETE": mdi.delete_property}),
    ("/metadefs/namespaces/{namespace}/tags",
     {"GET": mdi.list_tags, "POST": mdi.create_tags, "DELETE": mdi.delete_tags}),
    ("/metadefs/namespaces/{namespace}/tags/{tag}",
     {"GET": mdi.show_tag, "POST": mdi.create_tag, "PUT": mdi.update_tag,
      "DELETE": mdi.delete_tag}),
)


def add_routes(app: web.Application) -> None:
    """Serve v2 under /v2."""
    for path, methods in ROUTES:
        resource = app.router.add_resource("/v2" + path)
        for method, handler in methods.items():
            resource.add_route(method, handler)
