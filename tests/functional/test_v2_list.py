"""Images API v2: GET /v2/images — filters, operators, sorting, paging links (raw HTTP)."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.functional._disks import uninspected_server
from tests.functional._v2 import (active, as_project, assert_error, create, new_project, patch,
                                  unique, validate)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """Placeholder bytes of exact sizes under many disk formats: no format inspection here."""
    yield from uninspected_server(tmp_path_factory)


def listing(http, headers=None, **params):
    resp = http.get("/v2/images", params=params, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()


def names(http, headers=None, **params):
    return [image["name"] for image in listing(http, headers, **params)["images"]]


@pytest.fixture(scope="module")
def catalog(server):
    """Five images sharing a ``suite`` property, made a second apart for time filters."""
    import httpx
    suite = unique("suite")
    made = {}
    with httpx.Client(base_url=server.url, timeout=60) as http:
        specs = [("a", dict(disk_format="raw", tags=["red", "big"]), b"x" * 10),
                 ("b", dict(disk_format="qcow2", tags=["red"]), b"x" * 20),
                 ("c", dict(disk_format="iso", protected=True), b"x" * 30),
                 ("d", dict(disk_format="raw", os_hidden=True), None),
                 ("e", dict(disk_format="vhd", tags=["big"], visibility="public"), None)]
        for letter, extra, data in specs:
            name = f"{suite}-{letter}"
            if data is None:
                image = create(http, name=name, suite=suite, **extra)
            else:
                image = active(http, data, name=name, suite=suite, **extra)
            made[letter] = image
            time.sleep(1.05)
    return suite, made


def test_list_shape_validates_against_schema(server, http, catalog):
    suite, _ = catalog
    body = listing(http, suite=suite)
    assert body["schema"] == "/v2/schemas/images"
    assert body["first"].startswith("/v2/images?")
    assert "next" not in body
    validate(http, "images", body)
    # default: newest first, hidden images left out
    assert [n[-1] for n in names(http, suite=suite)] == ["e", "c", "b", "a"]


@pytest.mark.parametrize("params, expected", [
    ({"disk_format": "raw"}, "a"),
    ({"disk_format": "in:raw,iso"}, "ac"),
    ({"status": "active"}, "abc"),
    ({"status": "in:queued,saving"}, "e"),
    ({"tag": "red"}, "ab"),
    ({"tag": ["red", "big"]}, "a"),
    ({"size_min": "20"}, "bc"),
    ({"size_max": "20"}, "ab"),
    ({"size_min": "15", "size_max": "25"}, "b"),
    # core fields filter on the field, never as a custom property (Tempest: ?size=N)
    ({"size": "20"}, "b"),
    ({"size": "21"}, ""),
    ({"min_ram": "0", "min_disk": "0"}, "abce"),
    ({"os_hash_algo": "sha512"}, "abc"),
    ({"protected": "true"}, "c"),
    ({"protected": "false"}, "abe"),
    ({"os_hidden": "true"}, "d"),
    ({"os_hidden": "True"}, "d"),
    ({"visibility": "public"}, "e"),
    ({"visibility": "shared"}, "abc"),
    ({"container_format": "bare", "disk_format": "vhd"}, "e"),
])
def test_filters(server, http, catalog, params, expected):
    suite, _ = catalog
    got = sorted(n[-1] for n in names(http, suite=suite, **params))
    assert "".join(got) == expected, params


def test_name_and_id_in_operator(server, http, catalog):
    suite, made = catalog
    assert names(http, name=f"{suite}-a") == [f"{suite}-a"]
    found = names(http, name=f'in:"{suite}-a",{suite}-b', sort="name:asc")
    assert found == [f"{suite}-a", f"{suite}-b"]
    found = names(http, id=f"in:{made['c']['id']},{made['e']['id']}", sort="name:asc")
    assert found == [f"{suite}-c", f"{suite}-e"]


def test_time_operators(server, http, catalog):
    suite, made = catalog
    when = made["c"]["created_at"]
    for op, expected in (("gt", "e"), ("gte", "ce"), ("lt", "ab"), ("lte", "abc"),
                         ("eq", "c"), ("neq", "abe")):
        got = sorted(n[-1] for n in names(http, suite=suite, created_at=f"{op}:{when}"))
        assert "".join(got) == expected, op
    got = names(http, suite=suite, updated_at=f"gte:{made['e']['updated_at']}")
    assert got == [f"{suite}-e"]


@pytest.mark.parametrize("params", [
    {"limit": "x"}, {"limit": "-1"}, {"marker": "00000000-0000-0000-0000-000000000000"},
    {"sort_key": "owner"}, {"sort_dir": "up"}, {"sort": "name:up"}, {"sort": "colour"},
    {"sort": "name", "sort_key": "name"}, {"sort_key": ["name", "size"],
                                          "sort_dir": ["asc", "desc", "asc"]},
    {"visibility": "everyone"}, {"member_status": "maybe"}, {"protected": "True"},
    {"os_hidden": "maybe"}, {"size_min": "big"}, {"size": "big"}, {"min_ram": "-1"},
    {"created_at": "gt:yesterday"},
    {"created_at": "around:2020-01-01T00:00:00Z"}, {"name": "gt:a"}, {"status": "sleeping"},
    {"changes-since": "2020-01-01T00:00:00Z"}])
def test_bad_list_parameters_are_400(server, http, params):
    assert_error(http.get("/v2/images", params=params), 400)


def test_extra_property_filter(server, http, catalog):
    suite, made = catalog
    assert len(names(http, suite=suite)) == 4
    assert names(http, suite="no-such-suite") == []


def test_sorting_new_and_old_syntax(server, http, catalog):
    suite, _ = catalog
    assert [n[-1] for n in names(http, suite=suite, sort="name:asc")] == list("abce")
    assert [n[-1] for n in names(http, suite=suite, sort="disk_format:asc,name:desc")] == \
        list("cbae")
    assert [n[-1] for n in names(http, suite=suite, sort_key="name", sort_dir="asc")] == \
        list("abce")
    assert [n[-1] for n in names(http, suite=suite, sort_key=["disk_format", "name"],
                                 sort_dir=["asc", "desc"])] == list("cbae")
    assert [n[-1] for n in names(http, suite=suite, sort="size:asc,name:asc")] == \
        list("eabc")  # null sizes first ascending


def test_paging_follows_next_and_keeps_repeated_params(server, http, catalog):
    suite, _ = catalog
    seen = []
    url = f"/v2/images?suite={suite}&tag=big&tag=big&sort=name:asc&limit=1"
    while url:
        body = http.get(url).json()
        seen += [image["name"][-1] for image in body["images"]]
        url = body.get("next")
        if url:
            query = parse_qsl(urlsplit(url).query)
            assert query.count(("tag", "big")) == 2, url
            assert ("marker", body["images"][-1]["id"]) in query
    assert seen == ["a", "e"]
    # a full last page gets a next link; its page is empty and has none
    body = listing(http, suite=suite, sort="name:asc", limit=4)
    assert len(body["images"]) == 4 and "next" in body
    assert http.get(body["next"]).json()["images"] == []
    assert "marker" not in body["first"]


def test_limit_default_and_cap(server, http, catalog):
    assert listing(http, limit=0)["images"] == []
    body = listing(http, limit=100000)
    assert len(body["images"]) <= 1000


def test_visibility_rules_for_non_admin(server, http):
    owner, member, stranger = new_project(), new_project(), new_project()
    suite = unique("vis")
    own = create(http, headers=as_project(owner), suite=suite, name=f"{suite}-own")
    create(http, headers=as_project(owner), suite=suite, name=f"{suite}-community",
           visibility="community")
    create(http, headers=as_project(owner), suite=suite, name=f"{suite}-private",
           visibility="private")
    create(http, suite=suite, name=f"{suite}-public", visibility="public")
    assert http.post(f"/v2/images/{own['id']}/members", json={"member": member},
                     headers=as_project(owner)).status_code == 200

    def seen(project, **params):
        return sorted(n.split("-")[-1] for n in names(http, as_project(project), suite=suite,
                                                      **params))
    assert seen(owner) == ["community", "own", "private", "public"]
    assert seen(stranger) == ["public"]
    assert seen(stranger, visibility="community") == ["community"]
    assert seen(member) == ["public"]  # pending member: not listed by default
    assert seen(member, member_status="pending") == ["own", "public"]
    assert seen(member, member_status="all") == ["own", "public"]
    resp = http.put(f"/v2/images/{own['id']}/members/{member}", json={"status": "accepted"},
                    headers=as_project(member))
    assert resp.status_code == 200, resp.text
    assert seen(member) == ["own", "public"]
    assert seen(member, visibility="shared") == ["own"]
    assert seen(None if False else owner, visibility="private") == ["private"]
    # an owner's hidden image is left out until asked for
    assert patch(http, own["id"], [{"op": "replace", "path": "/os_hidden", "value": True}],
                 as_project(owner)).status_code == 200
    assert seen(owner) == ["community", "private", "public"]
