"""v2 image members: the owner shares a shared image; the member accepts or rejects it."""

from __future__ import annotations

from aiohttp import web

from glance.api.util import context, service
from glance.api.v2.bodies import answer, image_id, json_body, no_body
from glance.api.v2.views import member_view
from glance.common import exception


async def members(request: web.Request) -> web.Response:
    no_body(request)
    found = await service(request).sharing.member_list(context(request), image_id(request))
    return answer({"members": [member_view(m) for m in found],
                   "schema": "/v2/schemas/members"})


async def add_member(request: web.Request) -> web.Response:
    body = await json_body(request)
    member_id = body.get("member") if isinstance(body, dict) else None
    if not isinstance(member_id, str) or not member_id:
        raise exception.BadRequest('The body must be {"member": "<project id>"}')
    member = await service(request).sharing.add_member(context(request), image_id(request),
                                                       member_id)
    return answer(member_view(member))


async def show_member(request: web.Request) -> web.Response:
    no_body(request)
    member = await service(request).sharing.get_member(context(request), image_id(request),
                                                       request.match_info["member_id"])
    return answer(member_view(member))


async def update_member(request: web.Request) -> web.Response:
    body = await json_body(request)
    status = body.get("status") if isinstance(body, dict) else None
    if not isinstance(status, str):
        raise exception.BadRequest('The body must be {"status": "accepted|rejected|pending"}')
    member = await service(request).sharing.set_member_status(
        context(request), image_id(request), request.match_info["member_id"], status)
    return answer(member_view(member))


async def remove_member(request: web.Request) -> web.Response:
    no_body(request)
    await service(request).sharing.remove_member(context(request), image_id(request),
                                                 request.match_info["member_id"])
    return web.Response(status=204)
