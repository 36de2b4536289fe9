"""Metadata definitions over v2 against a real glance-api: namespaces, objects, properties,
tags and resource types; who sees and changes what; duplicates; the schemas every answer
validates against; the catalogue loaded with `glance db load-metadefs` and exported back."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from glance.testing import RunningServer, start_server

NS = "/v2/metadefs/namespaces"
OWNER = {"X-Project-Id": "p1", "X-Roles": "member"}
OTHER = {"X-Project-Id": "p2", "X-Roles": "member"}
ADMIN = {"X-Project-Id": "ops", "X-Roles": "admin"}
STARTER = Path(__file__).resolve().parents[2] / "etc" / "metadefs"
SCHEMA_NAMES = ("namespace", "namespaces", "object", "objects", "property", "properties",
                "tag", "tags", "resource_type", "resource_types")


def unique(prefix: str = "ns") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def schema(http: httpx.Client, name: str) -> dict[str, Any]:
    resp = http.get(f"/v2/schemas/metadefs/{name}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def valid(http: httpx.Client, name: str, body: Any) -> Any:
    """``body``, after checking it against the schema the server serves as ``name``."""
    jsonschema.Draft4Validator(schema(http, name)).validate(body)
    return body


def create(http: httpx.Client, headers: dict[str, str] | None = None, **fields: Any
           ) -> dict[str, Any]:
    """A new namespace of p1's (made by an admin when it is public)."""
    body = {"namespace": unique(), **fields}
    if body.get("visibility") == "public" and headers is None:
        headers, body["owner"] = ADMIN, "p1"
    resp = http.post(NS, json=body, headers=headers or OWNER)
    assert resp.status_code == 201, resp.text
    return dict(valid(http, "namespace", resp.json()))


# -- schemas and resource types -------------------------------------------------------------

@pytest.mark.parametrize("name", SCHEMA_NAMES)
def test_schemas_are_served_and_valid(http, name):
    served = schema(http, name)
    jsonschema.Draft4Validator.check_schema(served)
    expected = {"resource_type": "resource_type_association",
                "resource_types": "resource_type_associations"}.get(name, name)
    assert served["name"] == expected


def test_resource_types_are_listed_from_the_start(http):
    resp = http.get("/v2/metadefs/resource_types", headers=OTHER)
    assert resp.status_code == 200
    names = [t["name"] for t in resp.json()["resource_types"]]
    assert {"OS::Glance::Image", "OS::Nova::Flavor", "OS::Cinder::Volume"} <= set(names)
    assert all(t["created_at"].endswith("Z") for t in resp.json()["resource_types"])


# -- namespaces ------------------------------------------------------------------------------

def test_namespace_create_show_update_delete(http):
    name = unique()
    body = {"namespace": name, "display_name": "Mine", "description": "for tests",
            "visibility": "public",
            "resource_type_associations": [{"name": "OS::Glance::Image", "prefix": "hw_"}],
            "properties": {"cpu_count": {"title": "CPUs", "type": "integer", "minimum": 1}},
            "objects": [{"name": "Disk", "required": ["bus"],
                         "properties": {"bus": {"title": "Bus", "type": "string",
                                                "enum": ["virtio", "scsi"]}}}],
            "tags": [{"name": "alpha"}, {"name": "beta"}]}
    assert http.post(NS, json=body, headers=OWNER).status_code == 403  # public: admins
    resp = http.post(NS, json={**body, "owner": "p1"}, headers=ADMIN)
    assert resp.status_code == 201, resp.text
    created = valid(http, "namespace", resp.json())
    assert resp.headers["Location"] == f"{NS}/{name}"
    assert created["owner"] == "p1" and created["protected"] is False
    assert created["self"] == f"{NS}/{name}"
    assert created["schema"] == "/v2/schemas/metadefs/namespace"
    assert created["properties"]["cpu_count"]["minimum"] == 1
    assert [t["name"] for t in created["tags"]] == ["alpha", "beta"]

    shown = valid(http, "namespace", http.get(f"{NS}/{name}", headers=OWNER).json())
    assert shown["objects"][0]["self"] == f"{NS}/{name}/objects/Disk"
    prefixed = http.get(f"{NS}/{name}", params={"resource_type": "OS::Glance::Image"}).json()
    assert set(prefixed["properties"]) == {"hw_cpu_count"}
    assert prefixed["objects"][0]["required"] == ["hw_bus"]

    renamed = unique()
    resp = http.put(f"{NS}/{name}", json={"namespace": renamed, "visibility": "private",
                                          "display_name": "Renamed"}, headers=OWNER)
    assert resp.status_code == 200, resp.text
    updated = valid(http, "namespace", resp.json())
    assert (updated["namespace"], updated["visibility"]) == (renamed, "private")
    assert updated["updated_at"] >= updated["created_at"]
    assert http.get(f"{NS}/{name}").status_code == 404
    assert len(http.get(f"{NS}/{renamed}").json()["objects"]) == 1  # contents follow

    assert http.delete(f"{NS}/{renamed}", headers=OWNER).status_code == 204
    assert http.get(f"{NS}/{renamed}").status_code == 404
    assert http.delete(f"{NS}/{renamed}").status_code == 404


def test_duplicate_namespace_is_409_on_create_and_rename(http):
    first, second = create(http), create(http)
    resp = http.post(NS, json={"namespace": first["namespace"]}, headers=ADMIN)
    assert resp.status_code == 409
    assert resp.json()["error"]["code"] == 409
    resp = http.put(f"{NS}/{second['namespace']}", json={"namespace": first["namespace"]},
                    headers=OWNER)
    assert resp.status_code == 409
    assert http.get(f"{NS}/{second['namespace']}").status_code == 200


@pytest.mark.parametrize("body, status", [
    ({}, 400),
    ({"namespace": ""}, 400),
    ({"namespace": "a" * 81}, 400),
    ({"namespace": "x", "visibility": "shared"}, 400),
    ({"namespace": "x", "protected": "yes"}, 400),
    ({"namespace": "x", "bogus": 1}, 400),
    ({"namespace": "x", "properties": {"p": {"type": "string"}}}, 400),  # no title
    ({"namespace": "x", "properties": {"p": {"title": "P", "type": "text"}}}, 400),
    ({"namespace": "x", "properties": {"p": {"title": "P", "type": "integer",
                                             "default": "1"}}}, 400),
    ({"namespace": "x", "properties": {"p": {"title": "P", "type": "string",
                                             "enum": ["a"], "default": "b"}}}, 400),
    ({"namespace": "x", "tags": [{"name": "t"}, {"name": "t"}]}, 409),
    ({"namespace": "x", "created_at": "2020-01-01T00:00:00Z"}, 403),
    ({"namespace": "x", "self": "/elsewhere"}, 403),
])
def test_bad_namespace_bodies(http, body, status):
    resp = http.post(NS, json=body, headers=OWNER)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == status


def test_protected_namespace_and_its_contents_cannot_be_deleted(http):
    ns = create(http, protected=True, objects=[{"name": "o"}], tags=[{"name": "t"}],
                properties={"p": {"title": "P", "type": "string"}},
                resource_type_associations=[{"name": "OS::Nova::Flavor"}])
    path = f"{NS}/{ns['namespace']}"
    for url in (path, f"{path}/objects/o", f"{path}/objects", f"{path}/tags/t", f"{path}/tags",
                f"{path}/properties/p", f"{path}/properties",
                f"{path}/resource_types/OS::Nova::Flavor"):
        assert http.delete(url, headers=ADMIN).status_code == 403, url
    # still changeable; once unprotected it goes
    assert http.post(f"{path}/tags/more", headers=OWNER).status_code == 201
    resp = http.put(path, json={"namespace": ns["namespace"], "protected": False},
                    headers=OWNER)
    assert resp.json()["protected"] is False
    assert http.delete(path, headers=OWNER).status_code == 204


def test_delete_all_objects_properties_tags(http):
    ns = create(http, objects=[{"name": "o1"}, {"name": "o2"}], tags=[{"name": "t"}],
                properties={"p": {"title": "P", "type": "boolean"}})
    path = f"{NS}/{ns['namespace']}"
    for part in ("objects", "properties", "tags"):
        assert http.delete(f"{path}/{part}", headers=OWNER).status_code == 204
    shown = http.get(path).json()
    assert not {"objects", "properties", "tags"} & set(shown)


# -- who sees and changes what --------------------------------------------------------------

@pytest.mark.parametrize("visibility", ["public", "private"])
@pytest.mark.parametrize("caller", ["owner", "other", "admin"])
def test_access_rules(http, visibility, caller):
    ns = create(http, visibility=visibility, tags=[{"name": "t"}])
    headers = {"owner": OWNER, "other": OTHER, "admin": ADMIN}[caller]
    path = f"{NS}/{ns['namespace']}"
    sees = caller != "other" or visibility == "public"
    changes = caller != "other"
    listed = [n["namespace"] for n in http.get(NS, params={"limit": 1000},
                                               headers=headers).json()["namespaces"]]
    assert (ns["namespace"] in listed) == sees
    assert http.get(path, headers=headers).status_code == (200 if sees else 404)
    assert http.get(f"{path}/tags/t", headers=headers).status_code == (200 if sees else 404)
    denied = 403 if sees else 404
    writes = [
        http.put(path, json={"namespace": ns["namespace"], "visibility": visibility},
                 headers=headers),
        http.post(f"{path}/objects", json={"name": "o"}, headers=headers),
        http.post(f"{path}/properties", json={"name": "p", "title": "P", "type": "string"},
                  headers=headers),
        http.post(f"{path}/tags/new", headers=headers),
        http.post(f"{path}/resource_types", json={"name": "OS::Glance::Image"},
                  headers=headers),
        http.delete(f"{path}/tags/t", headers=headers),
    ]
    for resp in writes:
        assert resp.status_code in ((200, 201, 204) if changes else (denied,)), resp.text
    resp = http.delete(path, headers=headers)
    assert resp.status_code == (204 if changes else denied)


def test_only_an_admin_makes_a_namespace_public(http):
    ns = create(http)
    path, name = f"{NS}/{ns['namespace']}", ns["namespace"]
    assert http.put(path, json={"namespace": name, "visibility": "public"},
                    headers=OWNER).status_code == 403
    resp = http.put(path, json={"namespace": name, "visibility": "public"}, headers=ADMIN)
    assert resp.json()["visibility"] == "public" and resp.json()["owner"] == "p1"
    # the owner changes its public namespace, keeping it public
    resp = http.put(path, json={"namespace": name, "visibility": "public",
                                "description": "mine"}, headers=OWNER)
    assert resp.status_code == 200 and resp.json()["description"] == "mine"


def test_only_an_admin_sets_another_owner(http):
    resp = http.post(NS, json={"namespace": unique(), "owner": "p9"}, headers=OWNER)
    assert resp.status_code == 403
    ns = create(http, headers=ADMIN, owner="p9")
    assert ns["owner"] == "p9"
    resp = http.put(f"{NS}/{ns['namespace']}",
                    json={"namespace": ns["namespace"], "owner": "p1"}, headers=ADMIN)
    assert resp.json()["owner"] == "p1"
    # the new owner may now change it
    resp = http.post(f"{NS}/{ns['namespace']}/tags/mine", headers=OWNER)
    assert resp.status_code == 201


# -- listing ---------------------------------------------------------------------------------

def test_list_filters_paging_and_links(server: RunningServer):
    project = {"X-Project-Id": unique("proj"), "X-Roles": "member"}
    with httpx.Client(base_url=server.url, headers=project) as http:
        names = [create(http, headers=project, visibility=v)["namespace"]
                 for v in ("private", "private", "private")]
        tagged = create(http, headers=project, visibility="private",
                        resource_type_associations=[{"name": "OS::Nova::Aggregate"}])
        mine = {"visibility": "private"}
        page = valid(http, "namespaces", http.get(NS, params={**mine, "limit": 2}).json())
        assert [n["namespace"] for n in page["namespaces"]] == [tagged["namespace"],
                                                                 names[2]]
        assert page["first"] == f"{NS}?visibility=private&limit=2"
        assert page["schema"] == "/v2/schemas/metadefs/namespaces"
        rest = http.get(page["next"]).json()
        assert [n["namespace"] for n in rest["namespaces"]] == [names[1], names[0]]
        ascending = http.get(NS, params={**mine, "sort_dir": "asc", "sort_key": "namespace"})
        got = [n["namespace"] for n in ascending.json()["namespaces"]]
        assert got == sorted([*names, tagged["namespace"]])
        by_type = http.get(NS, params={"resource_types": "OS::Nova::Aggregate,None::Such"})
        listed = by_type.json()["namespaces"]
        assert tagged["namespace"] in [n["namespace"] for n in listed]
        assert all(n["resource_type_associations"] for n in listed)
        for bad in ({"visibility": "shared"}, {"sort_dir": "up"}, {"sort_key": "owner"},
                    {"limit": "-1"}):
            assert http.get(NS, params=bad).status_code == 400, bad
        assert http.get(NS, params={"marker": "no-such-namespace"}).status_code == 404


# -- objects, properties, tags, associations ----------------------------------------------------

def test_objects_crud_and_duplicates(http):
    path = f"{NS}/{create(http)['namespace']}/objects"
    obj = {"name": "Net", "description": "a network card", "required": ["model"],
           "properties": {"model": {"title": "Model", "type": "string"}}}
    resp = http.post(path, json=obj, headers=OWNER)
    assert resp.status_code == 201, resp.text
    created = valid(http, "object", resp.json())
    assert created["self"].endswith("/objects/Net") and created["required"] == ["model"]
    assert http.post(path, json=obj, headers=OWNER).status_code == 409
    assert http.post(path, json={"name": "Bad", "properties": {"x": {"type": "string"}}},
                     headers=OWNER).status_code == 400
    http.post(path, json={"name": "Other"}, headers=OWNER)
    assert http.put(f"{path}/Net", json={"name": "Other"}, headers=OWNER).status_code == 409
    resp = http.put(f"{path}/Net", json={"name": "Nic", "description": "renamed"},
                    headers=OWNER)
    assert resp.status_code == 200 and resp.json()["name"] == "Nic"
    listed = valid(http, "objects", http.get(path).json())
    assert sorted(o["name"] for o in listed["objects"]) == ["Nic", "Other"]
    assert http.get(f"{path}/Net").status_code == 404
    assert http.delete(f"{path}/Nic", headers=OWNER).status_code == 204
    assert http.delete(f"{path}/Nic", headers=OWNER).status_code == 404


def test_properties_crud_type_checks_and_prefix(http):
    ns = create(http, resource_type_associations=[{"name": "OS::Glance::Image",
                                                   "prefix": "os_"}])
    path = f"{NS}/{ns['namespace']}/properties"
    prop = {"name": "distro", "title": "Distro", "type": "string", "enum": ["a", "b"],
            "default": "a"}
    resp = http.post(path, json=prop, headers=OWNER)
    assert resp.status_code == 201, resp.text
    assert valid(http, "property", resp.json()) == prop
    assert http.post(path, json=prop, headers=OWNER).status_code == 409
    for bad in ({**prop, "name": "x", "type": "str"}, {**prop, "name": "x", "enum": "a"},
                {"name": "x", "title": "X", "type": "integer", "minimum": "1"},
                {"name": "x", "title": "X", "type": "array", "items": {"type": "nope"}},
                {"name": "x", "title": "X", "type": "string", "maxLength": -1},
                {"name": "x", "type": "string"}, {"name": "x", "title": "X"}):
        assert http.post(path, json=bad, headers=OWNER).status_code == 400, bad
    shown = http.get(f"{path}/os_distro", params={"resource_type": "OS::Glance::Image"})
    assert shown.status_code == 200 and shown.json()["name"] == "os_distro"
    assert http.get(f"{path}/distro", params={"resource_type": "OS::Glance::Image"}
                    ).status_code == 404
    resp = http.put(f"{path}/distro", json={"title": "Distribution", "type": "string"},
                    headers=OWNER)
    assert resp.status_code == 200 and resp.json() == {
        "name": "distro", "title": "Distribution", "type": "string"}
    listed = valid(http, "properties", http.get(path).json())
    assert listed["properties"] == {"distro": {"title": "Distribution", "type": "string"}}
    assert http.delete(f"{path}/distro", headers=OWNER).status_code == 204
    assert http.get(f"{path}/distro").status_code == 404


def test_tags_one_many_append_rename_delete(http):
    path = f"{NS}/{create(http, tags=[{'name': 'old'}])['namespace']}/tags"
    resp = http.post(f"{path}/one", headers=OWNER)
    assert resp.status_code == 201 and valid(http, "tag", resp.json())["name"] == "one"
    assert http.post(f"{path}/one", headers=OWNER).status_code == 409
    resp = http.post(path, json={"tags": [{"name": "a"}, {"name": "b"}]}, headers=OWNER)
    assert resp.status_code == 201, resp.text
    assert [t["name"] for t in valid(http, "tags", resp.json())["tags"]] == ["a", "b"]
    assert [t["name"] for t in http.get(path).json()["tags"]] == ["a", "b"]  # replaced
    resp = http.post(path, json={"tags": [{"name": "c"}]},
                     headers={**OWNER, "X-Openstack-Append": "true"})
    assert resp.status_code == 201
    assert [t["name"] for t in http.get(path).json()["tags"]] == ["a", "b", "c"]
    assert http.post(path, json={"tags": [{"name": "a"}]},
                     headers={**OWNER, "X-Openstack-Append": "true"}).status_code == 409
    assert http.post(path, json={"tags": [{"name": "x"}, {"name": "x"}]},
                     headers=OWNER).status_code == 409
    assert http.put(f"{path}/a", json={"name": "b"}, headers=OWNER).status_code == 409
    resp = http.put(f"{path}/a", json={"name": "z"}, headers=OWNER)
    assert resp.status_code == 200 and resp.json()["name"] == "z"
    assert http.delete(f"{path}/z", headers=OWNER).status_code == 204
    assert http.get(f"{path}/z").status_code == 404
    assert http.delete(path, headers=OWNER).status_code == 204
    assert http.get(path).json()["tags"] == []
    http.post(f"{path}/last", headers=OWNER)
    resp = http.post(path, json={"tags": []}, headers=OWNER)  # replaces them with none
    assert resp.status_code == 201 and resp.json() == {"tags": []}
    assert http.get(path).json()["tags"] == []


def test_objects_and_tags_lists_page(http):
    ns = create(http, tags=[{"name": n} for n in ("d", "b", "a", "c")],
                objects=[{"name": n} for n in ("o2", "o1", "o3")])
    path = f"{NS}/{ns['namespace']}"
    page = http.get(f"{path}/tags", params={"limit": 3}).json()
    assert [t["name"] for t in page["tags"]] == ["a", "b", "c"]
    rest = http.get(page["next"]).json()
    assert [t["name"] for t in rest["tags"]] == ["d"] and "next" not in rest
    desc = http.get(f"{path}/tags", params={"sort_dir": "desc", "marker": "c"}).json()
    assert [t["name"] for t in desc["tags"]] == ["b", "a"]
    page = valid(http, "objects", http.get(f"{path}/objects", params={"limit": 2}).json())
    assert [o["name"] for o in page["objects"]] == ["o1", "o2"]
    assert [o["name"] for o in http.get(page["next"]).json()["objects"]] == ["o3"]
    by_time = http.get(f"{path}/objects", params={"sort_key": "created_at"}).json()
    assert len(by_time["objects"]) == 3
    for bad in ({"sort_key": "size"}, {"sort_dir": "sideways"}, {"limit": "x"}):
        assert http.get(f"{path}/tags", params=bad).status_code == 400, bad
    assert http.get(f"{path}/tags", params={"marker": "zz"}).status_code == 404


def test_resource_type_associations(http):
    path = f"{NS}/{create(http)['namespace']}/resource_types"
    body = {"name": "OS::Nova::Server", "prefix": "srv_", "properties_target": "metadata"}
    resp = http.post(path, json=body, headers=OWNER)
    assert resp.status_code == 201, resp.text
    assert valid(http, "resource_type", resp.json())["prefix"] == "srv_"
    assert http.post(path, json=body, headers=OWNER).status_code == 409
    new_type = unique("OS::Test")
    assert http.post(path, json={"name": new_type}, headers=OWNER).status_code == 201
    types = [t["name"] for t in http.get("/v2/metadefs/resource_types").json()
             ["resource_types"]]
    assert new_type in types  # recorded when first associated
    listed = valid(http, "resource_types", http.get(path).json())
    assert {a["name"] for a in listed["resource_type_associations"]} == {
        "OS::Nova::Server", new_type}
    assert http.delete(f"{path}/OS::Nova::Server", headers=OWNER).status_code == 204
    assert http.delete(f"{path}/OS::Nova::Server", headers=OWNER).status_code == 404
    assert http.get(f"{NS}/no-such/resource_types").status_code == 404


# -- the catalogue: load and export ---------------------------------------------------------

def normal(document: dict[str, Any]) -> dict[str, Any]:
    """A catalogue document with its lists in name order (the export writes them so)."""
    return {key: sorted(value, key=lambda item: item["name"]) if isinstance(value, list)
            else value for key, value in document.items()}


def glance_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "glance.cli.main", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def loaded_server(tmp_path: Path):
    srv = start_server(tmp_path / "data")
    yield srv
    srv.stop()


def test_starter_catalogue_loads_and_is_served(loaded_server: RunningServer, tmp_path: Path):
    data_dir = str(loaded_server.data_dir)
    result = glance_cli("db", "load-metadefs", str(STARTER), "--data-dir", data_dir, "--json")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)["loaded"]
    files = sorted(STARTER.glob("*.json"))
    assert len(loaded) == len(files) >= 3
    assert {r["result"] for r in loaded} == {"created"}
    with httpx.Client(base_url=loaded_server.url, headers=OTHER) as http:
        listed = http.get(NS, params={"resource_types": "OS::Glance::Image"}).json()
        names = {n["namespace"] for n in listed["namespaces"]}
        expected = {json.loads(f.read_text())["namespace"] for f in files}
        assert expected <= names  # public: any project sees them
        watchdog = http.get(f"{NS}/Starter::Compute::Watchdog",
                            params={"resource_type": "OS::Nova::Flavor"}).json()
        valid(http, "namespace", watchdog)
        assert watchdog["properties"]["hw:watchdog_action"]["default"] == "disabled"
        cpu = http.get(f"{NS}/Starter::Compute::Hardware/objects/CPU topology")
        assert cpu.status_code == 200, cpu.text
        assert cpu.json()["self"].endswith("/objects/CPU%20topology")
        assert http.get(cpu.json()["self"]).json() == cpu.json()
        assert http.delete(f"{NS}/Starter::Compute::Watchdog", headers=ADMIN
                           ).status_code == 403  # protected
        # a change made over the API, then the catalogue loaded again: replace or merge
        path = f"{NS}/Starter::OS::Info/tags"
        assert http.post(f"{path}/local", headers=ADMIN).status_code == 201
        merge = glance_cli("db", "load-metadefs", str(STARTER), "--data-dir", data_dir,
                           "--merge", "--json")
        assert {r["result"] for r in json.loads(merge.stdout)["loaded"]} == {"merged"}
        assert "local" in [t["name"] for t in http.get(path).json()["tags"]]
        replace = glance_cli("db", "load-metadefs", str(STARTER), "--data-dir", data_dir)
        assert replace.returncode == 0 and "replaced" in replace.stdout
        assert "local" not in [t["name"] for t in http.get(path).json()["tags"]]

    out = tmp_path / "exported"
    result = glance_cli("db", "export-metadefs", str(out), "--data-dir", data_dir)
    assert result.returncode == 0, result.stderr
    for original in files:
        document = json.loads(original.read_text())
        exported = json.loads((out / (document["namespace"].replace("::", "_") + ".json"))
                              .read_text())
        assert normal(exported) == normal(document)


def test_load_refuses_a_bad_file_and_loads_nothing(loaded_server: RunningServer,
                                                   tmp_path: Path):
    catalogue = tmp_path / "catalogue"
    catalogue.mkdir()
    (catalogue / "a.json").write_text(json.dumps({"namespace": "fine-one"}))
    (catalogue / "b.json").write_text(json.dumps({"namespace": "bad", "properties": {
        "p": {"title": "P", "type": "strng"}}}))
    result = glance_cli("db", "load-metadefs", str(catalogue), "--data-dir",
                        str(loaded_server.data_dir))
    assert result.returncode != 0
    assert "b.json" in result.stderr
    assert httpx.get(f"{loaded_server.url}{NS}/fine-one").status_code == 404


# -- python-glanceclient, unmodified ----------------------------------------------------------

def test_python_glanceclient_metadefs(server: RunningServer):
    """The library behind `glance md-*`: it validates what it sends and receives against the
    schemas we serve, and sends back whole records on update."""
    from glanceclient import Client

    client = Client("2", endpoint=server.url, token="x")
    name = unique("gc")
    created = client.metadefs_namespace.create(
        namespace=name, visibility="public", description="by glanceclient",
        resource_type_associations=[{"name": "OS::Glance::Image", "prefix": "gc_"}])
    assert created["namespace"] == name
    client.metadefs_property.create(name, name="speed", title="Speed", type="integer",
                                    minimum=0)
    client.metadefs_object.create(name, name="Thing", description="a thing",
                                  properties={"size": {"title": "Size", "type": "number"}})
    client.metadefs_tag.create(name, "gone")
    # (append=True makes glanceclient 4.x itself fail: it sends the header's value as a bool)
    tags = list(client.metadefs_tag.create_multiple(name, tags=["x", "y"]))
    assert [t["name"] for t in tags] == ["x", "y"]
    client.metadefs_tag.create(name, "first")
    assert sorted(t["name"] for t in client.metadefs_tag.list(name)) == ["first", "x", "y"]
    assert name in [n["namespace"] for n in client.metadefs_namespace.list()]

    updated = client.metadefs_namespace.update(name, description="changed")
    assert updated["description"] == "changed"
    assert client.metadefs_object.update(name, "Thing", description="still")["description"] \
        == "still"
    assert client.metadefs_property.update(name, "speed", title="Fast")["title"] == "Fast"
    assert client.metadefs_tag.update(name, "first", name="second")["name"] == "second"
    shown = client.metadefs_namespace.get(name, resource_type="OS::Glance::Image")
    assert set(shown["properties"]) == {"gc_speed"}

    types = [t["name"] for t in client.metadefs_resource_type.list()]
    assert "OS::Nova::Flavor" in types
    client.metadefs_resource_type.associate(name, name="OS::Nova::Flavor", prefix="gc:")
    assert {a["name"] for a in client.metadefs_resource_type.get(name)} == {
        "OS::Glance::Image", "OS::Nova::Flavor"}
    client.metadefs_resource_type.deassociate(name, "OS::Nova::Flavor")
    client.metadefs_tag.delete_all(name)
    client.metadefs_property.delete_all(name)
    client.metadefs_object.delete_all(name)
    client.metadefs_namespace.delete(name)
    assert name not in [n["namespace"] for n in client.metadefs_namespace.list()]


def test_openstacksdk_metadefs(server: RunningServer):
    """openstacksdk's image proxy, unmodified, over the metadefs API."""
    import openstack

    conn = openstack.connection.Connection(auth_type="none",
                                           image_endpoint_override=server.url + "/v2")
    try:
        image = conn.image
        name = unique("sdk")
        created = image.create_metadef_namespace(namespace=name, visibility="public",
                                                 display_name="From the SDK")
        assert created.namespace == name and created.visibility == "public"
        assert name in [n.namespace for n in image.metadef_namespaces()]
        image.create_metadef_property(name, name="level", title="Level", type="integer",
                                      minimum=1, maximum=9)
        assert [p.name for p in image.metadef_properties(name)] == ["level"]
        image.update_metadef_property("level", name, title="Level", type="integer",
                                      maximum=5)
        assert image.get_metadef_property("level", name).maximum == 5
        image.create_metadef_object(name, name="Box", properties={
            "width": {"title": "Width", "type": "number"}})
        assert image.get_metadef_object("Box", name).properties["width"]["type"] == "number"
        image.add_tag_to_metadef_namespace(name, "one")
        image.get_metadef_namespace(name).set_tags(image, ["two", "three"], append=True)
        tags = [t["name"] for t in conn.image.get(f"/metadefs/namespaces/{name}/tags")
                .json()["tags"]]
        assert sorted(tags) == ["one", "three", "two"]
        image.remove_tags_from_metadef_namespace(name)
        assert "OS::Glance::Image" in [t.name for t in image.metadef_resource_types()]
        image.create_metadef_resource_type_association(name, name="OS::Glance::Image",
                                                       prefix="sdk_")
        assert [a.name for a in image.metadef_resource_type_associations(name)] == [
            "OS::Glance::Image"]
        image.delete_metadef_resource_type_association("OS::Glance::Image", name)
        updated = image.update_metadef_namespace(name, description="changed",
                                                 visibility="public")
        assert updated.description == "changed"
        image.delete_all_metadef_objects(name)
        image.delete_all_metadef_properties(name)
        image.delete_metadef_namespace(name)
        assert name not in [n.namespace for n in image.metadef_namespaces()]
    finally:
        conn.close()
