"""Import and copy tasks of images, and the legacy task list (GET /v2/tasks)."""

from __future__ import annotations

import json
from typing import Mapping, Sequence

from sqlalchemy import and_, or_, select, update

from glance.common import exception
from glance.domain import Task, utcnow
from glance.registry.core import RegistryCore
from glance.registry.models import TaskRow
from glance.registry.rows import changed, task_of


class Tasks(RegistryCore):
    """Tasks and their compare-and-set status changes."""

    def create_task(self, task: Task) -> Task:
        """Record a new task."""
        with self._write() as session:
            session.add(TaskRow(id=task.id, image_id=task.image_id, type=task.type,
                                status=task.status, owner=task.owner,
                                input=json.dumps(task.input), message=task.message,
                                worker=task.worker, request_id=task.request_id,
                                user_id=task.user_id, created_at=task.created_at,
                                updated_at=task.updated_at))
        return task

    def update_task(self, task_id: str, status: str, message: str = "",
                    expected_status: Sequence[str] | None = None) -> bool:
        """Set a task's status (only while it is one of ``expected_status``, if given);
        whether it changed."""
        with self._write() as session:
            stmt = update(TaskRow).where(TaskRow.id == task_id)
            if expected_status is not None:
                stmt = stmt.where(TaskRow.status.in_(list(expected_status)))
            result = session.execute(stmt.values(status=status, message=message,
                                                 updated_at=utcnow()))
            return bool(changed(result))

    def tasks_in_status(self, statuses: Sequence[str]) -> list[Task]:
        """Every task in one of ``statuses`` (used to reconcile after a crash)."""
        with self._read() as session:
            rows = session.scalars(select(TaskRow).where(TaskRow.status.in_(list(statuses)))
                                   .order_by(TaskRow.created_at, TaskRow.id))
            return [task_of(r) for r in rows]

    def image_tasks(self, image_id: str) -> list[Task]:
        """The image's tasks, newest first."""
        with self._read() as session:
            rows = session.scalars(select(TaskRow).where(TaskRow.image_id == image_id)
                                   .order_by(TaskRow.created_at.desc(), TaskRow.id))
            return [task_of(r) for r in rows]

    def get_task(self, task_id: str, *, owner: str | None = None) -> Task:
        """One task (only ``owner``'s, if given); NotFound otherwise."""
        with self._read() as session:
            row = session.get(TaskRow, task_id)
            if row is None or (owner is not None and row.owner != owner):
                raise exception.NotFound(f"Task with identifier {task_id} not found")
            return task_of(row)

    def list_tasks(self, *, owner: str | None, filters: Mapping[str, str], sort_key: str,
                   sort_dir: str, limit: int, marker: str | None) -> list[Task]:
        """One page of tasks (``owner``'s, or everyone's for None) whose columns equal
        ``filters``, ordered by ``sort_key`` then id, after the task ``marker``."""
        with self._read() as session:
            stmt = select(TaskRow)
            if owner is not None:
                stmt = stmt.where(TaskRow.owner == owner)
            for column, value in filters.items():
                stmt = stmt.where(getattr(TaskRow, column) == value)
            col = getattr(TaskRow, sort_key)
            if marker is not None:
                after = session.get(TaskRow, marker)
                if after is None or (owner is not None and after.owner != owner):
                    raise exception.BadRequest(f"Invalid marker {marker}: task not found")
                value = getattr(after, sort_key)
                if sort_dir == "asc":
                    stmt = stmt.where(or_(col > value, and_(col == value, TaskRow.id > after.id)))
                else:
                    stmt = stmt.where(or_(col < value, and_(col == value, TaskRow.id < after.id)))
            order = (col.asc(), TaskRow.id.asc()) if sort_dir == "asc" else (
                col.desc(), TaskRow.id.desc())
            return [task_of(r) for r in session.scalars(stmt.order_by(*order).limit(limit))]
