"""A small client of the Images API v2 over httpx, used by the ``glance`` command.

It speaks the requests today's clients send (see python-glanceclient) and streams image data
both ways in 1 MiB chunks: an upload reads its source as it is sent, a download is an
iterator over the response that checks the image's hash (``os_hash_value``, else MD5) when
the last byte has arrived. Errors are the classes of ``glance.common.exception``: an HTTP
error status becomes the matching exception carrying the server's message, a network
failure ``ClientConnectionError``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any, Protocol, runtime_checkable
from urllib.parse import quote, urlencode, urlsplit

import httpx

from glance import __version__
from glance.common import exception

__all__ = ["V2Client", "ImageDownload", "CorruptDownload", "BASE_PROPERTIES",
           "SORT_KEYS", "SORT_DIRS", "DEFAULT_PAGE_SIZE", "CHUNK_SIZE", "strip_version",
           "file_size", "Readable"]

CHUNK_SIZE = 1024 * 1024
DEFAULT_PAGE_SIZE = 200  # python-glanceclient's page size
OCTET_STREAM = "application/octet-stream"
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
SORT_KEYS = ("name", "status", "container_format", "disk_format", "size", "id", "created_at",
             "updated_at")
SORT_DIRS = ("asc", "desc")
#: The image schema's base properties: a JSON-patch ``replace``s them even when unset.
BASE_PROPERTIES = frozenset({
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum", "os_hash_algo",
    "os_hash_value", "owner", "size", "virtual_size", "container_format", "disk_format",
    "created_at", "updated_at", "tags", "direct_url", "min_ram", "min_disk", "self", "file",
    "stores", "schema", "locations"})
_VERSION_SUFFIX = re.compile(r"/v\d+(\.\d+)?/?$")


@runtime_checkable
class Readable(Protocol):
    """What an upload reads from: a binary file, or anything with ``read(size)``."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to ``size`` bytes; ``b""`` at the end."""


class CorruptDownload(exception.GlanceException):
    """The downloaded bytes do not match the image's size or hash."""

    code = 500
    default_message = "Corrupt image download"


def strip_version(url: str) -> str:
    """``url`` without a trailing ``/v2`` (``/v1``, ``/v2.0``…) or slash: the API root."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"Not an http(s) URL: {url!r}")
    return _VERSION_SUFFIX.sub("", url.rstrip("/")).rstrip("/")


class ImageDownload:
    """The bytes of an image, read from the network as they are iterated.

    ``image`` is the image's record (read just before the data), ``size`` the length the
    server announced (None if it did not). When the iteration ends, the bytes are checked
    against the announced length and the image's hash, and ``CorruptDownload`` is raised on
    a mismatch. The response is closed at the end, on ``close()`` or when used as a context
    manager.
    """

    def __init__(self, response: httpx.Response, image: dict[str, Any],
                 allow_md5_fallback: bool = False) -> None:
        self._response: httpx.Response | None = response
        self._chunks = response.iter_bytes(CHUNK_SIZE)
        self.image = image
        length = response.headers.get("content-length")
        self.size: int | None = int(length) if length and length.isdigit() else None
        self.received = 0
        self._hasher, self._expected, self._algorithm = _verifier(
            image, response.headers.get("content-md5"), allow_md5_fallback)

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            chunk = next(self._chunks)
        except StopIteration:
            self.close()
            self._check()
            raise
        except httpx.HTTPError as exc:
            self.close()
            raise exception.ClientConnectionError(
                f"Connection lost while downloading image {self.image.get('id')}: "
                f"{exc or type(exc).__name__}") from exc
        self.received += len(chunk)
        if self._hasher is not None:
            self._hasher.update(chunk)
        return chunk

    def _check(self) -> None:
        if self.size is not None and self.received != self.size:
            raise CorruptDownload(f"Corrupt image download. Received {self.received} of "
                                  f"{self.size} bytes")
        if self._hasher is not None:
            computed = self._hasher.hexdigest()
            if computed != self._expected:
                what = "Hash" if self._algorithm != "md5" else "Checksum"
                raise CorruptDownload(f"Corrupt image download. {what} was {computed} "
                                      f"expected {self._expected}")

    def close(self) -> None:
        """Stop reading and release the connection."""
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def __enter__(self) -> ImageDownload:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _verifier(image: Mapping[str, Any], content_md5: str | None,
              allow_md5_fallback: bool) -> tuple[Any, str | None, str | None]:
    """``(hasher, expected hex digest, algorithm)``: the image's own hash first, as
    python-glanceclient checks it; MD5 of ``checksum`` or Content-MD5 otherwise."""
    algorithm, value = image.get("os_hash_algo"), image.get("os_hash_value")
    if value and algorithm:
        try:
            return hashlib.new(str(algorithm)), str(value), str(algorithm)
        except ValueError:
            if not allow_md5_fallback:
                raise CorruptDownload(f"The image's hash algorithm {algorithm!r} is not "
                                      f"available here (allow the MD5 fallback to use the "
                                      f"checksum instead)") from None
    md5 = image.get("checksum") or content_md5
    if md5:
        return hashlib.md5(usedforsecurity=False), str(md5), "md5"
    return None, None, None


class V2Client:
    """Client of a glance server's Images API v2.

    ``endpoint`` is the server's root URL (``http://host:9292``; a trailing ``/v2`` is
    dropped). ``token`` is sent as ``X-Auth-Token``; ``timeout`` (seconds) bounds each
    network operation (None: wait); ``verify`` is httpx's TLS setting (False, True or a CA
    bundle path).
    """

    def __init__(self, endpoint: str, token: str | None = None, *,
                 timeout: float | None = None, verify: bool | str = True,
                 headers: Mapping[str, str] | None = None) -> None:
        self.endpoint = strip_version(endpoint)
        all_headers = {"User-Agent": f"glance-client/{__version__}", **(headers or {})}
        if token:
            all_headers["X-Auth-Token"] = token
        self._http = httpx.Client(base_url=self.endpoint, headers=all_headers,
                                  timeout=httpx.Timeout(timeout), verify=verify,
                                  follow_redirects=False)

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> V2Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- images -------------------------------------------------------------------------

    def list_images(self, filters: Mapping[str, Any] | None = None, *,
                    sort_keys: Sequence[str] = (), sort_dirs: Sequence[str] = (),
                    sort: str | None = None, limit: int | None = None,
                    page_size: int | None = None,
                    marker: str | None = None) -> Iterator[dict[str, Any]]:
        """The matching images, page after page (following ``next``) up to ``limit``.

        ``filters`` are query parameters (a list value repeats the parameter, as ``tag``;
        booleans become ``true``/``false``). ``sort`` (``key:dir,…``) and ``sort_keys``/
        ``sort_dirs`` are the two sort syntaxes of the API. ``page_size`` images are asked
        for per request (default 200, fewer when ``limit`` is smaller).
        """
        if limit is not None and limit <= 0:
            return
        size = page_size or DEFAULT_PAGE_SIZE
        if limit is not None:
            size = min(size, limit)
        query: list[tuple[str, str]] = [("limit", str(size))]
        for key, value in (filters or {}).items():
            values = value if isinstance(value, (list, tuple)) else [value]
            query += [(key, _query_value(v)) for v in values if v is not None]
        if sort is not None:
            query.append(("sort", sort))
        query += [("sort_key", key) for key in sort_keys]
        query += [("sort_dir", direction) for direction in sort_dirs]
        if marker:
            query.append(("marker", marker))
        url: str | None = "/v2/images?" + urlencode(query)
        seen: set[str] = set()
        remaining = limit
        while url is not None and url not in seen:
            seen.add(url)
            body = self._json("GET", url)
            for image in body.get("images", []):
                yield image
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return
            url = body.get("next")

    def get_image(self, image_id: str) -> dict[str, Any]:
        """The image's record."""
        return self._json("GET", _image_path(image_id))

    def create_image(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Create an image record (``queued``) from ``fields``; the new record."""
        return self._json("POST", "/v2/images", json_body=dict(fields))

    def update_image(self, image_id: str, changes: Mapping[str, Any],
                     remove: Iterable[str] = ()) -> dict[str, Any]:
        """Set ``changes`` and remove the properties ``remove`` (those the image has and
        ``changes`` does not set); the updated record.

        The JSON patch is made as python-glanceclient makes it: ``replace`` for base
        properties and properties the image has, ``add`` for new ones.
        """
        current = self.get_image(image_id)
        ops: list[dict[str, Any]] = []
        for key, value in changes.items():
            if key in current and current[key] == value:
                continue
            op = "replace" if key in BASE_PROPERTIES or key in current else "add"
            ops.append({"op": op, "path": "/" + _pointer(key), "value": value})
        for key in dict.fromkeys(remove):
            if key in current and key not in changes:
                ops.append({"op": "remove", "path": "/" + _pointer(key)})
        if not ops:
            return current
        return self._json("PATCH", _image_path(image_id),
                          content=json.dumps(ops).encode(),
                          headers={"Content-Type": JSON_PATCH})

    def delete_image(self, image_id: str) -> None:
        """Delete the image."""
        self._send("DELETE", _image_path(image_id))

    def deactivate_image(self, image_id: str) -> None:
        """Make an active image's data unavailable to non-admins (``deactivated``)."""
        self._send("POST", _image_path(image_id) + "/actions/deactivate")

    def reactivate_image(self, image_id: str) -> None:
        """Make a deactivated image active again."""
        self._send("POST", _image_path(image_id) + "/actions/reactivate")

    # -- data ---------------------------------------------------------------------------

    def upload(self, image_id: str, data: Readable | Iterable[bytes],
               size: int | None = None, store: str | None = None) -> None:
        """Stream ``data`` (a binary file or an iterable of bytes) into a queued image.

        ``size`` is declared in ``x-openstack-image-size`` and sent as Content-Length (else
        the body is chunked); ``store`` names the store to write to.
        """
        self._put_data(_image_path(image_id) + "/file", data, size, store)

    def stage(self, image_id: str, data: Readable | Iterable[bytes],
              size: int | None = None) -> None:
        """Stream ``data`` into the image's staging area (for ``glance-direct`` import)."""
        self._put_data(_image_path(image_id) + "/stage", data, size, None)

    def _put_data(self, path: str, data: Readable | Iterable[bytes], size: int | None,
                  store: str | None) -> None:
        headers = {"Content-Type": OCTET_STREAM}
        if size is not None:
            headers["x-openstack-image-size"] = str(size)
            headers["Content-Length"] = str(size)
        if store:
            headers["X-Image-Meta-Store"] = store
        chunks = _file_chunks(data) if isinstance(data, Readable) else _iter_chunks(data)
        self._send("PUT", path, headers=headers, content=chunks)

    def download(self, image_id: str, prefer: Sequence[str] = (), *,
                 allow_md5_fallback: bool = False) -> ImageDownload | None:
        """The image's data as an ``ImageDownload`` (verified as it ends), or None when the
        image has no data. ``prefer`` lists stores to read from first."""
        image = self.get_image(image_id)
        path = _image_path(image_id) + "/file"
        if prefer:
            path += "?" + urlencode({"prefer": ",".join(prefer)})
        response = self._send("GET", path, stream=True)
        if response.status_code == 204:
            response.close()
            return None
        return ImageDownload(response, image, allow_md5_fallback)

    def import_image(self, image_id: str, method: str, *, uri: str | None = None,
                     store: str | None = None, stores: Sequence[str] | None = None,
                     all_stores: bool | None = None, allow_failure: bool = True,
                     remote_region: str | None = None, remote_image_id: str | None = None,
                     remote_service_interface: str | None = None) -> None:
        """Start an import (``glance-direct``, ``web-download``, ``copy-image``, …).

        ``store`` goes in ``X-Image-Meta-Store``; ``stores``/``all_stores`` in the body,
        with ``all_stores_must_succeed`` false when ``allow_failure`` (as
        python-glanceclient sends it).
        """
        body: dict[str, Any] = {"method": {"name": method}}
        if uri:
            body["method"]["uri"] = uri
        if remote_region and remote_image_id:
            body["method"].update(glance_region=remote_region, glance_image_id=remote_image_id)
            if remote_service_interface:
                body["method"]["glance_service_interface"] = remote_service_interface
        if stores:
            body["stores"] = list(stores)
        if all_stores:
            body["all_stores"] = True
        if (stores or all_stores) and allow_failure:
            body["all_stores_must_succeed"] = False
        headers = {"X-Image-Meta-Store": store} if store else None
        self._send("POST", _image_path(image_id) + "/import", json_body=body, headers=headers)

    # -- tags and members ---------------------------------------------------------------

    def add_tag(self, image_id: str, tag: str) -> None:
        """Tag the image (adding a tag it has is not an error)."""
        self._send("PUT", f"{_image_path(image_id)}/tags/{_quote(tag)}")

    def remove_tag(self, image_id: str, tag: str) -> None:
        """Remove a tag from the image (NotFound if it does not have it)."""
        self._send("DELETE", f"{_image_path(image_id)}/tags/{_quote(tag)}")

    def list_members(self, image_id: str) -> list[dict[str, Any]]:
        """The image's members: ``{image_id, member_id, status, created_at, …}``."""
        members = self._json("GET", _image_path(image_id) + "/members").get("members", [])
        return [member for member in members if isinstance(member, dict)]

    def get_member(self, image_id: str, member_id: str) -> dict[str, Any]:
        """One member of the image."""
        return self._json("GET", f"{_image_path(image_id)}/members/{_quote(member_id)}")

    def add_member(self, image_id: str, member_id: str) -> dict[str, Any]:
        """Share the image with the project ``member_id``; the new member (``pending``)."""
        return self._json("POST", _image_path(image_id) + "/members",
                          json_body={"member": member_id})

    def update_member(self, image_id: str, member_id: str, status: str) -> dict[str, Any]:
        """Set a member's status (``accepted``, ``rejected``, ``pending``); the member."""
        return self._json("PUT", f"{_image_path(image_id)}/members/{_quote(member_id)}",
                          json_body={"status": status})

    def remove_member(self, image_id: str, member_id: str) -> None:
        """Stop sharing the image with ``member_id``."""
        self._send("DELETE", f"{_image_path(image_id)}/members/{_quote(member_id)}")

    # -- discovery ----------------------------------------------------------------------

    def import_info(self) -> dict[str, Any]:
        """``GET /v2/info/import``: the import methods the server offers."""
        return self._json("GET", "/v2/info/import")

    def stores_info(self, detail: bool = False) -> dict[str, Any]:
        """``GET /v2/info/stores`` (or ``/detail``, admin only): the server's stores."""
        return self._json("GET", "/v2/info/stores/detail" if detail else "/v2/info/stores")

    # -- plumbing -----------------------------------------------------------------------

    def _send(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
              content: bytes | Iterable[bytes] | None = None, json_body: Any = None,
              stream: bool = False) -> httpx.Response:
        """Send one request; raise the glance exception for an error status."""
        all_headers = dict(headers or {})
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers["Content-Type"] = "application/json"
        request = self._http.build_request(method, url, headers=all_headers, content=content)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.HTTPError as exc:
            raise exception.ClientConnectionError(
                f"Error talking to {self.endpoint}: {exc or type(exc).__name__}") from exc
        if response.is_success:
            return response
        try:
            if stream:
                response.read()
        except httpx.HTTPError:
            pass
        finally:
            response.close()
        raise _error(response)

    def _json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object a request answers (ServerError for anything else)."""
        response = self._send(method, url, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise exception.ServerError(
                f"{method} {url} answered {response.status_code} with a body that is not "
                f"a JSON object: {response.text[:200]!r}")
        return body


def _error(response: httpx.Response) -> exception.GlanceException:
    """The exception for an error response, carrying the server's message."""
    message: str | None = None
    try:
        body = response.json()
        if isinstance(body, dict):
            error = body.get("error")
            if isinstance(error, dict) and error.get("message"):
                message = str(error["message"])
            elif isinstance(body.get("message"), str):
                message = body["message"]
    except (ValueError, httpx.ResponseNotRead):
        pass
    if message is None:
        try:
            message = " ".join(response.text.split())[:500] or None
        except httpx.ResponseNotRead:
            message = None
    if message is None:
        message = f"{response.request.method} {response.request.url.path} answered"
    return exception.from_status(
        response.status_code, f"{message} (HTTP {response.status_code} "
                              f"{response.reason_phrase})")


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _quote(value: str) -> str:
    return quote(str(value), safe="")


def _pointer(key: str) -> str:
    """``key`` as a JSON-pointer segment (``~`` and ``/`` escaped)."""
    return key.replace("~", "~0").replace("/", "~1")


def _image_path(image_id: str) -> str:
    if not str(image_id).strip():
        raise exception.BadRequest("An image id is required")
    return "/v2/images/" + _quote(image_id)


def _file_chunks(fileobj: Readable) -> Iterator[bytes]:
    while True:
        chunk = fileobj.read(CHUNK_SIZE)
        if not chunk:
            return
        yield bytes(chunk)


def _iter_chunks(data: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in data:
        if chunk:
            yield bytes(chunk)


def file_size(fileobj: IO[bytes]) -> int | None:
    """Bytes left from the current position of a seekable file, else None (pipes)."""
    try:
        if not fileobj.seekable():
            return None
        position = fileobj.tell()
        end = fileobj.seek(0, os.SEEK_END)
        fileobj.seek(position)
    except (OSError, AttributeError, ValueError):
        return None
    return max(0, end - position)
