"""Who may write or delete an image's bytes, and recovery's compare-and-sets, on real SQLite
and PostgreSQL: a write in flight is held by its process; recovery takes over only what a gone
process held, deciding and acting in one transaction; concurrent tag and property changes all
survive."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pytest

from glance.common import exception
from glance.domain import Image, Location, Task
from glance.registry import Registry
from glance.registry.repository import Liveness

LEASE = 60.0


def queued(registry: Registry, image_id: str = "img") -> None:
    registry.create(Image(id=image_id, status="queued", disk_format="raw",
                          container_format="bare"))


def as_seen_by(me: str, *dead: str) -> Liveness:
    return Liveness(me, LEASE, frozenset(dead))


def test_an_upload_taken_over_by_recovery_cannot_finish(registry: Registry) -> None:
    queued(registry)
    registry.heartbeat("w1", "host", 1)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving", values={"size": 3})
    [(image_id, location)] = registry.orphan_locations(as_seen_by("w2", "w1"))
    assert registry.claim_orphan_location(image_id, location, liveness=as_seen_by("w2", "w1"))
    with pytest.raises(exception.Conflict):
        registry.finish_upload("img", store="file", worker="w1", key="img",
                               values={"status": "active", "size": 3})
    image = registry.get("img")
    assert image.status == "saving"
    assert image.locations == [Location("file", "img", "deleting", "w2")]


def test_recovery_leaves_a_live_process_alone(registry: Registry) -> None:
    queued(registry)
    registry.heartbeat("w1", "host", 1)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving")
    seen = as_seen_by("w2")
    assert registry.orphan_locations(seen) == []
    location = registry.get("img").locations[0]
    assert not registry.claim_orphan_location("img", location, liveness=seen)
    assert not registry.fail_orphan_upload("img", recorded=None, to_status="killed",
                                           liveness=seen)
    assert registry.get("img").status == "saving"


def test_a_process_that_starts_after_recovery_began_counts_as_live(registry: Registry) -> None:
    """Liveness is decided inside each transaction, not from a list read earlier."""
    seen = as_seen_by("w2")  # built before w3 exists
    queued(registry)
    registry.heartbeat("w3", "host", 3)
    registry.start_write("img", store="file", worker="w3", from_status="queued",
                         to_status="saving")
    assert registry.orphan_locations(seen) == []
    assert not registry.fail_orphan_upload("img", recorded=None, to_status="killed",
                                           liveness=seen)


def test_a_finished_upload_is_never_killed(registry: Registry) -> None:
    """The race behind lost uploads: recovery read the image as saving just before the
    upload finished; its compare-and-set must then change nothing."""
    queued(registry)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving")
    stale = registry.get("img").locations[0]  # what recovery read: saving, held by w1
    registry.finish_upload("img", store="file", worker="w1", key="img",
                           values={"status": "active", "size": 3})
    dead_w1 = as_seen_by("w2", "w1")
    assert not registry.claim_orphan_location("img", stale, liveness=dead_w1)
    assert not registry.fail_orphan_upload("img", recorded=None, to_status="killed",
                                           liveness=dead_w1)
    image = registry.get("img")
    assert image.status == "active"
    assert image.locations == [Location("file", "img", "active", None)]


def test_a_gone_process_upload_is_taken_over_once(registry: Registry) -> None:
    queued(registry)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving")
    dead_w1 = as_seen_by("w2", "w1")
    [(_, location)] = registry.orphan_locations(dead_w1)
    results = list(ThreadPoolExecutor(4).map(
        lambda me: registry.claim_orphan_location("img", location, liveness=as_seen_by(
            me, "w1")), ["w2", "w3", "w4", "w5"]))
    assert results.count(True) == 1
    holder = registry.get("img").locations[0].worker
    assert registry.forget_location("img", "file", worker=holder)
    assert registry.fail_orphan_upload("img", recorded=None, to_status="killed",
                                           liveness=dead_w1)
    assert registry.get("img").status == "killed"


def test_an_orphan_upload_fails_to_the_status_its_upload_recorded(registry: Registry) -> None:
    """A v2 upload records that it fails back to queued; recovery after its process is gone
    applies that, with the values given, and only while the recorded status is unchanged."""
    queued(registry)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving",
                         values={"size": 10, "failed_upload_status": "queued"})
    assert registry.get("img").failed_upload_status == "queued"
    dead_w1 = as_seen_by("w2", "w1")
    [(_, location)] = registry.orphan_locations(dead_w1)
    assert registry.claim_orphan_location("img", location, liveness=dead_w1)
    assert registry.forget_location("img", "file", worker="w2")
    assert not registry.fail_orphan_upload("img", recorded=None, to_status="killed",
                                           liveness=dead_w1)  # not what the upload said
    assert registry.fail_orphan_upload("img", recorded="queued", to_status="queued",
                                       values={"size": None}, liveness=dead_w1)
    image = registry.get("img")
    assert (image.status, image.size, image.locations) == ("queued", None, [])


def test_a_write_records_its_holder_and_a_failed_write_goes_back(registry: Registry) -> None:
    queued(registry)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving", values={"size": 10})
    with pytest.raises(exception.Conflict):  # one write at a time
        registry.start_write("img", store="file", worker="w2", from_status="queued",
                             to_status="saving")
    assert not registry.abandon_write("img", store="file", worker="w2", from_status="saving",
                                      to_status="queued")
    assert registry.abandon_write("img", store="file", worker="w1", from_status="saving",
                                  to_status="queued", values={"size": None})
    image = registry.get("img")
    assert (image.status, image.size, image.locations) == ("queued", None, [])


def test_an_import_is_orphaned_only_without_a_live_task(registry: Registry) -> None:
    registry.create(Image(id="img", status="importing"))
    registry.heartbeat("w1", "host", 1)
    registry.create_task(Task(id="t1", image_id="img", status="processing", worker="w1"))
    assert not registry.import_orphaned("img", liveness=as_seen_by("w2"))
    assert not registry.requeue_orphan_import("img", liveness=as_seen_by("w2"))
    assert not registry.fail_orphan_task("t1", "gone", liveness=as_seen_by("w2"))
    dead_w1 = as_seen_by("w2", "w1")
    assert registry.import_orphaned("img", liveness=dead_w1)
    assert registry.fail_orphan_task("t1", "gone", liveness=dead_w1)
    assert not registry.fail_orphan_task("t1", "again", liveness=dead_w1)
    assert registry.requeue_orphan_import("img", liveness=dead_w1)
    assert registry.get("img").status == "queued"


def in_threads(count: int, work: Callable[[int], None]) -> None:
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        work(index)

    with ThreadPoolExecutor(count) as pool:
        list(pool.map(run, range(count)))


def test_concurrent_tags_all_survive(registry: Registry) -> None:
    registry.create(Image(id="img", tags=["keep", "drop"]))
    in_threads(20, lambda i: registry.add_tag("img", f"t{i}", quota=100))
    registry.remove_tag("img", "drop")
    with pytest.raises(exception.NotFound):
        registry.remove_tag("img", "drop")
    assert sorted(registry.get("img").tags) == sorted(["keep", *(f"t{i}" for i in range(20))])


def test_the_tag_quota_holds_under_concurrency(registry: Registry) -> None:
    registry.create(Image(id="img"))
    refused = []

    def add(index: int) -> None:
        try:
            registry.add_tag("img", f"t{index}", quota=5)
        except exception.LimitExceeded:
            refused.append(index)

    in_threads(12, add)
    assert len(registry.get("img").tags) == 5 and len(refused) == 7


def test_concurrent_updates_of_different_fields_all_survive(registry: Registry) -> None:
    registry.create(Image(id="img", properties={"old": "1"}, tags=["a"]))
    in_threads(16, lambda i: registry.change_metadata(
        "img", fields={"min_ram": 1} if i == 0 else {}, set_properties={f"p{i}": str(i)},
        add_tags=[f"t{i}"], remove_tags=["a"] if i == 1 else ()))
    image = registry.get("img")
    assert image.properties == {"old": "1", **{f"p{i}": str(i) for i in range(16)}}
    assert sorted(image.tags) == sorted(f"t{i}" for i in range(16))
    assert image.min_ram == 1


def test_properties_compare_and_set(registry: Registry) -> None:
    registry.create(Image(id="img", properties={"p": "1"}))
    registry.swap_properties("img", expected={"p": "1", "q": None}, new={"p": "2"})
    with pytest.raises(exception.Conflict):
        registry.swap_properties("img", expected={"p": "1"}, new={"p": "3"})
    assert registry.get("img").properties == {"p": "2"}


def test_heartbeats_are_judged_inside_the_transaction(registry: Registry) -> None:
    """A worker whose heartbeat is older than the lease is gone, whatever list was read."""
    queued(registry)
    registry.heartbeat("w1", "host", 1)
    registry.start_write("img", store="file", worker="w1", from_status="queued",
                         to_status="saving")
    time.sleep(0.3)
    short = Liveness("w2", 0.2)
    assert [loc.worker for _, loc in registry.orphan_locations(short)] == ["w1"]
    registry.heartbeat("w1", "host", 1)
    assert registry.orphan_locations(short) == []
