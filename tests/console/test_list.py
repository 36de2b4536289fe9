"""The image list in a real browser: sizes, status colours, search, filters, sort, paging,
empty and error states, and 1,000 images at once."""

from __future__ import annotations

import os
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import Site, Watch, check_page, create_image, open_page, start_site


def tag() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def names_in(page: Page) -> list[str]:
    return page.locator("table.images tbody td.name a").all_text_contents()


def expect_names(page: Page, names: list[str]) -> None:
    """Wait until the table lists exactly these names, in this order: a count alone can be met
    by the list shown before the change (a filter that also leaves one row)."""
    expect(page.locator("table.images tbody td.name a")).to_have_text(names)


def test_list_shows_sizes_status_colours_and_badges(site: Site, api: httpx.Client, page: Page,
                                                    shots: Path) -> None:
    t = tag()
    create_image(api, os.urandom(3_000_000), name="ubuntu-24.04-server", tags=[t, "demo"],
                 visibility="public", os_distro="ubuntu")
    create_image(api, os.urandom(1536), name="debian-12-generic", tags=[t], disk_format="raw",
                 visibility="shared")
    create_image(api, name="fedora-41-cloud (no data yet)", tags=[t], disk_format="qcow2")
    protected = create_image(api, os.urandom(200 << 10), name="cirros-0.6.2", tags=[t],
                             protected=True, disk_format="raw", visibility="community")
    api.post(f"/v2/images/{protected['id']}/actions/deactivate")
    page.goto(f"{site.url}/console/#/?tag={t}")
    rows = page.locator("table.images tbody tr")
    expect(rows).to_have_count(4)
    ubuntu = rows.filter(has_text="ubuntu-24.04-server")
    expect(ubuntu.locator("td[data-label=Size]")).to_have_text("2.86 MiB")
    expect(ubuntu.locator(".vis")).to_have_text("public")
    expect(rows.filter(has_text="debian").locator("td[data-label=Size]")).to_have_text(
        "1.50 KiB")
    expect(rows.filter(has_text="fedora").locator("td[data-label=Size]")).to_have_text("—")
    expect(rows.filter(has_text="cirros").locator(".vis.lock")).to_have_text("protected")
    # each status has its own colour
    colours = {}
    for status in ("active", "queued", "deactivated"):
        badge = page.locator(".status", has_text=status).first
        expect(badge).to_be_visible()
        colours[status] = badge.evaluate("e => getComputedStyle(e).color")
    assert len(set(colours.values())) == 3, colours
    page.screenshot(path=str(shots / "list.png"), full_page=True)


def test_search_and_filters(site: Site, api: httpx.Client, page: Page) -> None:
    t = tag()
    create_image(api, os.urandom(1024), name="Ubuntu Noble", tags=[t, "lts"],
                 disk_format="raw", visibility="public")
    create_image(api, name="ubuntu-minimal", tags=[t], disk_format="qcow2")
    create_image(api, os.urandom(2048), name="alpine-3.20", tags=[t], disk_format="raw",
                 visibility="private")
    page.goto(f"{site.url}/console/#/?tag={t}")
    expect(page.locator("table.images tbody tr")).to_have_count(3)

    page.fill("#q", "UBUNTU")               # "contains", whatever the case
    expect(page.locator("table.images tbody tr")).to_have_count(2)
    assert sorted(names_in(page)) == ["Ubuntu Noble", "ubuntu-minimal"]
    assert "q=UBUNTU" in page.url

    page.select_option("#status", "active")
    expect_names(page, ["Ubuntu Noble"])
    page.fill("#q", "")
    expect(page.locator("table.images tbody tr")).to_have_count(2)
    page.select_option("#status", "")

    page.select_option("#disk_format", "qcow2")
    expect_names(page, ["ubuntu-minimal"])
    page.select_option("#disk_format", "")
    expect(page.locator("table.images tbody tr")).to_have_count(3)

    page.select_option("#visibility", "public")
    expect_names(page, ["Ubuntu Noble"])
    page.select_option("#visibility", "")
    expect(page.locator("table.images tbody tr")).to_have_count(3)

    page.fill("#tag", "lts")
    page.press("#tag", "Enter")
    expect_names(page, ["Ubuntu Noble"])

    # the filters live in the address: a reload shows the same list and the same controls
    page.reload()
    expect(page.locator("table.images tbody tr")).to_have_count(1)
    expect(page.locator("#tag")).to_have_value("lts")

    page.fill("#tag", "no-such-tag-anywhere")
    page.press("#tag", "Enter")
    expect(page.locator(".results .empty")).to_contain_text("No images match")
    page.click("button[data-clear]")
    expect(page.locator("#tag")).to_have_value("")
    expect(page.locator("table.images tbody tr").first).to_be_visible()
    assert page.locator("table.images tbody tr").count() >= 3


def test_sort_by_columns(site: Site, api: httpx.Client, page: Page) -> None:
    t = tag()
    for name, size in (("bravo", 3000), ("alpha", 1000), ("charlie", 2000)):
        create_image(api, os.urandom(size), name=name, tags=[t])
    page.goto(f"{site.url}/console/#/?tag={t}")
    expect(page.locator("table.images tbody tr")).to_have_count(3)
    assert names_in(page) == ["charlie", "alpha", "bravo"]  # newest first by default
    page.click("th button[data-sort=name]")
    expect(page.locator("th[aria-sort=ascending] button[data-sort=name]")).to_be_visible()
    expect(page.locator("table.images tbody td.name a").first).to_have_text("alpha")
    assert names_in(page) == ["alpha", "bravo", "charlie"]
    page.click("th button[data-sort=name]")
    expect(page.locator("th[aria-sort=descending] button[data-sort=name]")).to_be_visible()
    expect(page.locator("table.images tbody td.name a").first).to_have_text("charlie")
    assert names_in(page) == ["charlie", "bravo", "alpha"]
    page.click("th button[data-sort=size]")          # largest first
    expect(page.locator("table.images tbody td.name a").first).to_have_text("bravo")
    assert names_in(page) == ["bravo", "charlie", "alpha"]
    # the sort buttons are reachable with the keyboard
    page.focus("th button[data-sort=size]")
    page.keyboard.press("Enter")
    expect(page.locator("table.images tbody td.name a").first).to_have_text("alpha")
    assert "sort=size%3Aasc" in page.url or "sort=size:asc" in page.url


def test_paging_with_markers(site: Site, api: httpx.Client, page: Page) -> None:
    t = tag()
    for i in range(30):
        create_image(api, name=f"page-{i:02d}", tags=[t])
    page.goto(f"{site.url}/console/#/?tag={t}&sort=name:asc")
    expect(page.locator("table.images tbody tr")).to_have_count(25)
    assert names_in(page)[0] == "page-00"
    expect(page.locator("#prev")).to_be_disabled()
    page.click("#next")
    expect_names(page, [f"page-{i:02d}" for i in range(25, 30)])
    expect(page.locator("#next")).to_be_disabled()
    expect(page.locator("#page-info")).to_contain_text("page 2")
    page.click("#prev")
    expect(page.locator("table.images tbody tr")).to_have_count(25)
    assert names_in(page)[0] == "page-00"
    page.select_option("#limit", "50")
    expect(page.locator("table.images tbody tr")).to_have_count(30)
    expect(page.locator("#next")).to_be_disabled()


def test_name_search_reads_past_the_first_page(site: Site, api: httpx.Client,
                                               page: Page) -> None:
    """v2 has no "contains" filter: the console reads the list page by page until it has a
    page of matches, so a match beyond the first page of images is still found."""
    t = tag()
    create_image(api, name="needle-early", tags=[t])
    for i in range(30):
        create_image(api, name=f"hay-{i:02d}", tags=[t])
    create_image(api, name="needle-late", tags=[t])
    page.goto(f"{site.url}/console/#/?tag={t}&limit=25&q=needle")
    expect(page.locator("table.images tbody tr")).to_have_count(2)
    assert sorted(names_in(page)) == ["needle-early", "needle-late"]
    expect(page.locator("#page-info")).to_contain_text("searched 32 images")


def test_empty_catalogue_and_server_gone(browser: Browser, tmp_path: Path) -> None:
    watch = Watch()
    other = start_site(tmp_path)
    page = open_page(browser, watch)
    try:
        page.goto(f"{other.url}/console/")
        expect(page.locator(".results .empty")).to_contain_text("No images yet")
        expect(page.locator(".results .empty a[href='#/upload']")).to_be_visible()
        other.server.stop()
        page.select_option("#status", "active")
        box = page.locator(".results .error-box")
        expect(box).to_contain_text("cannot be reached")
        expect(box.locator("button", has_text="Retry")).to_be_visible()
    finally:
        other.server.stop()
        page.context.close()
    check_page(watch)


def test_a_thousand_images_render_in_well_under_a_second(site: Site, api: httpx.Client,
                                                         page: Page) -> None:
    """The console builds a 1,000-row table in well under a second. Only the console's own
    work (building the rows, ``data-render-ms``) is held to a bound here; request-to-paint
    also counts the server's answer and whatever else the machine does meanwhile, so it is
    printed, and measured on a quiet machine by bench/console.py."""
    t = tag()

    def make(i: int) -> None:
        r = api.post("/v2/images", json={"name": f"bulk-{i:04d}", "tags": [t],
                                          "disk_format": "raw", "container_format": "bare",
                                          "os_distro": "bulk"})
        assert r.status_code == 201

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(make, range(1000)))
    # three loads (name ascending, descending, ascending): the best of them is what the page
    # costs; the others also measure whatever else this 2-core machine is doing
    page.goto(f"{site.url}/console/#/?tag={t}&limit=1000&sort=name:asc")
    timings = []
    for first in ("bulk-0000", "bulk-0999", "bulk-0000"):
        table = page.locator("table.images[data-count='1000'][data-paint-ms]")
        expect(table.locator("tbody td.name a").first).to_have_text(first)
        timings.append((float(table.get_attribute("data-render-ms")),
                        float(table.get_attribute("data-paint-ms"))))
        if len(timings) < 3:  # (each load's first row differs from the one before)
            page.click("th button[data-sort=name]")
    print(f"\n1,000 images (built, request to first paint), ms: {timings}")
    assert min(r for r, _ in timings) < 250, timings
    assert names_in(page)[0] == "bulk-0000" and names_in(page)[-1] == "bulk-0999"
    assert len(names_in(page)) == 1000


def test_everything_is_reachable_with_the_keyboard(site: Site, api: httpx.Client,
                                                   page: Page) -> None:
    t = tag()
    first = create_image(api, name="keyboard-one", tags=[t])
    create_image(api, name="keyboard-two", tags=[t])
    page.goto(f"{site.url}/console/#/?tag={t}")
    expect(page.locator("table.images tbody tr")).to_have_count(2)
    reached = []
    for _ in range(40):
        page.keyboard.press("Tab")
        reached.append(page.evaluate("""() => { const e = document.activeElement;
            return e.id || (e.dataset.sort && `sort:${e.dataset.sort}`) ||
                   e.getAttribute('href') || e.tagName; }"""))
    for wanted in ("#main", "#/", "#/upload", "q", "status", "disk_format", "visibility", "tag",
                   "clear", "sort:name", "sort:size", "sort:updated_at",
                   f"#/images/{first['id']}", "limit"):
        assert wanted in reached, (wanted, reached)
    assert reached[0] == "#main"                       # the skip link comes first
    page.focus(f"a[href='#/images/{first['id']}']")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_have_text("keyboard-one")
    expect(page.locator("h1")).to_be_focused()          # the new page starts at its title
    expect(page.locator("#edit")).to_be_visible()        # (no data: nothing to download)
    page.keyboard.press("Tab")
    expect(page.locator("#edit")).to_be_focused()
