"""Image locations in the registry, and migration 0004 moving images.store/location into
them — on real SQLite and real PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from glance.common import exception
from glance.domain import Image, Location
from glance.registry import Registry
from glance.registry.engine import create_registry_engine
from glance.registry.migrate import _alembic_config, upgrade, upgrade_engine

OLD_IMAGE = ("insert into images (id, name, status, visibility, protected, os_hidden, min_ram, "
             "min_disk, store, location, created_at, updated_at, deleted) values (:id, :id, "
             ":status, 'public', false, false, 0, 0, :store, :location, :at, :at, :deleted)")


def test_migration_moves_store_and_location_into_locations(database_url: str) -> None:
    upgrade(database_url, "0003")
    engine = create_registry_engine(database_url)
    try:
        at = datetime(2026, 1, 1)
        with engine.begin() as con:
            for image_id, status, store, location, deleted in [
                    ("active-1", "active", "local", "active-1", False),
                    ("remote-1", "active", "http", "https://example.com/x.img", False),
                    ("saving-1", "saving", "local", None, False),
                    ("queued-1", "queued", None, None, False),
                    ("gone-1", "deleted", "local", "gone-1", True)]:
                con.execute(text(OLD_IMAGE), {"id": image_id, "status": status, "store": store,
                                              "location": location, "at": at,
                                              "deleted": deleted})
            con.execute(text("insert into image_properties values ('active-1', 'k', 'v')"))
        upgrade_engine(engine)
        columns = {c["name"] for c in inspect(engine).get_columns("images")}
        assert "store" not in columns and "location" not in columns
        reg = Registry(engine)
        assert reg.get("active-1").locations == [Location("local", "active-1", "active")]
        assert reg.get("active-1").properties == {"k": "v"}  # children survive
        assert (reg.get("active-1").store, reg.get("active-1").location) == ("local",
                                                                              "active-1")
        assert reg.get("remote-1").locations == [
            Location("http", "https://example.com/x.img", "active")]
        # an upload in progress keeps a record of where to clean up (key = image id)
        assert reg.get("saving-1").locations == [Location("local", "saving-1", "saving")]
        assert reg.get("saving-1").store is None  # no active copy
        assert reg.get("queued-1").locations == []
        assert reg.get("gone-1", include_deleted=True).locations == []
        # and back down: the first location returns to the columns
        config = _alembic_config()
        with engine.begin() as con:
            config.attributes["connection"] = con
            command.downgrade(config, "0003")
        with engine.connect() as con:
            rows = dict(con.execute(text("select id, location from images")).all())
        assert rows["active-1"] == "active-1" and rows["saving-1"] is None
        assert "image_locations" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_locations_of_an_image(registry: Registry) -> None:
    registry.create(Image(id="img", status="active", size=3,
                          locations=[Location("a", "img")]))
    registry.add_location("img", Location("b", "img", "saving", "w0"), image_status=["active"])
    with pytest.raises(exception.Conflict):  # one location per store
        registry.add_location("img", Location("b", "img", "saving"), image_status=["active"])
    with pytest.raises(exception.Conflict):  # only while the image is in a given status
        registry.add_location("img", Location("c", "img", "saving"), image_status=["queued"])
    image = registry.get("img")
    assert [loc.store for loc in image.locations] == ["a", "b"]
    assert [loc.store for loc in image.active_locations] == ["a"]
    registry.finish_copy("img", store="b", worker="w0", key="img-b")
    assert registry.get("img").locations[1] == Location("b", "img-b", "active")
    with pytest.raises(exception.Conflict):  # compare-and-set
        registry.finish_copy("img", store="b", worker="w0", key="img-b")
    with pytest.raises(exception.NotFound):
        registry.hold_copy_for_deletion("img", store="zzz", worker="w1")
    registry.hold_copy_for_deletion("img", store="a", worker="w1")
    with pytest.raises(exception.Forbidden):  # never the last active copy
        registry.hold_copy_for_deletion("img", store="b", worker="w1")
    assert registry.locations_in_status("deleting") == [("img", Location("a", "img",
                                                                         "deleting", "w1"))]
    assert not registry.forget_location("img", "a", worker="w2")  # only its holder forgets it
    assert registry.forget_location("img", "a", worker="w1")
    assert registry.get("img").locations == [Location("b", "img-b", "active")]
    # a transition replaces the lot, in the same transaction as the status change
    registry.transition("img", from_=["active"], to="deactivated",
                        locations=[Location("c", "k1"), Location("d", "k2", "saving")])
    assert [loc.store for loc in registry.get("img").locations] == ["c", "d"]
    with pytest.raises(exception.Conflict):
        registry.transition("img", from_=["queued"], to="killed", locations=[])
    assert len(registry.get("img").locations) == 2  # nothing changed
    # what the image has at that moment is marked, whatever the caller saw before
    registry.mark_deleted("img", worker="w1")
    assert [loc.status for loc in registry.get("img", include_deleted=True).locations] == [
        "deleting", "deleting"]


def test_url_locations_several_per_store_with_metadata(registry: Registry) -> None:
    """The http store holds any number of URLs of one image (one copy per other store), each
    with its metadata; adding one is a compare-and-set with the image's status and values."""
    registry.create(Image(id="img", status="queued", disk_format="raw", container_format="bare"))
    first = Location("web", "http://a/x", metadata={"foo": "bar"})
    with pytest.raises(exception.Conflict):  # the caller read other values than there are
        registry.add_url_location("img", first, from_status=["queued"], to_status="active",
                                  values={"size": 3}, expected={"size": 5})
    image = registry.add_url_location("img", first, from_status=["queued"], to_status="active",
                                      values={"size": 3, "checksum": "c" * 32},
                                      expected={"size": None})
    assert (image.status, image.size, image.checksum) == ("active", 3, "c" * 32)
    second = Location("web", "http://a/x#2")
    registry.add_url_location("img", second, from_status=["active"], to_status="active",
                              values={}, expected={"checksum": "c" * 32})
    with pytest.raises(exception.Conflict):  # the same URL twice
        registry.add_url_location("img", second, from_status=["active"], to_status="active",
                                  values={}, expected={})
    locations = registry.get("img").locations
    assert [(loc.key, loc.metadata) for loc in locations] == [
        ("http://a/x", {"foo": "bar"}), ("http://a/x#2", {})]
    image = registry.set_location_metadata("img", [
        Location("web", "http://a/x#2", metadata={"speed": "88mph", "n": [1, 2]})])
    assert image.locations[1].metadata == {"speed": "88mph", "n": [1, 2]}
    with pytest.raises(exception.Conflict):  # a location that is not there: nothing changes
        registry.set_location_metadata("img", [Location("web", "http://a/x", metadata={}),
                                               Location("web", "http://gone", metadata={})])
    assert registry.get("img").locations[0].metadata == {"foo": "bar"}
    # one URL is taken for deletion, not every location of the store
    registry.hold_copy_for_deletion("img", store="web", worker="w1", key="http://a/x")
    assert [loc.status for loc in registry.get("img").locations] == ["deleting", "active"]
    with pytest.raises(exception.Forbidden):  # never the last active copy
        registry.hold_copy_for_deletion("img", store="web", worker="w1", key="http://a/x#2")
    assert registry.forget_location("img", "web", worker="w1")
    assert [loc.key for loc in registry.get("img").locations] == ["http://a/x#2"]
    # a writable store still takes one copy of an image
    registry.start_write("img", store="fast", worker="w2", from_status="active",
                         to_status="active")
    with pytest.raises(exception.Conflict):
        registry.start_write("img", store="fast", worker="w3", from_status="active",
                             to_status="active")


def test_migration_0014_keeps_locations_and_back(database_url: str) -> None:
    upgrade(database_url, "0013")
    engine = create_registry_engine(database_url)
    try:
        at = datetime(2026, 1, 1)
        with engine.begin() as con:
            con.execute(text(
                "insert into images (id, name, status, visibility, protected, os_hidden, "
                "min_ram, min_disk, created_at, updated_at, deleted) values ('i', 'i', "
                "'active', 'public', false, false, 0, 0, :at, :at, false)"), {"at": at})
            con.execute(text(
                "insert into image_locations (image_id, store, key, status, created_at, "
                "updated_at) values ('i', 'fast', 'i', 'active', :at, :at)"), {"at": at})
        upgrade_engine(engine, "0014")
        registry = Registry(engine)
        assert registry.get("i").locations == [Location("fast", "i")]
        registry.add_url_location("i", Location("web", "http://a/1"), from_status=["active"],
                                  to_status="active", values={}, expected={})
        registry.add_url_location("i", Location("web", "http://a/2"), from_status=["active"],
                                  to_status="active", values={}, expected={})
        config = _alembic_config()
        with engine.begin() as con:
            config.attributes["connection"] = con
            command.downgrade(config, "0013")
        with engine.begin() as con:  # one location per store again: the first URL stays
            rows = con.execute(text("select store, key from image_locations order by id")).all()
        assert [tuple(r) for r in rows] == [("fast", "i"), ("web", "http://a/1")]
    finally:
        engine.dispose()


def test_rename_store(registry: Registry) -> None:
    registry.create(Image(id="one", status="active", locations=[Location("file", "one")]))
    registry.create(Image(id="two", status="active", locations=[
        Location("file", "two"), Location("local", "two")]))
    assert registry.rename_store("file", "local") == 1  # "two" already has one in local
    assert registry.get("one").locations == [Location("local", "one")]
    assert [loc.store for loc in registry.get("two").locations] == ["file", "local"]


def test_a_claim_is_won_by_exactly_one_of_many_concurrent_writers(registry: Registry) -> None:
    """What keeps two simultaneous copy-image requests from both starting: claim_property is
    a compare-and-set on the property, under real concurrency."""
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    for round_ in range(5):
        image_id = f"claimed-{round_}"
        registry.create(Image(id=image_id, status="active"))
        barrier = Barrier(8)

        def claim(worker: int) -> bool:
            barrier.wait()
            try:
                registry.claim_property(
                    image_id, name="os_glance_importing_to_stores",
                    properties={"os_glance_importing_to_stores": f"s{worker}"},
                    image_status=["active"])
                return True
            except exception.Conflict:
                return False

        with ThreadPoolExecutor(8) as pool:
            won = [w for w, ok in enumerate(pool.map(claim, range(8))) if ok]
        assert len(won) == 1
        image = registry.get(image_id)
        assert image.properties["os_glance_importing_to_stores"] == f"s{won[0]}"
        # an emptied claim can be taken again
        registry.change_metadata(image_id,
                                 set_properties={"os_glance_importing_to_stores": ""})
        registry.claim_property(image_id, name="os_glance_importing_to_stores",
                                properties={"os_glance_importing_to_stores": "again"})
