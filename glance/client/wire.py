"""The wire format both API clients speak: endpoints, v1's metadata ⇄ ``x-image-meta-*``
headers, query values and path segments, error answers → the glance exception of their
status, and request bodies streamed from files, bytes or iterables (never read whole)."""

from __future__ import annotations

import io
import os
import re
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping, Protocol, runtime_checkable
from urllib.parse import quote, urlsplit

import httpx

from glance.common import exception
from glance.domain import v1_names

CHUNK_SIZE = 1024 * 1024
OCTET_STREAM = "application/octet-stream"
META_PREFIX = "x-image-meta-"
PROPERTY_PREFIX = "x-image-meta-property-"

INT_FIELDS = v1_names("int")  # the v1 fields whose headers carry numbers
BOOL_FIELDS = v1_names("bool")  # and booleans
_TRUE = frozenset({"true", "on", "1", "yes"})
_FALSE = frozenset({"false", "off", "0", "no"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE_CHARS = re.compile(r"[\r\n\x00]")
VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?/?$")  # /v1, /v2, /v1.1 … at the end of a URL
MAX_ERROR_TEXT = 500  # characters of a non-JSON error body kept in the message


@runtime_checkable
class Readable(Protocol):
    """What an upload reads from: a binary file, or anything with ``read(size)``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""


def strip_version(url: str) -> str:
    """``url`` without a trailing ``/v2`` (``/v1``, ``/v2.0``…) or slash: the API root."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    return VERSION_SUFFIX.sub("", url.rstrip("/")).rstrip("/")


def meta_to_headers(image_meta: Mapping[str, Any]) -> dict[str, bytes]:
    """``x-image-meta-*`` request headers for ``image_meta`` (None values skipped)."""
    headers: dict[str, bytes] = {}
    for key, value in image_meta.items():
        if key == "properties":
            for prop, prop_value in (value or {}).items():
                if prop_value is not None:
                    headers[_header_name(PROPERTY_PREFIX, prop)] = _header_value(prop_value)
        elif value is not None:
            headers[_header_name(META_PREFIX, key)] = _header_value(value)
    return headers


def headers_to_meta(headers: httpx.Headers) -> dict[str, Any]:
    """The metadata dict of an image from its ``x-image-meta-*`` response headers."""
    meta: dict[str, Any] = {"properties": {}}
    for raw_name, raw_value in headers.raw:
        name = raw_name.decode("latin-1").lower()
        try:
            value = raw_value.decode("utf-8")
        except UnicodeDecodeError:
            value = raw_value.decode("latin-1")
        if name.startswith(PROPERTY_PREFIX):
            meta["properties"][name[len(PROPERTY_PREFIX):]] = value
        elif name.startswith(META_PREFIX):
            key = name[len(META_PREFIX):]
            if key in INT_FIELDS:
                if value.strip() == "":
                    continue
                try:
                    meta[key] = int(value)
                except ValueError:
                    meta[key] = value
            elif key in BOOL_FIELDS:
                lowered = value.strip().lower()
                if lowered in _TRUE or lowered in _FALSE:
                    meta[key] = lowered in _TRUE
                elif lowered:
                    meta[key] = value
            else:
                meta[key] = value
    return meta


def _header_name(prefix: str, key: Any) -> str:
    name = prefix + str(key).lower()
    if not _TOKEN.match(str(key)):
        raise exception.BadRequest(
            f"Invalid metadata key {key!r}: header names allow only ASCII letters, digits "
            f"and !#$%&'*+-.^_`|~")
    return name


def _header_value(value: Any) -> bytes:
    if isinstance(value, bool):
        text = "True" if value else "False"
    elif isinstance(value, datetime):
        text = value.isoformat()
    elif isinstance(value, bytes):
        text = value.decode("utf-8")
    else:
        text = str(value)
    if _BAD_VALUE_CHARS.search(text):
        raise exception.BadRequest(
            f"Invalid metadata value {text!r}: header values cannot contain CR, LF or NUL")
    return text.encode("utf-8")


def query_value(value: Any) -> str:
    """A query parameter's text: booleans as ``true``/``false``, times in ISO 8601."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def filter_query(filters: Mapping[str, Any] | None) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key == "properties":
            for prop, prop_value in value.items():
                if prop_value is not None:
                    query[f"property-{prop}"] = query_value(prop_value)
        else:
            query[key] = query_value(value)
    return query


def image_id_from(image: str | int) -> str:
    """The id in ``image``: a bare id, or a URI such as ``http://h:9292/v1/images/<id>``."""
    text = str(image).strip()
    if "/" not in text:
        return text
    path = urlsplit(text).path if "://" in text else text.split("?", 1)[0]
    segments = [s for s in path.split("/") if s]
    for index in range(len(segments) - 2, -1, -1):
        if segments[index] == "images":
            return segments[index + 1]
    raise exception.BadRequest(f"Not an image id or image URI: {image!r}")


def quote_segment(value: Any) -> str:
    """``value`` as one path segment (``/`` and every reserved character escaped)."""
    return quote(str(value), safe="")


def image_path(image: str | int) -> str:
    image_id = image_id_from(image)
    if not image_id:
        raise exception.BadRequest("An image id is required")
    return "/images/" + quote_segment(image_id)


def membership(entry: Any) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"member_id": entry}
    if isinstance(entry, Mapping):
        membership = {"member_id": entry["member_id"]}
        if entry.get("can_share") is not None:
            membership["can_share"] = bool(entry["can_share"])
        return membership
    raise TypeError(f"A membership is a dict with member_id (and can_share), not {entry!r}")


def error_of(response: httpx.Response, *, with_status: bool = False) -> exception.GlanceException:
    """The exception of an error answer's status, carrying the server's message (its JSON
    envelope's, else its text); ``with_status`` appends ``(HTTP 404 Not Found)`` to it."""
    status = f"{response.status_code} {response.reason_phrase}"
    message = _server_message(response)
    if message is None:  # HEAD answers carry no body: say at least what was asked for
        message = f"{response.request.method} {response.request.url.path} answered {status}"
    elif with_status:
        message = f"{message} (HTTP {status})"
    exc = exception.from_status(response.status_code, message)
    if response.status_code == 415 and response.request.headers.get(
            "content-type", "").startswith(OCTET_STREAM):
        exc = exception.InvalidDiskImage(message)  # image data refused by format inspection
    if isinstance(exc, exception.LimitExceeded):
        retry = response.headers.get("retry-after", "")
        exc.retry_after = int(retry) if retry.isdigit() else None
    return exc


def _server_message(response: httpx.Response) -> str | None:
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and error.get("message"):
                return str(error["message"])
            if isinstance(body.get("message"), str):
                return str(body["message"])
    except (ValueError, httpx.ResponseNotRead):
        pass
    try:
        return " ".join(response.text.split())[:MAX_ERROR_TEXT] or None
    except httpx.ResponseNotRead:
        return None


def stream_of(data: Any) -> tuple[bytes | Iterator[bytes], int | None]:
    """``(content, length or None)`` for image data of any accepted kind, without reading it:
    bytes, a file (binary or text mode) or anything with ``read``, or an iterable of bytes."""
    if isinstance(data, str):
        raise TypeError("image_data must be bytes, a file object or an iterable of bytes, "
                        "not str (to upload a file, pass open(path, 'rb'))")
    if isinstance(data, bytes):
        return data, len(data)
    if isinstance(data, (bytearray, memoryview)):
        view = memoryview(data).cast("B")
        return _view_chunks(view), view.nbytes
    if isinstance(data, Readable):
        if isinstance(data, io.TextIOBase) and hasattr(data, "buffer"):
            data = data.buffer  # open(path) in text mode, as the 2011 guide does
        return _file_chunks(data), remaining_size(data)
    if isinstance(data, Iterable):
        return _iter_chunks(data), None
    raise TypeError(f"Unsupported image_data of type {type(data).__name__}")


def remaining_size(fileobj: Any) -> int | None:
    """Bytes left from the current position of a seekable file, else None (pipes, sockets)."""
    try:
        if hasattr(fileobj, "seekable") and not fileobj.seekable():
            return None
        position = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(position)
    except (OSError, AttributeError, ValueError):
        return None
    if end is None:  # very old file-likes return None from seek()
        return None
    remaining: int = max(0, end - position)
    return remaining


def _file_chunks(fileobj: Readable) -> Iterator[bytes]:
    while True:
        chunk: bytes | str = fileobj.read(CHUNK_SIZE)
        if not chunk:
            return
        yield chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)


def _view_chunks(view: memoryview) -> Iterator[bytes]:
    for start in range(0, view.nbytes, CHUNK_SIZE):
        yield bytes(view[start:start + CHUNK_SIZE])


def _iter_chunks(data: Iterable[Any]) -> Iterator[bytes]:
    for chunk in data:
        if isinstance(chunk, bytes):
            yield chunk
        elif isinstance(chunk, (bytearray, memoryview)):
            yield bytes(chunk)
        else:
            raise TypeError(f"image_data yielded {type(chunk).__name__}, expected bytes")
