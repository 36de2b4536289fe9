"""``Client``: the Images API v1 client of the 2011 client guide, over httpx."""

from __future__ import annotations

from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

from glance.client.base import BaseClient
from glance.client.download import ImageBodyIterator
from glance.client.wire import (
    CHUNK_SIZE,
    META_PREFIX,
    OCTET_STREAM,
    VERSION_SUFFIX,
    filter_query,
    headers_to_meta,
    image_path,
    membership,
    meta_to_headers,
    query_value,
    quote_segment,
    stream_of,
)

DEFAULT_PORT = 9292
DEFAULT_DOC_ROOT = "/v1"
LIST_PARAMS = frozenset({"limit", "marker", "sort_key", "sort_dir"})
_COMPAT_KWARGS = frozenset({"creds", "configure_via_auth"})  # accepted, ignored (no auth plugins)


class Client(BaseClient):
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

        verify: bool | str = True
        if insecure:
            verify = False
        elif ca_file:
            verify = ca_file
        cert: Any = None
        if cert_file:
            cert = (cert_file, key_file) if key_file else cert_file
        super().__init__(self._base_url(host, port, use_ssl, doc_root), auth_tok,
                         timeout=timeout, verify=verify, cert=cert, headers=extra_headers)

    @property
    def auth_tok(self) -> str | None:
        """The token sent as ``x-auth-token`` (None: none)."""
        return self.token

    @auth_tok.setter
    def auth_tok(self, auth_tok: str | None) -> None:
        self.token = auth_tok

    def set_auth_token(self, auth_tok: str | None) -> None:
        """Use ``auth_tok`` (or no token) for the following requests."""
        self.token = auth_tok

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
            if not VERSION_SUFFIX.search(path):
                path += root
            return f"{parts.scheme}://{parts.netloc}{path}"
        scheme = "https" if use_ssl else "http"
        if host.count(":") > 1 and not host.startswith("["):  # bare IPv6 address
            host = f"[{host}]"
        has_port = host.rsplit("]", 1)[-1].count(":") == 1  # "host:port" given as host
        netloc = host if port is None or has_port else f"{host}:{int(port)}"
        return f"{scheme}://{netloc}{root}"

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
