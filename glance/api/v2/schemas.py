"""The JSON schemas v2 serves; every v2 response must validate against them."""

from __future__ import annotations

from typing import Any

from glance.api.v2.metadefs_schemas import METADEF_SCHEMAS
from glance.domain import (
    CONTAINER_FORMATS,
    DISK_FORMATS,
    MEMBER_STATUSES,
    STATUSES,
    TASK_STATUSES,
    VISIBILITIES,
)


def _read_only(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {**schema, "readOnly": True, "description": description}


IMAGE_PROPERTIES: dict[str, Any] = {
    # no UUID pattern: images made through v1 may carry any safe identifier
    "id": {"type": "string", "description": "An identifier for the image"},
    "name": {"type": ["null", "string"], "maxLength": 255,
             "description": "Descriptive name for the image"},
    "status": _read_only({"type": "string", "enum": list(STATUSES)}, "Status of the image"),
    "visibility": {"type": "string", "enum": list(VISIBILITIES),
                   "description": "Scope of image accessibility"},
    "protected": {"type": "boolean",
                  "description": "If true, image will not be deletable."},
    "os_hidden": {"type": "boolean",
                  "description": "If true, image will not appear in default image list "
                                 "response."},
    "checksum": _read_only({"type": ["null", "string"], "maxLength": 32},
                           "md5 hash of image contents."),
    "os_hash_algo": _read_only({"type": ["null", "string"], "maxLength": 64},
                               "Algorithm to calculate the os_hash_value"),
    "os_hash_value": _read_only({"type": ["null", "string"], "maxLength": 128},
                                "Hexdigest of the image contents using the algorithm "
                                "specified by the os_hash_algo"),
    "owner": {"type": ["null", "string"], "maxLength": 255,
              "description": "Owner of the image"},
    "size": _read_only({"type": ["null", "integer"]}, "Size of image file in bytes"),
    "virtual_size": _read_only({"type": ["null", "integer"]}, "Virtual size of image in bytes"),
    "container_format": {"type": ["null", "string"], "enum": [None, *CONTAINER_FORMATS],
                         "description": "Format of the container"},
    "disk_format": {"type": ["null", "string"], "enum": [None, *DISK_FORMATS],
                    "description": "Format of the disk"},
    "created_at": _read_only({"type": "string"}, "Date and time of image registration"),
    "updated_at": _read_only({"type": "string"}, "Date and time of the last image "
                                                 "modification"),
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 255},
             "description": "List of strings related to the image"},
    "direct_url": _read_only({"type": "string"}, "URL to access the image file kept in "
                                                 "external store"),
    "min_ram": {"type": "integer", "description": "Amount of ram (in MB) required to boot "
                                                  "image."},
    "min_disk": {"type": "integer", "description": "Amount of disk space (in GB) required to "
                                                   "boot image."},
    "self": _read_only({"type": "string"}, "An image self url"),
    "file": _read_only({"type": "string"}, "An image file url"),
    "stores": _read_only({"type": "string"}, "Store in which image data resides.  Only "
                                             "present when the operator has enabled multiple "
                                             "stores."),
    "schema": _read_only({"type": "string"}, "An image schema url"),
    "locations": {
        "type": "array",
        "items": {"type": "object",
                  "properties": {
                      "url": {"type": "string", "maxLength": 255},
                      "metadata": {"type": "object"},
                      "validation_data": {
                          "description": "Values to be used to populate the corresponding "
                                         "image properties. If the image status is not "
                                         "'queued', values must exactly match those already "
                                         "contained in the image properties.",
                          "type": "object", "writeOnly": True, "additionalProperties": False,
                          "properties": {
                              "checksum": {"type": "string", "minLength": 32,
                                           "maxLength": 32},
                              "os_hash_algo": {"type": "string", "maxLength": 64},
                              "os_hash_value": {"type": "string", "maxLength": 128}},
                          "required": ["os_hash_algo", "os_hash_value"]}},
                  "required": ["url", "metadata"]},
        "description": "A set of URLs to access the image file kept in external store"},
}

IMAGE_LINKS: list[dict[str, str]] = [
    {"rel": "self", "href": "{self}"},
    {"rel": "enclosure", "href": "{file}"},
    {"rel": "describedby", "href": "{schema}"},
]

IMAGE_SCHEMA: dict[str, Any] = {
    "name": "image",
    "properties": IMAGE_PROPERTIES,
    "additionalProperties": {"type": "string"},
    "links": IMAGE_LINKS,
}

IMAGES_SCHEMA: dict[str, Any] = {
    "name": "images",
    "properties": {
        "images": {"type": "array", "items": IMAGE_SCHEMA},
        "schema": {"type": "string"},
        "first": {"type": "string"},
        "next": {"type": "string"},
    },
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

MEMBER_SCHEMA: dict[str, Any] = {
    "name": "member",
    "properties": {
        "member_id": {"type": "string", "description": "An identifier for the image member "
                                                       "(tenantId)"},
        "image_id": {"type": "string", "description": "An identifier for the image"},
        "created_at": {"type": "string", "description": "Date and time of image member "
                                                        "creation"},
        "updated_at": {"type": "string", "description": "Date and time of last modification "
                                                        "of image member"},
        "status": {"type": "string", "enum": list(MEMBER_STATUSES),
                   "description": "The status of this image member"},
        "schema": {"type": "string", "readOnly": True},
    },
}

MEMBERS_SCHEMA: dict[str, Any] = {
    "name": "members",
    "properties": {
        "members": {"type": "array", "items": MEMBER_SCHEMA},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "self", "href": "{self}"}, {"rel": "describedby", "href": "{schema}"}],
}

_TIME = {"type": "string", "format": "date-time"}
TASK_SCHEMA: dict[str, Any] = {
    "name": "task",
    "properties": {
        "id": {"type": "string", "description": "An identifier for the task"},
        "type": {"type": "string", "enum": ["import", "api_image_import", "location_import"],
                 "description": "The type of task represented by this content"},
        "status": {"type": "string", "enum": list(TASK_STATUSES),
                   "description": "The current status of this task"},
        "input": {"type": "object", "description": "The parameters required by task"},
        "result": {"type": ["null", "object"], "description": "The result of current task"},
        "owner": {"type": ["null", "string"], "description": "Project that owns the task"},
        "message": {"type": "string", "description": "Human-readable informative message "
                                                     "only included when appropriate"},
        "expires_at": {"type": ["null", "string"], "format": "date-time",
                       "description": "When the task expires"},
        "created_at": {**_TIME, "description": "When the task was created"},
        "updated_at": {**_TIME, "description": "When the task was last updated"},
        "self": {"type": "string", "readOnly": True},
        "schema": {"type": "string", "readOnly": True},
    },
}
TASKS_SCHEMA: dict[str, Any] = {
    "name": "tasks",
    "properties": {
        "tasks": {"type": "array", "items": {
            "name": "task",
            "properties": {k: v for k, v in TASK_SCHEMA["properties"].items()
                           if k not in ("input", "result", "message")}}},
        "first": {"type": "string"},
        "next": {"type": "string"},
        "schema": {"type": "string"},
    },
    "links": [{"rel": "first", "href": "{first}"}, {"rel": "next", "href": "{next}"},
              {"rel": "describedby", "href": "{schema}"}],
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "image": IMAGE_SCHEMA,
    "images": IMAGES_SCHEMA,
    "member": MEMBER_SCHEMA,
    "members": MEMBERS_SCHEMA,
    "task": TASK_SCHEMA,
    "tasks": TASKS_SCHEMA,
    **METADEF_SCHEMAS,
}
