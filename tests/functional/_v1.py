"""Helpers shared by the raw-HTTP functional tests of the Images API v1."""

from __future__ import annotations

import hashlib
import time
import uuid
from typing import Any, Iterable, Mapping

import httpx

OCTET = {"Content-Type": "application/octet-stream"}


def unique(prefix: str = "img") -> str:
    """A name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def meta_headers(meta: Mapping[str, Any] | None = None,
                 properties: Mapping[str, Any] | None = None) -> dict[str, str]:
    """``x-image-meta-*`` request headers for ``meta`` and ``properties``."""
    headers: dict[str, str] = {}
    for key, value in (meta or {}).items():
        headers[f"x-image-meta-{key}"] = _text(value)
    for key, value in (properties or {}).items():
        headers[f"x-image-meta-property-{key}"] = _text(value)
    return headers


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def create(http: httpx.Client, meta: Mapping[str, Any] | None = None,
           properties: Mapping[str, Any] | None = None, data: bytes | None = None,
           headers: Mapping[str, str] | None = None, prefix: str = "/v1") -> httpx.Response:
    """POST an image; ``data`` (if given) is sent as an octet-stream body."""
    all_headers = meta_headers(meta, properties)
    if data is not None:
        all_headers.update(OCTET)
    all_headers.update(headers or {})
    return http.post(f"{prefix}/images", headers=all_headers, content=data)


def create_ok(http: httpx.Client, meta: Mapping[str, Any] | None = None,
              properties: Mapping[str, Any] | None = None, data: bytes | None = None,
              headers: Mapping[str, str] | None = None,
              default_formats: bool = True) -> dict[str, Any]:
    """POST an image and return its record; fail the test unless 201.

    Unless ``default_formats`` is false, the image gets ``raw``/``bare`` formats where
    ``meta`` names none.
    """
    meta = dict(meta or {})
    meta.setdefault("name", unique())
    if default_formats:
        meta.setdefault("disk_format", "raw")
        meta.setdefault("container_format", "bare")
    resp = create(http, meta, properties, data, headers)
    assert resp.status_code == 201, (resp.status_code, resp.text)
    return resp.json()["image"]


def head(http: httpx.Client, image_id: str, prefix: str = "/v1") -> httpx.Response:
    return http.head(f"{prefix}/images/{image_id}")


def image_meta(resp: httpx.Response) -> dict[str, Any]:
    """The ``x-image-meta-*`` headers of ``resp``: fields, and properties under 'properties'."""
    meta: dict[str, Any] = {"properties": {}}
    for name, value in resp.headers.items():
        name = name.lower()
        if name.startswith("x-image-meta-property-"):
            meta["properties"][name[len("x-image-meta-property-"):]] = value
        elif name.startswith("x-image-meta-"):
            meta[name[len("x-image-meta-"):]] = value
    return meta


def status_of(http: httpx.Client, image_id: str) -> str | None:
    resp = head(http, image_id)
    if resp.status_code != 200:
        return None
    return resp.headers.get("x-image-meta-status")


def wait_status(http: httpx.Client, image_id: str, wanted: str, timeout: float = 10.0) -> str | None:
    """Poll HEAD until the image has status ``wanted``; return the last status seen."""
    deadline = time.monotonic() + timeout
    seen = status_of(http, image_id)
    while seen != wanted and time.monotonic() < deadline:
        time.sleep(0.1)
        seen = status_of(http, image_id)
    return seen


def assert_error(resp: httpx.Response, status: int, *mentions: str) -> dict[str, Any]:
    """``resp`` is an error ``status`` with the JSON envelope whose message names ``mentions``."""
    assert resp.status_code == status, (resp.status_code, resp.text[:2000])
    if resp.request.method == "HEAD":
        return {}
    assert resp.headers.get("content-type", "").startswith("application/json"), \
        (resp.headers.get("content-type"), resp.text[:500])
    body = resp.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert error["code"] == status, error
    assert isinstance(error["title"], str) and error["title"], error
    assert isinstance(error["message"], str) and error["message"], error
    for word in mentions:
        assert word.lower() in error["message"].lower(), (word, error["message"])
    return error


def ids(images: Iterable[Mapping[str, Any]]) -> list[str]:
    return [image["id"] for image in images]
