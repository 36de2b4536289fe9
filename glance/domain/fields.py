"""The one declaration of an image's fields: what each is, who may set it, how each API
names and shows it, and whether lists sort or filter on it. The service, both APIs and the
client derive their field lists from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "int", "bool", "time", "tags"]

# The largest values the registry's integer columns hold (SQL BIGINT and INTEGER): a bigger
# number is refused with 400 where it enters, never sent to the database.
BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
V2Filter = Literal["in", "exact", "int", "time", "bool", "special"]


@dataclass(frozen=True)
class Field:
    """One field of an image record (``Image.<name>``)."""

    name: str
    kind: Kind
    settable: bool = False  # a caller may set it on create and update; else the server does
    v1: str | None = None  # its v1 header / JSON name where it differs ("": not in v1)
    v1_kind: Kind | None = None  # how v1 shows it, where that differs from ``kind``
    v1_index: bool = False  # shown in v1's brief lists
    v1_filter: bool = False  # v1 lists filter on it by exact value (``name=…``)
    v2: bool = True  # shown in v2 (else reserved there)
    v2_filter: V2Filter | None = None  # how v2 lists filter on it
    sortable: bool = False
    maximum: int = BIGINT_MAX  # "int" fields: the largest value the registry stores

    @property
    def v1_name(self) -> str:
        return self.name if self.v1 is None else self.v1

    @property
    def in_v1(self) -> bool:
        return self.v1 != ""


# In the order v2 shows them (fields v2 does not show last).
FIELDS: tuple[Field, ...] = (
    Field("id", "str", v1_index=True, v2_filter="in", sortable=True),
    Field("name", "str", settable=True, v1_index=True, v1_filter=True, v2_filter="in",
          sortable=True),
    Field("status", "str", v1_filter=True, v2_filter="in", sortable=True),
    Field("visibility", "str", settable=True, v1="is_public", v1_kind="bool",
          v2_filter="special"),
    Field("protected", "bool", settable=True, v1_filter=True, v2_filter="bool"),
    Field("os_hidden", "bool", settable=True, v1="", v2_filter="special"),
    Field("checksum", "str", v1_index=True, v2_filter="exact"),
    Field("os_hash_algo", "str", v1="", v2_filter="exact"),
    Field("os_hash_value", "str", v1="", v2_filter="exact"),
    Field("owner", "str", settable=True, v2_filter="exact"),
    Field("size", "int", v1_index=True, v2_filter="int", sortable=True),
    Field("virtual_size", "int", v2_filter="int"),
    Field("container_format", "str", settable=True, v1_index=True, v1_filter=True,
          v2_filter="in", sortable=True),
    Field("disk_format", "str", settable=True, v1_index=True, v1_filter=True, v2_filter="in",
          sortable=True),
    Field("created_at", "time", v2_filter="time", sortable=True),
    Field("updated_at", "time", v2_filter="time", sortable=True),
    Field("tags", "tags", settable=True, v1="", v2_filter="special"),
    Field("min_ram", "int", settable=True, v1_filter=True, v2_filter="int",
          maximum=INTEGER_MAX),
    Field("min_disk", "int", settable=True, v1_filter=True, v2_filter="int",
          maximum=INTEGER_MAX),
    Field("deleted_at", "time", v2=False),
    Field("deleted", "bool", v2=False),
)
BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}

# v1 shows its fields in the order of the 2011 API.
V1_ORDER: tuple[str, ...] = (
    "id", "name", "disk_format", "container_format", "size", "virtual_size", "checksum",
    "status", "visibility", "protected", "min_ram", "min_disk", "owner", "created_at",
    "updated_at", "deleted_at", "deleted")
assert set(V1_ORDER) == {f.name for f in FIELDS if f.in_v1}

SETTABLE: frozenset[str] = frozenset(f.name for f in FIELDS if f.settable)
SORT_KEYS: tuple[str, ...] = ("name", "status", "container_format", "disk_format", "size",
                              "id", "created_at", "updated_at")  # in the order errors list them
assert set(SORT_KEYS) == {f.name for f in FIELDS if f.sortable}
SORT_DIRS: tuple[str, ...] = ("asc", "desc")

# Keys v2 shows besides the fields: the links, stores and locations it computes for each
# response (its image schema's other base properties).
V2_VIRTUAL_KEYS: frozenset[str] = frozenset({"direct_url", "self", "file", "schema", "stores",
                                             "locations"})


def v1_fields(*, index: bool = False) -> tuple[Field, ...]:
    """The fields v1 shows (in its detail, or with ``index`` its brief lists), in v1's order."""
    return tuple(BY_NAME[n] for n in V1_ORDER if not index or BY_NAME[n].v1_index)


def v1_names(kind: Kind | None = None) -> frozenset[str]:
    """The v1 names of the fields v1 shows (of one ``kind``)."""
    return frozenset(f.v1_name for f in v1_fields() if kind in (None, f.v1_kind or f.kind))


def v2_fields(v2_filter: V2Filter | None = None) -> tuple[Field, ...]:
    """The fields v2 shows (that it filters on as ``v2_filter``), in v2's order."""
    return tuple(f for f in FIELDS if f.v2 and (v2_filter is None or f.v2_filter == v2_filter))
