"""The image record, its statuses and allowed transitions, and the format rules."""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from glance.common import exception

DISK_FORMATS: tuple[str, ...] = (
    "ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop")
CONTAINER_FORMATS: tuple[str, ...] = ("ami", "ari", "aki", "bare", "ovf", "ova", "docker")
AMAZON_FORMATS: frozenset[str] = frozenset({"aki", "ari", "ami"})

# The seed's `type` values and the formats they imply when no formats are given.
TYPE_FORMATS: dict[str, tuple[str, str]] = {
    "kernel": ("aki", "aki"),
    "ramdisk": ("ari", "ari"),
    "machine": ("ami", "ami"),
    "raw": ("raw", "bare"),
}

QUEUED = "queued"
SAVING = "saving"
ACTIVE = "active"
KILLED = "killed"
DELETED = "deleted"
PENDING_DELETE = "pending_delete"
DEACTIVATED = "deactivated"
UPLOADING = "uploading"  # v2: data staged for an import
IMPORTING = "importing"  # v2: an import task is moving the data into a store
STATUSES: tuple[str, ...] = (
    QUEUED, SAVING, ACTIVE, KILLED, DELETED, PENDING_DELETE, DEACTIVATED, UPLOADING, IMPORTING)

TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({SAVING, ACTIVE, KILLED, DELETED, UPLOADING, IMPORTING}),
    SAVING: frozenset({ACTIVE, KILLED, QUEUED, IMPORTING, DELETED}),
    UPLOADING: frozenset({IMPORTING, QUEUED, DELETED}),
    IMPORTING: frozenset({SAVING, ACTIVE, QUEUED, DELETED}),
    ACTIVE: frozenset({DEACTIVATED, DELETED, PENDING_DELETE}),
    DEACTIVATED: frozenset({ACTIVE, DELETED, PENDING_DELETE}),
    KILLED: frozenset({DELETED}),
    PENDING_DELETE: frozenset({DELETED}),
    DELETED: frozenset(),
}

VISIBILITIES: tuple[str, ...] = ("public", "private", "shared", "community")

_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
MAX_NAME_LENGTH = 255


def utcnow() -> datetime:
    """Naive UTC now, as stored in the registry."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_image_id() -> str:
    return str(uuid.uuid4())


def validate_image_id(image_id: str) -> str:
    """Return ``image_id`` if it is a safe identifier, else raise BadRequest."""
    if not isinstance(image_id, str) or not _ID_RE.match(image_id) or image_id.startswith("."):
        raise exception.BadRequest(
            "Invalid image id: use 1-64 characters of A-Z, a-z, 0-9, '.', '_' or '-', "
            "not starting with '.'")
    return image_id


def check_transition(current: str, new: str) -> None:
    """Raise Conflict unless ``current`` → ``new`` is an allowed status change."""
    if new != current and new not in TRANSITIONS[current]:
        raise exception.Conflict(f"Image status cannot change from {current} to {new}")


@dataclass
class Image:
    """One image record as the service sees it."""

    id: str
    status: str = QUEUED
    name: str | None = None
    disk_format: str | None = None
    container_format: str | None = None
    size: int | None = None
    virtual_size: int | None = None
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    visibility: str = "shared"
    protected: bool = False
    os_hidden: bool = False
    min_ram: int = 0
    min_disk: int = 0
    owner: str | None = None
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    deleted_at: datetime | None = None
    deleted: bool = False
    properties: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    locations: list["Location"] = field(default_factory=list)  # in the order they were added

    @property
    def is_public(self) -> bool:
        return self.visibility == "public"

    @property
    def active_locations(self) -> list["Location"]:
        """The locations holding the whole image, first added first."""
        return [loc for loc in self.locations if loc.status == LOCATION_ACTIVE]

    @property
    def store(self) -> str | None:
        """The store of the first active location (what v1 shows)."""
        active = self.active_locations
        return active[0].store if active else None

    @property
    def location(self) -> str | None:
        """The key of the first active location."""
        active = self.active_locations
        return active[0].key if active else None

    def copy(self, **changes: Any) -> "Image":
        clone = dataclasses.replace(self, **changes)
        if "properties" not in changes:
            clone.properties = dict(self.properties)
        if "tags" not in changes:
            clone.tags = list(self.tags)
        if "locations" not in changes:
            clone.locations = list(self.locations)
        return clone


# Status of one copy of an image's bytes. A crash leaves ``saving`` (a copy being written)
# or ``deleting`` (a copy being removed); the service cleans both up at start.
LOCATION_ACTIVE = "active"
LOCATION_SAVING = "saving"
LOCATION_DELETING = "deleting"


@dataclass(frozen=True)
class Location:
    """One copy of an image's bytes: a store instance name and the key inside it (never a URL
    with credentials; for the read-only http store the key is the public URL)."""

    store: str
    key: str
    status: str = LOCATION_ACTIVE
    worker: str | None = None  # the server process writing or deleting it, while it does


def apply_format_rules(disk_format: str | None, container_format: str | None,
                       image_type: str | None) -> tuple[str | None, str | None]:
    """Validate formats (and the seed's ``type``) and fill in what they imply.

    Returns the effective ``(disk_format, container_format)``; raises BadRequest on an
    unknown format, an unknown type or an invalid aki/ari/ami mix.
    """
    if image_type is not None and image_type not in TYPE_FORMATS:
        raise exception.BadRequest(
            f"Invalid type {image_type!r}: must be one of {', '.join(TYPE_FORMATS)}")
    if disk_format is None and container_format is None and image_type is not None:
        disk_format, container_format = TYPE_FORMATS[image_type]
    if disk_format is not None and disk_format not in DISK_FORMATS:
        raise exception.BadRequest(
            f"Invalid disk_format {disk_format!r}: must be one of {', '.join(DISK_FORMATS)}")
    if container_format is not None and container_format not in CONTAINER_FORMATS:
        raise exception.BadRequest(
            f"Invalid container_format {container_format!r}: must be one of "
            f"{', '.join(CONTAINER_FORMATS)}")
    if disk_format in AMAZON_FORMATS and container_format is None:
        container_format = disk_format
    elif container_format in AMAZON_FORMATS and disk_format is None:
        disk_format = container_format
    if (disk_format in AMAZON_FORMATS or container_format in AMAZON_FORMATS) and \
            disk_format != container_format:
        raise exception.BadRequest(
            "Invalid mix of disk and container formats: when either is aki, ari or ami, "
            "both must be the same")
    return disk_format, container_format


SORT_KEYS: tuple[str, ...] = ("name", "status", "container_format", "disk_format", "size",
                              "id", "created_at", "updated_at")


TIME_OPERATORS: tuple[str, ...] = ("gt", "gte", "lt", "lte", "eq", "neq")
MEMBER_STATUSES: tuple[str, ...] = ("pending", "accepted", "rejected")


@dataclass
class ImageQuery:
    """What a list request asks the registry for (already validated by the API)."""

    exact: dict[str, Any] = field(default_factory=dict)  # column → value
    any_of: dict[str, list[Any]] = field(default_factory=dict)  # column → allowed values
    times: list[tuple[str, str, datetime]] = field(default_factory=list)  # (column, op, value)
    tags: list[str] = field(default_factory=list)  # every one must be present
    os_hidden: bool | None = None
    visibility: str | None = None  # v2 filter; None: every visibility the viewer may see
    # v2 semantics: shared images count only if the viewer's membership has this status
    # ("all": any status); None keeps v1's "any membership"
    member_status: str | None = None
    size_min: int | None = None
    size_max: int | None = None
    properties: dict[str, str] = field(default_factory=dict)
    is_public: bool | None = None  # None: either
    changes_since: datetime | None = None
    sort_key: str = "created_at"
    sort_dir: str = "desc"
    sort: list[tuple[str, str]] | None = None  # several (key, dir); overrides sort_key/dir
    limit: int = 25
    marker: str | None = None
    # who is asking: None means "everything" (admin); otherwise the viewer's project
    viewer: str | None = None
    viewer_is_admin: bool = True

    @property
    def order(self) -> list[tuple[str, str]]:
        """The sort keys with their directions, most significant first."""
        return list(self.sort) if self.sort else [(self.sort_key, self.sort_dir)]


@dataclass
class Membership:
    """One member of an image."""

    image_id: str
    member_id: str
    can_share: bool = False
    status: str = "pending"
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)


TASK_STATUSES: tuple[str, ...] = ("pending", "processing", "success", "failure")
UNFINISHED_TASK: tuple[str, ...] = ("pending", "processing")


@dataclass
class Task:
    """One asynchronous import of an image's data."""

    id: str
    image_id: str
    type: str = "api_image_import"
    status: str = "pending"
    owner: str | None = None
    input: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    worker: str | None = None  # the server process running it
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
