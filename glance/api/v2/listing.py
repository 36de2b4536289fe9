"""GET /v2/images: query parameters → an ImageQuery, and the page with its links."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from multidict import MultiMapping

from glance.api.params import nonnegative_int, sort_dir, sort_key, timestamp
from glance.api.util import context, service, settings
from glance.api.v2.bodies import answer, no_body
from glance.api.v2.views import image_view
from glance.common import exception
from glance.domain import (
    ANY_MEMBERSHIP,
    BY_NAME,
    MEMBER_STATUSES,
    STATUSES,
    TIME_OPERATORS,
    VISIBILITIES,
    ImageQuery,
    v2_fields,
)

# query keys that are not extra-property filters
_LIST_CONTROLS = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir"})
_IN_FILTERS = tuple(f.name for f in v2_fields("in"))
_EXACT_FILTERS = tuple(f.name for f in v2_fields("exact"))
_INT_FILTERS = tuple(f.name for f in v2_fields("int"))  # exact integers (size also by range)
_TIME_FILTERS = tuple(f.name for f in v2_fields("time"))
_KNOWN = {*_LIST_CONTROLS, *_IN_FILTERS, *_EXACT_FILTERS, *_INT_FILTERS, *_TIME_FILTERS,
          "visibility", "member_status", "tag", "size_min", "size_max", "os_hidden",
          "protected"}


def _split_op(value: str, allowed: tuple[str, ...]) -> tuple[str, str]:
    """``("gt", "2020-…")`` from ``gt:2020-…``; values without a known operator are ``eq``."""
    head, sep, rest = value.partition(":")
    if sep and head in allowed:
        return head, rest
    return "eq", value


def _in_values(text: str) -> list[str]:
    """Values of ``in:a,"b, c",d`` — double quotes protect commas, backslash escapes."""
    values, current, quoted, escaped, was_quoted = [], [], False, False, False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            quoted, was_quoted = not quoted, True
        elif char == "," and not quoted:
            values.append("".join(current) if was_quoted else "".join(current).strip())
            current, was_quoted = [], False
        else:
            current.append(char)
    if quoted:
        raise exception.BadRequest(f"Invalid in: filter value {text!r}: unbalanced quotes")
    values.append("".join(current) if was_quoted else "".join(current).strip())
    return values


def _sorting(params: MultiMapping[str]) -> list[tuple[str, str]]:
    keys, dirs = params.getall("sort_key", []), params.getall("sort_dir", [])
    if "sort" in params:
        if keys or dirs:
            raise exception.BadRequest("The 'sort' parameter cannot be combined with "
                                       "sort_key or sort_dir")
        order = []
        for part in params["sort"].split(","):
            key, _, direction = part.strip().partition(":")
            order.append((key.strip(), direction.strip() or "desc"))
    else:
        if len(dirs) > 1 and len(dirs) != len(keys):
            raise exception.BadRequest("Number of sort dirs does not match the number of sort "
                                       "keys")
        keys = keys or ["created_at"]
        if len(dirs) <= 1:
            dirs = [dirs[0] if dirs else "desc"] * len(keys)
        order = list(zip(keys, dirs, strict=True))
    order = [(sort_key(key), sort_dir(direction)) for key, direction in order]
    if all(key != "created_at" for key, _ in order):
        order.append(("created_at", order[-1][1]))
    return order


def _filter(query: ImageQuery, key: str, value: str) -> None:
    """An ``in:``/``eq:`` filter on ``key``."""
    op, rest = _split_op(value, ("in", "eq", *TIME_OPERATORS))
    if op == "in":
        query.any_of[key] = _in_values(rest)
    elif op == "eq":
        query.exact[key] = rest
    else:
        raise exception.BadRequest(f"Unable to filter on {key} with operator {op}")
    if key == "status":
        for status in query.any_of.get(key, [query.exact.get(key)]):
            if status not in STATUSES:
                raise exception.BadRequest(f"Invalid status value: {status}")


def parse_list_query(request: web.Request) -> ImageQuery:
    """An ImageQuery from GET /v2/images parameters (400 for any bad value)."""
    params = request.query
    conf = settings(request)
    # v2's list: shared images the viewer accepted, community images only when asked for
    query = ImageQuery(limit=conf.limit_param_default, membership="accepted", os_hidden=False,
                       community=False)
    if "limit" in params:
        query.limit = min(nonnegative_int(params["limit"], "limit"), conf.api_limit_max)
    query.marker = params.get("marker") or None
    query.sort = _sorting(params)
    for key in _IN_FILTERS:
        if key in params:
            _filter(query, key, params[key])
    for key in _EXACT_FILTERS:
        if key in params:
            query.exact[key] = params[key]
    for key in _INT_FILTERS:
        if key in params:
            query.exact[key] = nonnegative_int(params[key], key, BY_NAME[key].maximum)
    if "visibility" in params:
        visibility = params["visibility"]
        if visibility not in (*VISIBILITIES, "all"):
            raise exception.BadRequest(f"Invalid visibility value: {visibility}")
        query.visibility = None if visibility == "all" else visibility
        query.community = visibility == "community"
    if "member_status" in params:
        status = params["member_status"]
        if status not in (*MEMBER_STATUSES, "all"):
            raise exception.BadRequest(f"Invalid status value: {status}")
        query.membership = ANY_MEMBERSHIP if status == "all" else status
    query.tags = params.getall("tag", [])
    largest = BY_NAME["size"].maximum
    if "size_min" in params:
        query.size_min = nonnegative_int(params["size_min"], "size_min", largest)
    if "size_max" in params:
        query.size_max = nonnegative_int(params["size_max"], "size_max", largest)
    for key in _TIME_FILTERS:
        for value in params.getall(key, []):
            op, rest = _split_op(value, TIME_OPERATORS)
            if ":" in value and op == "eq" and not value.startswith("eq:"):
                head = value.split(":", 1)[0]
                if head.isalpha():
                    raise exception.BadRequest(f"Invalid operator {head!r} for {key}")
            query.times.append((key, op, timestamp(rest, key)))
    if "os_hidden" in params:
        hidden = params["os_hidden"].lower()
        if hidden not in ("true", "false"):
            raise exception.BadRequest(f"Invalid value for os_hidden: {params['os_hidden']}")
        query.os_hidden = hidden == "true"
    if "protected" in params:
        if params["protected"] not in ("true", "false"):
            raise exception.BadRequest(f"Invalid value for protected: {params['protected']} "
                                       f"(use true or false)")
        query.exact["protected"] = params["protected"] == "true"
    if "changes-since" in params:
        raise exception.BadRequest("The changes-since filter is not available in v2; use "
                                   "updated_at=gte:<time>")
    for key, value in params.items():
        if key not in _KNOWN:
            query.properties[key] = value
    return query


def _link(params: MultiMapping[str], marker: str | None) -> str:
    """``/v2/images?…`` with every parameter kept (repeated ones too) and ``marker``."""
    items = [(k, v) for k, v in params.items() if k != "marker"]
    if marker is not None:
        items.append(("marker", marker))
    return "/v2/images" + ("?" + urlencode(items) if items else "")


async def index(request: web.Request) -> web.Response:
    no_body(request)
    query = parse_list_query(request)
    images = await service(request).list_images(context(request), query)
    svc = service(request)
    weights = svc.store_weights()
    body: dict[str, Any] = {"images": [image_view(i, weights, svc.shown_locations(i))
                                       for i in images],
                            "first": _link(request.query, None),
                            "schema": "/v2/schemas/images"}
    if images and len(images) == query.limit:
        body["next"] = _link(request.query, images[-1].id)
    return answer(body)
