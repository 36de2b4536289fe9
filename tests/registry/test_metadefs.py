"""The metadata definitions in the registry, on SQLite and on PostgreSQL: a namespace with
its contents in one transaction, duplicates, renames, deletes that take the contents along,
listing filters and pages, and loading a catalogue document (replace or merge)."""

from __future__ import annotations

import pytest

from glance.common import exception
from glance.domain.metadefs import (
    Association,
    Definition,
    Namespace,
    NamespaceQuery,
    ObjectDef,
    PropertyDef,
    TagDef,
    definition,
)
from glance.registry import Registry


def full(name: str, **fields: object) -> Definition:
    return definition({
        "namespace": name, "visibility": "public", **fields,
        "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "x_"}],
        "properties": {"p": {"title": "P", "type": "string"}},
        "objects": [{"name": "o", "required": ["q"],
                     "properties": {"q": {"title": "Q", "type": "integer"}}}],
        "tags": [{"name": "t1"}, {"name": "t2"}]})


def test_create_read_and_duplicate(registry: Registry) -> None:
    created = registry.create_definition(definition=full("one"))
    assert created.namespace.created_at is not None
    assert [a.name for a in created.associations] == ["OS::Glance::Image"]
    assert created.objects[0].required == ("q",)
    assert [t.name for t in created.tags] == ["t1", "t2"]
    with pytest.raises(exception.Duplicate):
        registry.create_definition(definition=full("one"))
    with pytest.raises(exception.Duplicate):  # nothing half-made survives either
        registry.create_definition(definition=Definition(
            Namespace("two"), tags=(TagDef("a"), TagDef("a"))))
    with pytest.raises(exception.NotFound):
        registry.namespace(name="two")


def test_rename_keeps_contents_and_delete_takes_them(registry: Registry) -> None:
    registry.create_definition(definition=full("old"))
    registry.create_definition(definition=full("taken"))
    with pytest.raises(exception.Duplicate):
        registry.update_namespace(name="old", namespace=Namespace("taken"))
    registry.update_namespace(name="old", namespace=Namespace("new", visibility="private"))
    assert len(registry.items(namespace="new", kind=ObjectDef)) == 1
    registry.delete_namespace(name="new")
    with pytest.raises(exception.NotFound):
        registry.items(namespace="new", kind=TagDef)
    registry.create_definition(definition=Definition(Namespace("new")))  # the name is free
    assert registry.items(namespace="new", kind=TagDef) == []


def test_items_rename_duplicate_replace_all(registry: Registry) -> None:
    registry.create_definition(definition=full("ns"))
    with pytest.raises(exception.Duplicate):
        registry.replace_item(namespace="ns", name="t1", item=TagDef("t2"))
    renamed = registry.replace_item(namespace="ns", name="t1", item=TagDef("t0"))
    assert renamed.name == "t0"
    registry.add_items(namespace="ns", kind=TagDef, items=[TagDef("n1"), TagDef("n2")],
                       replace_all=True)
    assert [t.name for t in registry.items(namespace="ns", kind=TagDef)] == ["n1", "n2"]
    prop = registry.replace_item(namespace="ns", name="p",
                                 item=PropertyDef("p", {"title": "P2", "type": "number"}))
    assert prop.schema == {"title": "P2", "type": "number"}
    registry.clear_items(namespace="ns", kind=ObjectDef)
    assert registry.items(namespace="ns", kind=ObjectDef) == []
    with pytest.raises(exception.NotFound):
        registry.delete_item(namespace="ns", kind=ObjectDef, name="o")


def test_associations_and_resource_types(registry: Registry) -> None:
    registry.create_definition(definition=Definition(Namespace("ns")))
    registry.associate(namespace="ns", association=Association("Brand::New", prefix="b_"))
    assert "Brand::New" in [t.name for t in registry.resource_types()]
    with pytest.raises(exception.Duplicate):
        registry.associate(namespace="ns", association=Association("Brand::New"))
    registry.dissociate(namespace="ns", resource_type="Brand::New")
    with pytest.raises(exception.NotFound):
        registry.dissociate(namespace="ns", resource_type="Brand::New")


def test_list_visibility_filters_and_pages(registry: Registry) -> None:
    for name, visibility, owner in (("a", "public", "p1"), ("b", "private", "p1"),
                                    ("c", "private", "p2"), ("d", "public", None)):
        registry.create_definition(definition=Definition(
            Namespace(name, visibility=visibility, owner=owner),
            associations=(Association("OS::Nova::Flavor"),) if name in "ac" else ()))

    def names(**query: object) -> list[str]:
        found = registry.list_namespaces(query=NamespaceQuery(
            **{"limit": 10, "sort_key": "namespace", "sort_dir": "asc", **query}))
        return [d.namespace.namespace for d in found]

    assert names(viewer="p1") == ["a", "b", "d"]
    assert names(viewer=None) == ["a", "d"]
    assert names(viewer_is_admin=True) == ["a", "b", "c", "d"]
    assert names(viewer_is_admin=True, visibility="private") == ["b", "c"]
    assert names(viewer_is_admin=True, resource_types=("OS::Nova::Flavor",)) == ["a", "c"]
    assert names(viewer_is_admin=True, limit=2, marker="b") == ["c", "d"]
    assert names(viewer_is_admin=True, sort_dir="desc", limit=2, marker="c") == ["b", "a"]
    assert names(viewer_is_admin=True, sort_key="display_name", limit=2) == ["a", "b"]


def test_load_creates_replaces_and_merges(registry: Registry) -> None:
    assert registry.load_definition(definition=full("cat"), merge=False) == "created"
    registry.add_items(namespace="cat", kind=TagDef, items=[TagDef("local")])
    smaller = definition({"namespace": "cat", "visibility": "private",
                          "tags": [{"name": "t1"}, {"name": "extra"}],
                          "properties": {"p": {"title": "Changed", "type": "string"}}})
    assert registry.load_definition(definition=smaller, merge=True) == "merged"
    merged = registry.definition(name="cat")
    assert merged.namespace.visibility == "private"
    assert [t.name for t in merged.tags] == ["extra", "local", "t1", "t2"]
    assert merged.properties[0].schema["title"] == "Changed"
    assert [o.name for o in merged.objects] == ["o"]
    assert registry.load_definition(definition=smaller, merge=False) == "replaced"
    replaced = registry.definition(name="cat")
    assert [t.name for t in replaced.tags] == ["extra", "t1"]
    assert replaced.objects == () and replaced.associations == ()
