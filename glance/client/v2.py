"""``V2Client``: a client of the Images API v2 over httpx, used by the ``glance`` command.

It speaks the requests today's clients send (see python-glanceclient) and streams image data
both ways in 1 MiB chunks: an upload reads its source as it is sent, a download is an
``ImageDownload`` that checks the image's hash (``os_hash_value``, else MD5) when the last
byte has arrived. Errors are the classes of ``glance.common.exception``: an HTTP error
status becomes the matching exception carrying the server's message and the status, a
network failure ``ClientConnectionError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from glance.client.base import BaseClient
from glance.client.download import ImageDownload
from glance.client.wire import (
    OCTET_STREAM,
    Readable,
    query_value,
    quote_segment,
    stream_of,
    strip_version,
)
from glance.common import exception
from glance.domain import V2_VIRTUAL_KEYS, v2_fields

DEFAULT_PAGE_SIZE = 200  # python-glanceclient's page size
JSON_PATCH = "application/openstack-images-v2.1-json-patch"
#: The image schema's base properties: a JSON-patch ``replace``s them even when unset.
BASE_PROPERTIES: frozenset[str] = frozenset(f.name for f in v2_fields()) | V2_VIRTUAL_KEYS


class V2Client(BaseClient):
    """Client of a glance server's Images API v2.

    ``endpoint`` is the server's root URL (``http://host:9292``; a trailing ``/v2`` is
    dropped: the rest is ``base_url``). ``token`` is sent as ``X-Auth-Token``; ``timeout``
    (seconds) bounds each network operation (None: wait); ``verify`` is httpx's TLS setting
    (False, True or a CA bundle path).
    """

    def __init__(self, endpoint: str, token: str | None = None, *,
                 timeout: float | None = None, verify: bool | str = True,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(strip_version(endpoint), token, timeout=timeout, verify=verify,
                         headers=headers, status_in_errors=True)

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
            query += [(key, query_value(v)) for v in values if v is not None]
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
        return self._patch(image_id, ops)

    def _patch(self, image_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        return self._json("PATCH", _image_path(image_id), content=json.dumps(ops).encode(),
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
        content, _ = stream_of(data)  # the size sent is the one declared
        self._send("PUT", path, headers=headers, content=content)

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
        self._send("PUT", f"{_image_path(image_id)}/tags/{quote_segment(tag)}")

    def remove_tag(self, image_id: str, tag: str) -> None:
        """Remove a tag from the image (NotFound if it does not have it)."""
        self._send("DELETE", f"{_image_path(image_id)}/tags/{quote_segment(tag)}")

    def list_members(self, image_id: str) -> list[dict[str, Any]]:
        """The image's members: ``{image_id, member_id, status, created_at, …}``."""
        members = self._json("GET", _image_path(image_id) + "/members").get("members", [])
        return [member for member in members if isinstance(member, dict)]

    def get_member(self, image_id: str, member_id: str) -> dict[str, Any]:
        """One member of the image."""
        return self._json("GET", f"{_image_path(image_id)}/members/{quote_segment(member_id)}")

    def add_member(self, image_id: str, member_id: str) -> dict[str, Any]:
        """Share the image with the project ``member_id``; the new member (``pending``)."""
        return self._json("POST", _image_path(image_id) + "/members",
                          json_body={"member": member_id})

    def update_member(self, image_id: str, member_id: str, status: str) -> dict[str, Any]:
        """Set a member's status (``accepted``, ``rejected``, ``pending``); the member."""
        return self._json("PUT", f"{_image_path(image_id)}/members/{quote_segment(member_id)}",
                          json_body={"status": status})

    def remove_member(self, image_id: str, member_id: str) -> None:
        """Stop sharing the image with ``member_id``."""
        self._send("DELETE", f"{_image_path(image_id)}/members/{quote_segment(member_id)}")

    # -- locations (servers with show_multiple_locations; v2.17) -------------------------

    def add_location(self, image_id: str, url: str, metadata: Mapping[str, Any] | None = None,
                     validation_data: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Register the data at ``url`` as a location of the image (a queued image turns
        active); the updated record."""
        value: dict[str, Any] = {"url": url, "metadata": dict(metadata or {})}
        if validation_data:
            value["validation_data"] = dict(validation_data)
        return self._patch(image_id, [{"op": "add", "path": "/locations/-", "value": value}])

    def update_location(self, image_id: str, url: str,
                        metadata: Mapping[str, Any]) -> dict[str, Any]:
        """Set the metadata of the image's location ``url`` (NotFound for a URL it does not
        have); the updated record."""
        locations = self._locations_of(image_id)
        if url not in [location.get("url") for location in locations]:
            raise exception.NotFound(f"Image {image_id} has no location {url}")
        value = [{"url": location["url"], "metadata": dict(metadata)
                  if location["url"] == url else location.get("metadata", {})}
                 for location in locations]
        return self._patch(image_id, [{"op": "replace", "path": "/locations", "value": value}])

    def delete_locations(self, image_id: str, urls: Iterable[str]) -> dict[str, Any]:
        """Remove the image's locations ``urls`` (NotFound for one it does not have); the
        updated record."""
        current = [location.get("url") for location in self._locations_of(image_id)]
        missing = sorted(set(urls) - set(current))
        if missing:
            raise exception.NotFound(f"Image {image_id} has no location {', '.join(missing)}")
        indices = sorted({current.index(url) for url in urls}, reverse=True)
        return self._patch(image_id, [{"op": "remove", "path": f"/locations/{index}"}
                                      for index in indices])

    def add_image_location(self, image_id: str, url: str,
                           validation_data: Mapping[str, str] | None = None) -> None:
        """v2.17: give a queued image the data at ``url``; the server reads (and with
        ``validation_data`` checks) it in a ``location_import`` task."""
        self._send("POST", _image_path(image_id) + "/locations",
                   json_body={"url": url, "validation_data": dict(validation_data or {})})

    def _locations_of(self, image_id: str) -> list[dict[str, Any]]:
        locations = self.get_image(image_id).get("locations")
        if not isinstance(locations, list):
            raise exception.Forbidden("The server does not show image locations "
                                      "(show_multiple_locations is off)")
        return [location for location in locations if isinstance(location, dict)]

    # -- discovery ----------------------------------------------------------------------

    def import_info(self) -> dict[str, Any]:
        """``GET /v2/info/import``: the import methods the server offers."""
        return self._json("GET", "/v2/info/import")

    def stores_info(self, detail: bool = False) -> dict[str, Any]:
        """``GET /v2/info/stores`` (or ``/detail``, admin only): the server's stores."""
        return self._json("GET", "/v2/info/stores/detail" if detail else "/v2/info/stores")


def _pointer(key: str) -> str:
    """``key`` as a JSON-pointer segment (``~`` and ``/`` escaped)."""
    return key.replace("~", "~0").replace("/", "~1")


def _image_path(image_id: str) -> str:
    """``/v2/images/<id>``, the id quoted as one segment."""
    if not str(image_id).strip():
        raise exception.BadRequest("An image id is required")
    return "/v2/images/" + quote_segment(image_id)
