"""The records the service works on: images, their copies, members, tasks, and the list
query."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from glance.domain.lifecycle import LOCATION_ACTIVE, QUEUED


def utcnow() -> datetime:
    """Naive UTC now, as stored in the registry."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def new_image_id() -> str:
    return str(uuid.uuid4())


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
    # the status the running (or last) upload leaves the image in if it fails, also after a
    # crash: None (before any upload, or recorded by an older release) means killed
    failed_upload_status: str | None = None
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


@dataclass(frozen=True)
class Location:
    """One copy of an image's bytes: a store instance name and the key inside it (never a URL
    with credentials; for the read-only http store the key is the public URL)."""

    store: str
    key: str
    status: str = LOCATION_ACTIVE
    worker: str | None = None  # the server process writing or deleting it, while it does
    # what v2 shows as the location's metadata (set by PATCH /locations; not compared)
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)


ANY_MEMBERSHIP = "any"
TIME_OPERATORS: tuple[str, ...] = ("gt", "gte", "lt", "lte", "eq", "neq")
@dataclass
class ImageQuery:
    """What a list request asks the registry for (already validated by the API)."""

    exact: dict[str, Any] = field(default_factory=dict)  # column → value
    any_of: dict[str, list[Any]] = field(default_factory=dict)  # column → allowed values
    times: list[tuple[str, str, datetime]] = field(default_factory=list)  # (column, op, value)
    tags: list[str] = field(default_factory=list)  # every one must be present
    os_hidden: bool | None = None
    visibility: str | None = None  # a filter; None: every visibility the viewer may see
    # which images of others the list shows the viewer (see ``visible_to`` in the registry):
    # shared images whose membership has this status (ANY_MEMBERSHIP: any status) ...
    membership: str = ANY_MEMBERSHIP
    # ... and community images (v2 lists them only when asked for by ``visibility``)
    community: bool = True
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
    request_id: str | None = None  # of the request that started it
    user_id: str | None = None  # who started it
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
