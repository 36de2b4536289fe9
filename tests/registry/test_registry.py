"""The registry on real SQLite and real PostgreSQL: records, filters, sort, pages, members."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import inspect

from glance.common import exception
from glance.domain import SORT_KEYS, Image, ImageQuery
from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import upgrade


def make(reg: Registry, image_id: str, **fields) -> Image:
    return reg.create(Image(id=image_id, **fields))


def test_migrations_create_indexed_schema(database_url: str) -> None:
    upgrade(database_url)
    upgrade(database_url)  # idempotent: a second upgrade changes nothing
    engine = create_registry_engine(database_url)
    try:
        insp = inspect(engine)
        assert {"images", "image_properties", "image_members", "alembic_version"} <= set(
            insp.get_table_names())
        indexed = {col for ix in insp.get_indexes("images") for col in ix["column_names"]}
        # every filter and sort key has an index (id is the primary key)
        for column in ("name", "status", "disk_format", "container_format", "size", "min_ram",
                       "min_disk", "protected", "visibility", "owner", "created_at",
                       "updated_at", "deleted", "checksum"):
            assert column in indexed, column
    finally:
        engine.dispose()


def test_create_get_and_duplicate(registry: Registry) -> None:
    make(registry, "img-1", name="one", properties={"distro": "Ubuntu 10.10", "ü": "ö"})
    got = registry.get("img-1")
    assert got.name == "one" and got.status == "queued"
    assert got.properties == {"distro": "Ubuntu 10.10", "ü": "ö"}
    with pytest.raises(exception.Duplicate):
        make(registry, "img-1", name="again")
    with pytest.raises(exception.NotFound):
        registry.get("missing")


def test_update_compare_and_set_status(registry: Registry) -> None:
    make(registry, "img-1")
    registry.transition("img-1", from_=["queued"], to="saving")
    with pytest.raises(exception.Conflict):
        registry.transition("img-1", from_=["queued"], to="saving")
    assert registry.get("img-1").status == "saving"
    registry.mark_deleted("img-1", worker=None)
    with pytest.raises(exception.NotFound):
        registry.change_metadata("img-1", fields={"name": "x"})
    assert registry.get("img-1", include_deleted=True).deleted


def test_properties_purge_merge_and_remove(registry: Registry) -> None:
    make(registry, "img-1", properties={"a": "1", "b": "2"})
    assert registry.change_metadata("img-1", set_properties={"b": "3", "c": "4"}).properties \
        == {"a": "1", "b": "3", "c": "4"}
    assert registry.change_metadata("img-1", set_properties={"d": "5"},
                                    purge_properties=True).properties == {"d": "5"}
    assert registry.change_metadata("img-1", remove_properties=["d"]).properties == {}


def _catalogue(registry: Registry, count: int = 40) -> list[Image]:
    rnd = random.Random(7)
    base = datetime(2026, 1, 1)
    images = []
    for i in range(count):
        image = make(
            registry, f"id-{i:03d}",
            name=rnd.choice([None, "alpha", "beta", "gamma"]),
            status=rnd.choice(["active", "queued", "saving"]),
            disk_format=rnd.choice([None, "raw", "qcow2"]),
            container_format=rnd.choice([None, "bare", "ovf"]),
            size=rnd.choice([None, 0, 10, 500, 10 ** 12]),
            min_ram=rnd.choice([0, 512]),
            visibility=rnd.choice(["public", "shared"]),
            owner=rnd.choice([None, "p1", "p2"]),
            created_at=base + timedelta(seconds=rnd.choice([1, 2, 3])),
            updated_at=base + timedelta(seconds=i),
            properties={"parity": "even" if i % 2 == 0 else "odd"})
        images.append(image)
    return images


def _sort_key(key: str, image: Image):  # nulls first ascending
    value = getattr(image, key)
    return (value is not None, value if value is not None else 0, image.id)


@pytest.mark.parametrize("sort_dir", ["asc", "desc"])
def test_every_sort_key_pages_walk_each_image_once_in_order(registry: Registry,
                                                            sort_dir: str) -> None:
    images = _catalogue(registry)
    for sort_key in SORT_KEYS:
        expected = sorted(images, key=lambda im: _sort_key(sort_key, im),
                          reverse=sort_dir == "desc")
        seen: list[str] = []
        marker = None
        for _ in range(len(images) + 2):  # bounded: a broken marker must not loop forever
            page = registry.list_images(ImageQuery(sort_key=sort_key, sort_dir=sort_dir, limit=7,
                                            marker=marker))
            if not page:
                break
            seen.extend(im.id for im in page)
            marker = page[-1].id
        assert seen == [im.id for im in expected], sort_key


def test_filters(registry: Registry) -> None:
    images = _catalogue(registry)

    def ids(**kw) -> set[str]:
        return {im.id for im in registry.list_images(ImageQuery(limit=1000, **kw))}

    def expect(pred) -> set[str]:
        return {im.id for im in images if pred(im)}

    assert ids(exact={"name": "alpha"}) == expect(lambda im: im.name == "alpha")
    assert ids(exact={"status": "saving"}) == expect(lambda im: im.status == "saving")
    assert ids(exact={"disk_format": "raw", "min_ram": 512}) == expect(
        lambda im: im.disk_format == "raw" and im.min_ram == 512)
    assert ids(size_min=10, size_max=500) == expect(
        lambda im: im.size is not None and 10 <= im.size <= 500)
    assert ids(properties={"parity": "odd"}) == expect(lambda im: im.properties["parity"] == "odd")
    assert ids(is_public=True) == expect(lambda im: im.visibility == "public")
    assert ids(is_public=False) == expect(lambda im: im.visibility != "public")
    since = datetime(2026, 1, 1) + timedelta(seconds=30)
    assert ids(changes_since=since) == expect(lambda im: im.updated_at > since)


def test_killed_and_deleted_hidden_unless_asked(registry: Registry) -> None:
    make(registry, "live", status="active")
    make(registry, "dead", status="killed")
    make(registry, "gone", status="deleted", deleted=True, updated_at=datetime(2030, 1, 1))
    assert {im.id for im in registry.list_images(ImageQuery())} == {"live"}
    assert {im.id for im in registry.list_images(ImageQuery(exact={"status": "killed"}))} == {"dead"}
    since = {im.id for im in registry.list_images(ImageQuery(changes_since=datetime(2029, 1, 1)))}
    assert since == {"gone"}


def test_visibility_for_non_admin_viewers(registry: Registry) -> None:
    make(registry, "pub", visibility="public", owner="p9")
    make(registry, "mine", visibility="shared", owner="p1")
    make(registry, "theirs", visibility="shared", owner="p2")
    make(registry, "shared-with-me", visibility="shared", owner="p2")
    registry.set_member("shared-with-me", "p1", None)

    def seen(viewer: str | None, admin: bool) -> set[str]:
        return {im.id for im in registry.list_images(ImageQuery(viewer=viewer, viewer_is_admin=admin))}

    assert seen("p1", False) == {"pub", "mine", "shared-with-me"}
    assert seen("p2", False) == {"pub", "theirs", "shared-with-me"}
    assert seen(None, False) == {"pub"}
    assert seen(None, True) == {"pub", "mine", "theirs", "shared-with-me"}


def test_unknown_marker_is_bad_request(registry: Registry) -> None:
    with pytest.raises(exception.BadRequest):
        registry.list_images(ImageQuery(marker="nope"))


def test_members(registry: Registry) -> None:
    make(registry, "img")
    make(registry, "other")
    registry.set_member("img", "t1", None)
    registry.set_member("img", "t2", True)
    registry.set_member("img", "t1", None)  # no body: unchanged
    registry.set_member("other", "t1", True)
    assert [(m.member_id, m.can_share) for m in registry.members("img")] == \
        [("t1", False), ("t2", True)]
    registry.replace_members("img", {"t2": None, "t3": True})
    assert [(m.member_id, m.can_share) for m in registry.members("img")] == \
        [("t2", True), ("t3", True)]
    assert [(m.image_id, m.can_share) for m in registry.shared_with("t1")] == [("other", True)]
    registry.delete_member("img", "t2")
    registry.delete_member("img", "t2")  # idempotent
    assert [m.member_id for m in registry.members("img")] == ["t3"]


@pytest.mark.parametrize("sort_key", ["created_at", "updated_at"])
@pytest.mark.parametrize("admin", [True, False])
def test_default_list_order_is_read_off_an_index(tmp_path, sort_key: str, admin: bool) -> None:
    """SQLite: a page in the default order (created_at or updated_at desc, then id) walks
    the (deleted, <key>, id) index and sorts nothing, also with a filter."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    engine = create_registry_engine(f"sqlite:///{tmp_path}/glance.sqlite")
    upgrade(f"sqlite:///{tmp_path}/glance.sqlite")
    registry = Registry(engine)
    try:
        for i in range(50):
            make(registry, f"img-{i:03d}", name=f"n{i}", disk_format="raw" if i % 2 else "qcow2",
                 visibility="public")
        for exact in ({}, {"disk_format": "qcow2"}):
            query = ImageQuery(limit=25, sort_key=sort_key, sort_dir="desc", exact=exact,
                               viewer_is_admin=admin, viewer=None if admin else "someone")
            with Session(engine) as session:
                stmt = registry.list_statement(session, query)
                sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
                plan = " | ".join(row[-1] for row in session.execute(
                    text("EXPLAIN QUERY PLAN " + sql)))
            assert f"ix_images_deleted_{sort_key}_id" in plan, plan
            assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
            assert [i.id for i in registry.list_images(query)] == [
                i.id for i in sorted(registry.list_images(ImageQuery(
                    limit=100, exact=exact, viewer_is_admin=True)),
                    key=lambda i: (getattr(i, sort_key), i.id), reverse=True)][:25]
    finally:
        registry.close()
