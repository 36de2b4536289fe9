"""Server processes in the registry: heartbeats, liveness by lease, worker-stamped locations
and tasks, and the compare-and-set that recovery uses on tasks — real SQLite and PostgreSQL."""

from __future__ import annotations

import time

from sqlalchemy import inspect

from glance.domain import Image, Location, Task
from glance.registry import Registry


def test_heartbeats_make_a_worker_live_for_its_lease(registry: Registry) -> None:
    registry.heartbeat("w1", "host-a", 101)
    registry.heartbeat("w2", "host-b", 202)
    assert registry.live_workers(60) == {"w1": ("host-a", 101), "w2": ("host-b", 202)}
    time.sleep(0.3)
    registry.heartbeat("w2", "host-b", 202)  # a beat refreshes only its own worker
    assert set(registry.live_workers(0.2)) == {"w2"}
    registry.forget_worker("w2")
    assert set(registry.live_workers(60)) == {"w1"}


def test_locations_and_tasks_carry_their_worker(registry: Registry) -> None:
    registry.create(Image(id="img", status="saving",
                          locations=[Location("file", "img", "saving", worker="w1")]))
    assert registry.get("img").locations == [Location("file", "img", "saving", "w1")]
    [(image_id, location)] = registry.locations_in_status("saving")
    assert (image_id, location.worker) == ("img", "w1")
    # becoming active clears the worker: nobody is acting on the copy any more
    registry.finish_upload("img", store="file", worker="w1", key="img", values={})
    assert registry.get("img").locations == [Location("file", "img", "active", None)]

    registry.create_task(Task(id="t1", image_id="img", status="processing", worker="w1"))
    registry.create_task(Task(id="t2", image_id="img", status="success", worker="w1"))
    assert [(t.id, t.worker) for t in registry.tasks_in_status(["pending", "processing"])] \
        == [("t1", "w1")]
    # the compare-and-set recovery uses: only an unfinished task is failed, once
    assert registry.update_task("t1", "failure", "gone", expected_status=["processing"])
    assert not registry.update_task("t1", "failure", "again", expected_status=["processing"])
    assert not registry.update_task("t2", "failure", "no", expected_status=["processing"])
    assert {t.id: (t.status, t.message) for t in registry.image_tasks("img")} == {
        "t1": ("failure", "gone"), "t2": ("success", "")}


def test_unfinished_tasks_are_found_by_an_index(registry: Registry) -> None:
    indexes = {ix["name"] for ix in inspect(registry.engine).get_indexes("tasks")}
    assert "ix_tasks_status" in indexes
