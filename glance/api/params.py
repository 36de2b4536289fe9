"""Query and header values both API versions read the same way: text the registry can
store, non-negative integers, times, sort keys and directions, octet-stream bodies."""

from __future__ import annotations

from datetime import datetime, timezone

from aiohttp import web

from glance.api.errors import Handler
from glance.api.transfer import has_body
from glance.common import exception
from glance.domain import BIGINT_MAX, SORT_DIRS, SORT_KEYS, is_storable

OCTET_STREAM = "application/octet-stream"


def check_storable(text: str, what: str) -> None:
    """400 when ``text`` holds a NUL or a character that is not UTF-8 (a lone surrogate)."""
    if not is_storable(text):
        raise exception.BadRequest(f"{what} must be UTF-8 text without NUL characters")


@web.middleware
async def text_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """400 for a request whose headers, path or query hold text no registry stores."""
    for name, value in request.raw_headers:
        if not value.isascii() or b"\0" in value:
            check_storable(value.decode("utf-8", "surrogateescape"),
                           f"Header {name.decode('latin-1')}")
    check_storable(request.path, "The path")
    check_storable(request.query_string, "The query string")
    for key, text in request.query.items():
        check_storable(key + text, f"Query parameter {key[:40]!r}")
    return await handler(request)


def nonnegative_int(value: str, name: str, maximum: int = BIGINT_MAX) -> int:
    """``value`` as an integer from 0 to ``maximum``; 400 naming the parameter otherwise."""
    try:
        number = int(value.strip())
    except ValueError:
        number = -1
    if not 0 <= number <= maximum:
        raise exception.BadRequest(
            f"Bad value for {name}: {value[:40]!r} (must be an integer from 0 to {maximum})")
    return number


def timestamp(value: str, name: str) -> datetime:
    """An ISO 8601 time (``Z``, offsets and a space for ``+`` accepted) as naive UTC."""
    try:
        moment = datetime.fromisoformat(value.strip().replace(" ", "+").replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise exception.BadRequest(
            f"Invalid {name} value {value[:40]!r}: use an ISO 8601 time") from None
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
