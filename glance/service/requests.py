"""What the APIs hand the image service: a new image, a change, a v1 update's claims; and
what it hands back about stores."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping


@dataclass(frozen=True)
class NewImage:
    """A new image: its fields and properties (the service's names), an id (None: a new
    UUID), the seed's ``type`` and whether v1's aki/ari/ami pairing rule applies."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    image_id: str | None = None
    image_type: str | None = None
    amazon_pairs: bool = True


@dataclass(frozen=True)
class NewLocation:
    """A location a request gives an image: an http(s) URL the data is at, what v2 shows
    as its metadata, and what the data must hash to (checksum, os_hash_algo,
    os_hash_value; each optional)."""

    url: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    validation: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LocationEdit:
    """One change of v2's ``locations``: ``add`` a URL (``new``), ``replace`` them all
    (``replacement``: only their metadata may differ), or ``remove`` the one at ``index``."""

    op: Literal["add", "replace", "remove"]
    new: NewLocation | None = None
    replacement: tuple[NewLocation, ...] = ()
    index: int = 0


@dataclass(frozen=True)
class Change:
    """A change of an image's metadata: fields set, properties set and removed (or, with
    ``purge_properties``, replacing all), the seed's ``type``, whether v1's aki/ari/ami
    pairing rule applies; ``locations``, changes of its locations, made first."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)
    removed: Iterable[str] = ()
    purge_properties: bool = False
    image_type: str | None = None
    amazon_pairs: bool = True
    locations: tuple[LocationEdit, ...] = ()

    @property
    def of_metadata(self) -> bool:
        """Whether it changes anything but the locations."""
        return bool(self.fields or self.properties or self.removed or self.purge_properties
                    or self.image_type is not None)


@dataclass(frozen=True)
class Claims:
    """What a v1 update says the image is: its id and status may be sent, never changed."""

    image_id: str | None = None
    status: str | None = None


@dataclass(frozen=True)
class StoreInfo:
    """One store as the APIs list it."""

    name: str
    driver: str
    default: bool
    writable: bool
    weight: int = 0
