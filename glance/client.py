"""``glance.client.Client``: the Images API v1 client of the 2011 client guide, over httpx.

Bodies stream both ways in 1 MiB chunks: an upload reads its file or iterator as it is sent,
and ``get_image`` returns an iterator over the response. Nothing reads a whole image into
memory. Errors come from ``glance.common.exception``: an HTTP error status becomes the
matching exception carrying the server's message, and a network failure becomes
``ClientConnectionError``.
"""

from __future__ import annotations

import io
import json
import os
import re
from datetime import datetime
from typing import Any, Iterable, Iterator, Mapping
from urllib.parse import quote, urlsplit

import httpx

from glance import __version__
from glance.common import exception
from glance.domain import v1_names

__all__ = ["Client", "ImageBodyIterator", "DEFAULT_PORT", "DEFAULT_DOC_ROOT"]

DEFAULT_PORT = 9292
DEFAULT_DOC_ROOT = "/v1"
CHUNK_SIZE = 1024 * 1024
OCTET_STREAM = "application/octet-stream"
META_PREFIX = "x-image-meta-"
PROPERTY_PREFIX = "x-image-meta-property-"

LIST_PARAMS = frozenset({"limit", "marker", "sort_key", "sort_dir"})
INT_FIELDS = v1_names("int")  # the v1 fields whose headers carry numbers
BOOL_FIELDS = v1_names("bool")  # and booleans
_TRUE = frozenset({"true", "on", "1", "yes"})
_FALSE = frozenset({"false", "off", "0", "no"})
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_BAD_VALUE_CHARS = re.compile(r"[\r\n\x00]")
_VERSION_SEGMENT = re.compile(r"/v\d+(\.\d+)?$")
_COMPAT_KWARGS = frozenset({"creds", "configure_via_auth"})  # accepted, ignored (no auth plugins)


class ImageBodyIterator:
    """Iterator over the bytes of a downloaded image, read from the network as it goes.

    The response is closed when the iterator is exhausted, when ``close()`` is called, when
    it is used as a context manager and the block ends, or when it is garbage collected.
    """

    def __init__(self, response: httpx.Response, chunk_size: int = CHUNK_SIZE) -> None:
        self._response: httpx.Response | None = response
        self._chunks = response.iter_bytes(chunk_size)
        self.chunk_size = chunk_size

    def __iter__(self) -> ImageBodyIterator:
        return self

    def __next__(self) -> bytes:
        if self._response is None:
            raise StopIteration
        try:
            return next(self._chunks)
        except StopIteration:
            self.close()
            raise
        except httpx.TransportError as exc:
            self.close()
            raise exception.ClientConnectionError(
                f"Connection lost while downloading the image: {exc}") from exc

    def close(self) -> None:
        """Stop reading and release the connection."""
        response, self._response = self._response, None
        if response is not None:
            response.close()

    def __enter__(self) -> ImageBodyIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - never raise from a finalizer
            pass


class Client:
    """Client of a glance server's Images API v1.

    ``Client("glance.example.com", 9292)`` or ``Client("http://glance.example.com:9292")``.
    ``auth_tok`` is sent as ``x-auth-token``; ``timeout`` (seconds) bounds each network
    operation (None: wait indefinitely). Extra keywords: ``headers`` (sent with every
    request), ``ca_file``, ``cert_file``, ``key_file``, ``insecure`` (TLS settings).
    """

    def __init__(self, host: str, port: int | None = DEFAULT_PORT, use_ssl: bool = False,
                 auth_tok: str | None = None, timeout: float | None = None,
                 doc_root: str | None = DEFAULT_DOC_ROOT, **kw: Any) -> None:
        extra_headers: Mapping[str, str] = kw.pop("headers", None) or {}
        ca_file = kw.pop("ca_file", None)
        cert_file = kw.pop("cert_file", None)
        key_file = kw.pop("key_file", None)
        insecure = bool(kw.pop("insecure", False))
        unknown = set(kw) - _COMPAT_KWARGS
        if unknown:
            raise TypeError(f"Client() got unexpected keyword arguments: {sorted(unknown)}")

        self.base_url = self._base_url(host, port, use_ssl, doc_root)
        self.auth_tok = auth_tok
        verify: bool | str = True
        if insecure:
            verify = False
        elif ca_file:
            verify = ca_file
        cert: Any = None
        if cert_file:
            cert = (cert_file, key_file) if key_file else cert_file
        headers = {"User-Agent": f"glance-client/{__version__}", **extra_headers}
        self._http = httpx.Client(base_url=self.base_url, headers=headers,
                                  timeout=httpx.Timeout(timeout), verify=verify, cert=cert,
                                  follow_redirects=False)

    @staticmethod
    def _base_url(host: str, port: int | None, use_ssl: bool, doc_root: str | None) -> str:
        root = (doc_root or "").rstrip("/")
        if root and not root.startswith("/"):
            root = "/" + root
        if "://" in host:
            parts = urlsplit(host)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError(f"Not an http(s) URL: {host!r}")
            path = parts.path.rstrip("/")
            if not _VERSION_SEGMENT.search(path):
                path += root
            return f"{parts.scheme}://{parts.netloc}{path}"
        scheme = "https" if use_ssl else "http"
        if host.count(":") > 1 and not host.startswith("["):  # bare IPv6 address
            host = f"[{host}]"
        has_port = host.rsplit("]", 1)[-1].count(":") == 1  # "host:port" given as host
        netloc = host if port is None or has_port else f"{host}:{int(port)}"
        return f"{scheme}://{netloc}{root}"

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def set_auth_token(self, auth_tok: str | None) -> None:
        """Use ``auth_tok`` (or no token) for the following requests."""
        self.auth_tok = auth_tok

    # -- listing --------------------------------------------------------------------------

    def get_images(self, filters: Mapping[str, Any] | None = None,
                   **params: Any) -> list[dict[str, Any]]:
        """Brief records (id, name, formats, size, checksum, uri) of the matching images.

        ``filters``: name, status, disk_format, container_format, min_ram, min_disk,
        size_min, size_max, is_public, changes-since, protected, ``property-<k>`` (or
        ``properties={k: v}``). ``params``: limit, marker, sort_key, sort_dir. Without
        ``limit`` every page is fetched; with it, one page.
        """
        return self._list("/images", filters, params)

    def get_images_detailed(self, filters: Mapping[str, Any] | None = None,
                            **params: Any) -> list[dict[str, Any]]:
        """Full records (with ``properties``) of the matching images; see ``get_images``."""
        return self._list("/images/detail", filters, params)

    def _list(self, path: str, filters: Mapping[str, Any] | None,
              params: Mapping[str, Any]) -> list[dict[str, Any]]:
        unknown = set(params) - LIST_PARAMS
        if unknown:
            raise TypeError(f"Unknown parameters {sorted(unknown)}: use one of "
                            f"{sorted(LIST_PARAMS)}, and pass filters in the filters dict")
        query = _filter_query(filters)
        for key, value in params.items():
            if value is not None:
                query[key] = _query_value(value)
        if "limit" in query:
            page: list[dict[str, Any]] = self._json("GET", path, params=query)["images"]
            return page
        images: list[dict[str, Any]] = []
        seen_markers: set[str] = set()
        while True:
            page = self._json("GET", path, params=query)["images"]
            if not page:
                return images
            images.extend(page)
            marker = str(page[-1]["id"])
            if marker in seen_markers:  # a server that ignores the marker: stop, don't loop
                return images
            seen_markers.add(marker)
            query["marker"] = marker

    # -- one image ------------------------------------------------------------------------

    def get_image_meta(self, image: str | int) -> dict[str, Any]:
        """The image's metadata, from the headers of ``HEAD /images/<id>``."""
        response = self._send("HEAD", _image_path(image))
        return headers_to_meta(response.headers)

    def get_image(self, image: str | int,
                  chunk_size: int = CHUNK_SIZE) -> tuple[dict[str, Any], ImageBodyIterator]:
        """``(meta, chunks)``: the metadata and an iterator streaming the image's bytes."""
        response = self._send("GET", _image_path(image), stream=True)
        return headers_to_meta(response.headers), ImageBodyIterator(response, chunk_size)

    def add_image(self, image_meta: Mapping[str, Any] | None = None,
                  image_data: Any = None) -> dict[str, Any]:
        """Register a new image and upload ``image_data`` if given; the new image's record.

        ``image_data``: a file object (binary or text mode; streamed, its size sent when it
        can be known), bytes, or an iterable of bytes (sent chunked). Without data the
        image stays ``queued``.
        """
        headers = meta_to_headers(image_meta or {})
        content = self._body(image_data, headers, image_meta or {})
        image: dict[str, Any] = self._json("POST", "/images", headers=headers,
                                           content=content)["image"]
        return image

    def update_image(self, image: str | int, image_meta: Mapping[str, Any] | None = None,
                     image_data: Any = None,
                     purge_props: bool | None = None) -> dict[str, Any]:
        """Change an image's metadata, or upload data into a queued image; its record.

        ``purge_props``: whether the properties given replace the whole set. Default: only
        when ``image_meta`` has a ``properties`` key, so a name change keeps properties.
        """
        meta = image_meta or {}
        headers = meta_to_headers(meta)
        if purge_props is None:
            purge_props = meta.get("properties") is not None
        if not purge_props:
            headers["x-glance-registry-purge-props"] = b"false"
        content = self._body(image_data, headers, meta)
        record: dict[str, Any] = self._json("PUT", _image_path(image), headers=headers,
                                            content=content)["image"]
        return record

    def delete_image(self, image: str | int) -> bool:
        """Delete the image; True."""
        self._send("DELETE", _image_path(image))
        return True

    # -- members --------------------------------------------------------------------------

    def get_image_members(self, image: str | int) -> list[dict[str, Any]]:
        """``[{member_id, can_share}]`` of the image."""
        members: list[dict[str, Any]] = self._json("GET", _image_path(image) + "/members")[
            "members"]
        return members

    def get_member_images(self, member: str) -> list[dict[str, Any]]:
        """``[{image_id, can_share}]``: the images shared with ``member``."""
        shared: list[dict[str, Any]] = self._json(
            "GET", "/shared-images/" + _quote(member))["shared_images"]
        return shared

    def replace_members(self, image: str | int, *memberships: Any) -> bool:
        """Make ``memberships`` the image's whole member list; True.

        Each membership is a dict ``{"member_id": …, "can_share": …}`` or a member id;
        a single list of them is accepted too.
        """
        if len(memberships) == 1 and isinstance(memberships[0], (list, tuple)):
            memberships = tuple(memberships[0])
        body = {"memberships": [_membership(m) for m in memberships]}
        self._send("PUT", _image_path(image) + "/members", json_body=body)
        return True

    def add_member(self, image: str | int, member_id: str,
                   can_share: bool | None = None) -> bool:
        """Share the image with ``member_id`` (or change its ``can_share``); True."""
        body = None if can_share is None else {"member": {"can_share": bool(can_share)}}
        self._send("PUT", f"{_image_path(image)}/members/{_quote(member_id)}", json_body=body)
        return True

    def delete_member(self, image: str | int, member_id: str) -> bool:
        """Stop sharing the image with ``member_id``; True."""
        self._send("DELETE", f"{_image_path(image)}/members/{_quote(member_id)}")
        return True

    # -- plumbing -------------------------------------------------------------------------

    def _body(self, image_data: Any, headers: dict[str, bytes],
              meta: Mapping[str, Any]) -> bytes | Iterable[bytes] | None:
        """The request body for ``image_data``; sets Content-Type and, when known, sizes."""
        if image_data is None:
            return None
        content, length = _stream(image_data)
        headers["content-type"] = OCTET_STREAM.encode()
        if length is not None:
            headers["content-length"] = str(length).encode()
            if meta.get("size") is None:
                headers[META_PREFIX + "size"] = str(length).encode()
        return content

    def _send(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
              headers: Mapping[str, bytes] | None = None,
              content: bytes | Iterable[bytes] | None = None, json_body: Any = None,
              stream: bool = False) -> httpx.Response:
        """Send one request; raise the glance exception for an error status."""
        all_headers: dict[str, Any] = dict(headers or {})
        if self.auth_tok:
            all_headers["x-auth-token"] = self.auth_tok
        if json_body is not None:
            content = json.dumps(json_body).encode()
            all_headers["content-type"] = "application/json"
        request = self._http.build_request(method, path, params=params, headers=all_headers,
                                           content=content)
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as exc:
            raise exception.ClientConnectionError(
                f"Error talking to {self.base_url}: {exc or type(exc).__name__}") from exc
        if response.is_success:
            return response
        try:
            if stream:
                response.read()
        except httpx.TransportError:
            pass
        finally:
            response.close()
        raise _error(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise exception.ServerError(
                f"{method} {path} answered {response.status_code} with a body that is not "
                f"JSON: {response.text[:200]!r}") from exc


# -- helpers ------------------------------------------------------------------------------

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


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _filter_query(filters: Mapping[str, Any] | None) -> dict[str, str]:
    query: dict[str, str] = {}
    for key, value in (filters or {}).items():
        if value is None:
            continue
        if key == "properties":
            for prop, prop_value in value.items():
                if prop_value is not None:
                    query[f"property-{prop}"] = _query_value(prop_value)
        else:
            query[key] = _query_value(value)
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


def _quote(value: Any) -> str:
    return quote(str(value), safe="")


def _image_path(image: str | int) -> str:
    image_id = image_id_from(image)
    if not image_id:
        raise exception.BadRequest("An image id is required")
    return "/images/" + _quote(image_id)


def _membership(entry: Any) -> dict[str, Any]:
    if isinstance(entry, str):
        return {"member_id": entry}
    if isinstance(entry, Mapping):
        membership = {"member_id": entry["member_id"]}
        if entry.get("can_share") is not None:
            membership["can_share"] = bool(entry["can_share"])
        return membership
    raise TypeError(f"A membership is a dict with member_id (and can_share), not {entry!r}")


def _error(response: httpx.Response) -> exception.GlanceException:
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
            message = response.text.strip() or None
        except httpx.ResponseNotRead:
            message = None
    if message is None:  # HEAD answers carry no body: say at least what was asked for
        message = f"{response.request.method} {response.request.url.path} answered " \
                  f"{response.status_code} {response.reason_phrase}"
    exc = exception.from_status(response.status_code, message)
    if response.status_code == 415 and response.request.headers.get(
            "content-type", "").startswith(OCTET_STREAM):
        exc = exception.InvalidDiskImage(message)  # image data refused by format inspection
    if isinstance(exc, exception.LimitExceeded):
        retry = response.headers.get("retry-after", "")
        exc.retry_after = int(retry) if retry.isdigit() else None
    return exc


def _stream(data: Any) -> tuple[bytes | Iterable[bytes], int | None]:
    """``(content, length or None)`` for image data of any accepted kind, without reading it."""
    if isinstance(data, str):
        raise TypeError("image_data must be bytes, a file object or an iterable of bytes, "
                        "not str (to upload a file, pass open(path, 'rb'))")
    if isinstance(data, bytes):
        return data, len(data)
    if isinstance(data, (bytearray, memoryview)):
        view = memoryview(data).cast("B")
        return _view_chunks(view), view.nbytes
    if hasattr(data, "read"):
        if isinstance(data, io.TextIOBase) and hasattr(data, "buffer"):
            data = data.buffer  # open(path) in text mode, as the 2011 guide does
        return _file_chunks(data), _remaining_size(data)
    if isinstance(data, Iterable):
        return _iter_chunks(data), None
    raise TypeError(f"Unsupported image_data of type {type(data).__name__}")


def _remaining_size(fileobj: Any) -> int | None:
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


def _file_chunks(fileobj: Any) -> Iterator[bytes]:
    while True:
        chunk = fileobj.read(CHUNK_SIZE)
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
