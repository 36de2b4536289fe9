"""Query and header values both API versions read the same way: non-negative integers,
times, sort keys and directions, octet-stream bodies."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from glance.api.transfer import has_body
from glance.common import exception
from glance.domain import SORT_DIRS, SORT_KEYS

OCTET_STREAM = "application/octet-stream"


def nonnegative_int(value: str, name: str) -> int:
    """``value`` as an integer >= 0; 400 naming the parameter otherwise."""
    try:
        number = int(value.strip())
    except ValueError:
        number = -1
    if number < 0:
        raise exception.BadRequest(f"Bad value for {name}: {value!r} (must be an integer >= 0)")
    return number


def timestamp(value: str, name: str) -> datetime:
    """An ISO 8601 time (``Z``, offsets and a space for ``+`` accepted) as naive UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
    except ValueError:
        raise exception.BadRequest(f"Invalid {name} value {value!r}: use ISO 8601") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def sort_key(key: str) -> str:
    if key not in SORT_KEYS:
        raise exception.BadRequest(f"Unsupported sort_key {key!r}. Acceptable values: "
                                   f"{', '.join(SORT_KEYS)}")
    return key


def sort_dir(direction: str) -> str:
    if direction not in SORT_DIRS:
        raise exception.BadRequest(f"Unsupported sort_dir {direction!r}. Acceptable values: "
                                   f"{', '.join(SORT_DIRS)}")
    return direction


def is_octet_stream(request: web.Request) -> bool:
    """Whether the request says its body is ``application/octet-stream``."""
    return "Content-Type" in request.headers and request.content_type == OCTET_STREAM


def has_octet_stream(request: web.Request) -> bool:
    """Whether the request has a body; 400 when it has one that is not octet-stream (v1)."""
    if not has_body(request):
        return False
    if not is_octet_stream(request):
        raise exception.BadRequest(f"Content-Type must be {OCTET_STREAM}")
    return True
