"""``Client``: the Images API v1 client of the 2011 client guide, over httpx, and the
iterator a download returns."""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import httpx

from glance import __version__
from glance.client.wire import (
    CHUNK_SIZE,
    META_PREFIX,
    OCTET_STREAM,
    error_of,
    filter_query,
    headers_to_meta,
    image_path,
    membership,
    meta_to_headers,
    query_value,
    quote_segment,
    stream_of,
)
from glance.common import exception

DEFAULT_PORT = 9292
DEFAULT_DOC_ROOT = "/v1"
LIST_PARAMS = frozenset({"limit", "marker", "sort_key", "sort_dir"})
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
        query = filter_query(filters)
        for key, value in params.items():
            if value is not None:
                query[key] = query_value(value)
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
        response = self._send("HEAD", image_path(image))
        return headers_to_meta(response.headers)

    def get_image(self, image: str | int,
                  chunk_size: int = CHUNK_SIZE) -> tuple[dict[str, Any], ImageBodyIterator]:
        """``(meta, chunks)``: the metadata and an iterator streaming the image's bytes."""
        response = self._send("GET", image_path(image), stream=True)
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
        record: dict[str, Any] = self._json("PUT", image_path(image), headers=headers,
                                            content=content)["image"]
        return record

    def delete_image(self, image: str | int) -> bool:
        """Delete the image; True."""
        self._send("DELETE", image_path(image))
        return True

    # -- members --------------------------------------------------------------------------

    def get_image_members(self, image: str | int) -> list[dict[str, Any]]:
        """``[{member_id, can_share}]`` of the image."""
        members: list[dict[str, Any]] = self._json("GET", image_path(image) + "/members")[
            "members"]
        return members

    def get_member_images(self, member: str) -> list[dict[str, Any]]:
        """``[{image_id, can_share}]``: the images shared with ``member``."""
        shared: list[dict[str, Any]] = self._json(
            "GET", "/shared-images/" + quote_segment(member))["shared_images"]
        return shared

    def replace_members(self, image: str | int, *memberships: Any) -> bool:
        """Make ``memberships`` the image's whole member list; True.

        Each membership is a dict ``{"member_id": …, "can_share": …}`` or a member id;
        a single list of them is accepted too.
        """
        if len(memberships) == 1 and isinstance(memberships[0], (list, tuple)):
            memberships = tuple(memberships[0])
        body = {"memberships": [membership(m) for m in memberships]}
        self._send("PUT", image_path(image) + "/members", json_body=body)
        return True

    def add_member(self, image: str | int, member_id: str,
                   can_share: bool | None = None) -> bool:
        """Share the image with ``member_id`` (or change its ``can_share``); True."""
        body = None if can_share is None else {"member": {"can_share": bool(can_share)}}
        self._send("PUT", f"{image_path(image)}/members/{quote_segment(member_id)}", json_body=body)
        return True

    def delete_member(self, image: str | int, member_id: str) -> bool:
        """Stop sharing the image with ``member_id``; True."""
        self._send("DELETE", f"{image_path(image)}/members/{quote_segment(member_id)}")
        return True

    # -- plumbing -------------------------------------------------------------------------

    def _body(self, image_data: Any, headers: dict[str, bytes],
              meta: Mapping[str, Any]) -> bytes | Iterable[bytes] | None:
        """The request body for ``image_data``; sets Content-Type and, when known, sizes."""
        if image_data is None:
            return None
        content, length = stream_of(image_data)
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
        raise error_of(response)

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(method, path, **kwargs)
        try:
            return response.json()
        except ValueError as exc:
            raise exception.ServerError(
                f"{method} {path} answered {response.status_code} with a body that is not "
                f"JSON: {response.text[:200]!r}") from exc
