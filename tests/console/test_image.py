"""The image page in a real browser: every field, edit through json-patch, deactivate and
reactivate, delete with confirmation, members, copies between stores and import tasks."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Site, create_image


def test_open_an_image_from_the_list_shows_every_field(site: Site, api: httpx.Client,
                                                       page: Page, shots: Path) -> None:
    data = os.urandom(3 << 20)
    image = create_image(api, data, name="ubuntu-24.04-server", tags=["lts", "server"],
                         os_distro="ubuntu", os_version="24.04", hw_firmware_type="uefi",
                         min_disk=4, min_ram=1024)
    page.goto(f"{site.url}/console/#/?q=ubuntu-24.04-server")
    page.click("table.images a:text-is('ubuntu-24.04-server')")
    expect(page).to_have_url(re.compile(f"#/images/{image['id']}$"))
    expect(page.locator("h1")).to_have_text("ubuntu-24.04-server")
    fields = page.locator("dl.fields")
    expect(fields).to_contain_text(image["id"])
    expect(fields).to_contain_text(hashlib.md5(data).hexdigest())
    expect(fields).to_contain_text(hashlib.sha512(data).hexdigest())
    expect(fields).to_contain_text("Hash (sha512)")
    expect(fields).to_contain_text("3.00 MiB (3,145,728 bytes)")   # size
    virtual = page.locator("dt:text-is('Virtual size') + dd")
    expect(virtual).to_have_text("3.00 MiB (3,145,728 bytes)")
    expect(page.locator("dt:text-is('Min. disk') + dd")).to_have_text("4 GiB")
    expect(page.locator("dt:text-is('Min. RAM') + dd")).to_have_text("1024 MiB")
    expect(page.locator("ul.tags li")).to_have_text(["lts", "server"])
    props = page.locator("#properties tbody tr")
    expect(props).to_have_count(3)
    expect(props.filter(has_text="os_version")).to_contain_text("24.04")
    expect(page.locator("#stores tr[data-store=fast]")).to_contain_text("holds a copy")
    expect(page.locator("#stores tr[data-store=cold]")).to_contain_text("no copy")
    expect(page.locator("#download")).to_be_visible()
    page.screenshot(path=str(shots / "image.png"), full_page=True)


def test_edit_name_properties_tags_visibility_protected(site: Site, api: httpx.Client,
                                                       page: Page) -> None:
    image = create_image(api, os.urandom(1024), name="before", tags=["old", "keep"],
                         visibility="private", os_distro="debian", stale="yes")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    page.click("#edit")
    expect(page.locator("#e-name")).to_be_focused()
    page.fill("#e-name", "after")
    page.select_option("#e-visibility", "shared")
    page.check("#e-protected")
    page.fill("#e-min-ram", "512")
    # change one property, remove another, add a new one
    row = page.locator(".edit-props tr", has=page.locator("input[value=os_distro]"))
    row.locator(".prop-value").fill("debian-12")
    page.locator(".edit-props tr", has=page.locator("input[value=stale]")).locator(
        "button", has_text="Remove").click()
    page.click("#add-prop")
    page.locator(".edit-props tr").last.locator(".prop-key").fill("architecture/cpu")
    page.locator(".edit-props tr").last.locator(".prop-value").fill("x86_64")
    page.click("button[aria-label='Remove tag old']")
    page.fill("#e-tag", "new")
    page.press("#e-tag", "Enter")
    page.click("#save")
    expect(page.locator("h1")).to_have_text("after")
    expect(page.locator("#toast")).to_have_text("Changes saved")
    saved = api.get(f"/v2/images/{image['id']}").json()
    assert saved["name"] == "after"
    assert saved["visibility"] == "shared"
    assert saved["protected"] is True
    assert saved["min_ram"] == 512
    assert saved["os_distro"] == "debian-12"
    assert "stale" not in saved
    assert saved["architecture/cpu"] == "x86_64"
    assert sorted(saved["tags"]) == ["keep", "new"]
    # the page shows what was saved; a protected image cannot be deleted
    expect(page.locator("#properties")).to_contain_text("architecture/cpu")
    expect(page.locator("#properties")).not_to_contain_text("stale")
    expect(page.locator("#delete")).to_be_disabled()
    expect(page.locator("#members")).to_have_count(0)   # shared, but no members yet
    expect(page.locator("#s-members")).to_be_visible()

    # a refused change shows the server's message and keeps the form
    page.click("#edit")
    page.click("#add-prop")
    page.locator(".edit-props tr").last.locator(".prop-key").fill("os_glance_mine")
    page.locator(".edit-props tr").last.locator(".prop-value").fill("x")
    page.click("#save")
    expect(page.locator("form.edit .error-box")).to_contain_text("reserved")
    page.click("#cancel-edit")
    expect(page.locator("#edit")).to_be_visible()
    assert "os_glance_mine" not in api.get(f"/v2/images/{image['id']}").json()


def test_deactivate_and_reactivate(site: Site, api: httpx.Client, page: Page) -> None:
    image = create_image(api, os.urandom(2048), name="toggle-me")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    page.click("#deactivate")
    expect(page.locator(".image-head .status")).to_have_text("deactivated")
    assert api.get(f"/v2/images/{image['id']}").json()["status"] == "deactivated"
    expect(page.locator("#reactivate")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator(".image-head .status")).to_have_text("active")
    assert api.get(f"/v2/images/{image['id']}").json()["status"] == "active"


def test_delete_asks_first(site: Site, api: httpx.Client, page: Page) -> None:
    image = create_image(api, os.urandom(4096), name="doomed")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    page.click("#delete")
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Delete “doomed”?")
    page.keyboard.press("Escape")                       # changed my mind
    expect(dialog).to_be_hidden()
    assert api.get(f"/v2/images/{image['id']}").status_code == 200
    page.click("#delete")
    dialog.locator("button", has_text="Delete image").click()
    expect(page).to_have_url(re.compile(r"#/$"))
    expect(page.locator("#toast")).to_have_text("Image deleted")
    assert api.get(f"/v2/images/{image['id']}").status_code == 404
    assert not [p for p in site.stored() if image["id"] in p.name]
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    expect(page.locator("h1")).to_have_text("Image not found")


def test_members_of_a_shared_image(site: Site, api: httpx.Client, page: Page) -> None:
    image = create_image(api, os.urandom(512), name="shared-one", visibility="shared")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    page.fill("#member-id", "proj-friend")
    page.click("button:text('Add member')")
    row = page.locator("#members tr[data-member=proj-friend]")
    expect(row).to_contain_text("pending")
    members = api.get(f"/v2/images/{image['id']}/members").json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [("proj-friend", "pending")]
    row.locator("button", has_text="Remove").click()
    expect(row).to_have_count(0)
    assert api.get(f"/v2/images/{image['id']}/members").json()["members"] == []


def test_copy_to_another_store_and_watch_it(site: Site, api: httpx.Client, page: Page) -> None:
    data = os.urandom(24 << 20)
    image = create_image(api, data, name="to-copy")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    expect(page.locator("#tasks")).to_have_count(0)
    page.click("button[data-copy=cold]")
    # the page follows the copy by itself, without a reload
    expect(page.locator("#stores tr[data-store=cold]")).to_contain_text("holds a copy",
                                                                        timeout=30000)
    expect(page.locator("#tasks tbody tr")).to_have_count(1)
    expect(page.locator("#tasks tbody tr")).to_contain_text("copy-image")
    expect(page.locator("#tasks tbody tr .status")).to_have_text("success")
    saved = api.get(f"/v2/images/{image['id']}").json()
    assert saved["stores"] == "fast,cold"
    held = [p for p in site.dirs["cold"].iterdir() if image["id"] in p.name]
    assert len(held) == 1 and hashlib.md5(held[0].read_bytes()).hexdigest() == saved["checksum"]

    # and the copy can go again (never the last one: no button then)
    page.click("button[data-uncopy=cold]")
    page.locator("dialog#confirm button", has_text="Remove copy").click()
    expect(page.locator("#stores tr[data-store=cold]")).to_contain_text("no copy")
    expect(page.locator("button[data-uncopy]")).to_have_count(0)
    assert api.get(f"/v2/images/{image['id']}").json()["stores"] == "fast"
    deadline = time.monotonic() + 10
    while [p for p in site.dirs["cold"].iterdir() if image["id"] in p.name]:
        assert time.monotonic() < deadline, "the copy's file stayed in the cold store"
        time.sleep(0.1)


def test_phone_width(site: Site, api: httpx.Client, browser, watch, shots: Path) -> None:
    from tests.console.conftest import check_page, open_page
    image = create_image(api, os.urandom(4096), name="a-rather-long-image-name-for-a-phone",
                         tags=["phone"], os_distro="alpine")
    page = open_page(browser, watch, viewport={"width": 390, "height": 844},
                     device_scale_factor=2, is_mobile=True, has_touch=True)
    try:
        page.goto(f"{site.url}/console/#/?tag=phone")
        expect(page.locator("table.images tbody tr")).to_have_count(1)
        # nothing wider than the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "list-phone.png"), full_page=True)
        page.click(f"a[href='#/images/{image['id']}']")
        expect(page.locator("h1")).to_have_text(image["name"])
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots / "image-phone.png"), full_page=True)
    finally:
        page.context.close()
    check_page(watch)
