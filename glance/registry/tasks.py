"""Import and copy tasks of images."""

from __future__ import annotations

import json
from typing import Sequence

from sqlalchemy import select, update

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
                                worker=task.worker, created_at=task.created_at,
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
