"""Helpers shared by the raw-HTTP functional tests of the Images API v2."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import jsonschema

from tests.functional._v1 import assert_error, ids, md5, unique  # noqa: F401  (re-exported)

OCTET = {"Content-Type": "application/octet-stream"}
PATCH21 = {"Content-Type": "application/openstack-images-v2.1-json-patch"}
PATCH20 = {"Content-Type": "application/openstack-images-v2.0-json-patch"}


def as_project(project: str, admin: bool = False) -> dict[str, str]:
    """Headers that make a noauth request come from ``project`` (a non-admin by default)."""
    return {"X-Project-Id": project, "X-Roles": "admin" if admin else "member"}


def new_project() -> str:
    return "proj-" + uuid.uuid4().hex[:10]


def create(http: httpx.Client, headers: dict[str, str] | None = None,
           **body: Any) -> dict[str, Any]:
    """POST /v2/images with raw/bare formats and a unique name unless given; 201 or fail."""
    body.setdefault("name", unique("v2"))
    body.setdefault("disk_format", "raw")
    body.setdefault("container_format", "bare")
    resp = http.post("/v2/images", json=body, headers=headers)
    assert resp.status_code == 201, (resp.status_code, resp.text)
    return resp.json()


def upload(http: httpx.Client, image_id: str, data: bytes,
           headers: dict[str, str] | None = None) -> httpx.Response:
    return http.put(f"/v2/images/{image_id}/file", content=data,
                    headers={**OCTET, **(headers or {})})


def active(http: httpx.Client, data: bytes = b"some image data",
           headers: dict[str, str] | None = None, **body: Any) -> dict[str, Any]:
    """A new active image holding ``data``."""
    image = create(http, headers=headers, **body)
    resp = upload(http, image["id"], data, headers)
    assert resp.status_code == 204, resp.text
    return show(http, image["id"], headers)


def show(http: httpx.Client, image_id: str,
         headers: dict[str, str] | None = None) -> dict[str, Any]:
    resp = http.get(f"/v2/images/{image_id}", headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def patch(http: httpx.Client, image_id: str, ops: list[dict[str, Any]],
          headers: dict[str, str] | None = None) -> httpx.Response:
    return http.patch(f"/v2/images/{image_id}", json=ops, headers={**PATCH21, **(headers or {})})


def served_schema(http: httpx.Client, name: str) -> dict[str, Any]:
    resp = http.get(f"/v2/schemas/{name}")
    assert resp.status_code == 200
    return resp.json()


def validate(http: httpx.Client, name: str, document: Any) -> None:
    """``document`` fits the schema ``name`` the server serves."""
    jsonschema.validate(document, served_schema(http, name))
