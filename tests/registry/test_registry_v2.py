"""The registry's v2 additions on real SQLite and PostgreSQL: tags, os_hidden, multi-key
keyset pages, time operators, ``in`` lists, v2 visibility and member status, tasks."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cmp_to_key

import pytest

from glance.domain import ANY_MEMBERSHIP, Image, ImageQuery, Task
from glance.registry import Registry
from tests.registry.test_registry import _catalogue, make


def _cmp(order):
    def compare(a: Image, b: Image) -> int:
        for key, direction in [*order, ("id", order[-1][1])]:
            va, vb = getattr(a, key), getattr(b, key)
            if va == vb:
                continue
            if va is None or vb is None:  # asc: nulls first; desc: nulls last
                first = va is None
                result = -1 if first else 1
                return result if direction == "asc" else -result
            result = -1 if va < vb else 1
            return result if direction == "asc" else -result
        return 0
    return cmp_to_key(compare)


@pytest.mark.parametrize("order", [
    [("name", "asc"), ("size", "desc")],
    [("disk_format", "desc"), ("created_at", "asc"), ("name", "asc")],
    [("size", "asc"), ("status", "desc")],
])
def test_multi_key_pages_walk_each_image_once_in_order(registry: Registry, order) -> None:
    images = _catalogue(registry)
    expected = [im.id for im in sorted(images, key=_cmp(order))]
    seen: list[str] = []
    marker = None
    for _ in range(len(images) + 2):
        page = registry.list_images(ImageQuery(sort=list(order), limit=6, marker=marker))
        if not page:
            break
        seen.extend(im.id for im in page)
        marker = page[-1].id
    assert seen == expected


def test_tags_os_hidden_in_lists_and_times(registry: Registry) -> None:
    base = datetime(2026, 5, 1, 12, 0, 0)
    make(registry, "a", tags=["red", "big"], created_at=base, disk_format="raw")
    make(registry, "b", tags=["red"], os_hidden=True, created_at=base + timedelta(seconds=1),
         disk_format="iso")
    make(registry, "c", created_at=base + timedelta(seconds=1, microseconds=500),
         disk_format="vhd")
    assert registry.get("a").tags == ["big", "red"] and registry.get("b").os_hidden is True

    def ids(**kw) -> list[str]:
        return sorted(im.id for im in registry.list_images(ImageQuery(limit=100, **kw)))
    assert ids(tags=["red"]) == ["a", "b"]
    assert ids(tags=["red", "big"]) == ["a"]
    assert ids(os_hidden=False) == ["a", "c"]
    assert ids(any_of={"disk_format": ["raw", "vhd"]}) == ["a", "c"]
    second = base + timedelta(seconds=1)
    assert ids(times=[("created_at", "eq", second)]) == ["b", "c"]  # the whole second
    assert ids(times=[("created_at", "gt", base)]) == ["b", "c"]
    assert ids(times=[("created_at", "lte", base)]) == ["a"]
    assert ids(times=[("created_at", "neq", base)]) == ["b", "c"]
    exact = base + timedelta(seconds=1, microseconds=500)
    assert ids(times=[("created_at", "lt", exact)]) == ["a", "b"]
    updated = registry.change_metadata("a", add_tags=["x"],
                                       remove_tags=registry.get("a").tags)
    assert updated.tags == ["x"] and ids(tags=["red"]) == ["b"]


def test_v2_visibility_and_member_status(registry: Registry) -> None:
    make(registry, "pub", visibility="public", owner="o")
    make(registry, "com", visibility="community", owner="o")
    make(registry, "priv", visibility="private", owner="o")
    make(registry, "sh", visibility="shared", owner="o")
    registry.add_member("sh", "m")

    def seen(viewer, member_status, visibility=None) -> list[str]:
        # v2's list rule: shared images by membership status ("all": any), community images
        # only when asked for
        query = ImageQuery(limit=100, viewer=viewer, viewer_is_admin=False,
                           visibility=visibility, community=visibility == "community",
                           membership=ANY_MEMBERSHIP if member_status == "all"
                           else member_status)
        return sorted(im.id for im in registry.list_images(query))
    assert seen("o", member_status="accepted") == ["com", "priv", "pub", "sh"]
    assert seen("m", member_status="accepted") == ["pub"]
    assert seen("m", member_status="pending") == ["pub", "sh"]
    assert seen("m", member_status="all", visibility="shared") == ["sh"]
    assert seen("x", member_status="accepted", visibility="community") == ["com"]
    assert registry.set_member_status("sh", "m", "accepted").status == "accepted"
    assert seen("m", member_status="accepted") == ["pub", "sh"]


def test_tasks(registry: Registry) -> None:
    make(registry, "img")
    registry.create_task(Task(id="t1", image_id="img", input={"import_req": {"x": 1}}))
    registry.update_task("t1", "success", "done")
    [task] = registry.image_tasks("img")
    assert (task.status, task.message, task.input) == ("success", "done", {"import_req": {"x": 1}})
    assert registry.image_tasks("other") == []
