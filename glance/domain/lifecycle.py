"""An image's statuses and the one table of allowed transitions; the statuses of copies,
tasks and memberships."""

from __future__ import annotations

from glance.common import exception

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

# The statuses in which an image has its data (downloads, copies).
HAS_DATA: tuple[str, ...] = (ACTIVE, DEACTIVATED)


def check_transition(current: str, new: str) -> None:
    """Raise Conflict unless ``current`` → ``new`` is an allowed status change. The registry
    calls it for every status it writes."""
    if new != current and new not in TRANSITIONS[current]:
        raise exception.Conflict(f"Image status cannot change from {current} to {new}")


# Status of one copy of an image's bytes. A crash leaves ``saving`` (a copy being written)
# or ``deleting`` (a copy being removed); recovery cleans both up.
LOCATION_ACTIVE = "active"
LOCATION_SAVING = "saving"
LOCATION_DELETING = "deleting"

TASK_STATUSES: tuple[str, ...] = ("pending", "processing", "success", "failure")
UNFINISHED_TASK: tuple[str, ...] = ("pending", "processing")

MEMBER_STATUSES: tuple[str, ...] = ("pending", "accepted", "rejected")
