"""Uploads and downloads in a real browser: the progress bar moves while Chromium streams the
file, Cancel leaves nothing behind, Download saves exactly the image's bytes."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.console.conftest import Site, create_image

MIB = 1 << 20


def throttle_upload(page: Page, bytes_per_second: int) -> None:
    """Slow the page's uploads down (Chromium's own network emulation), so that a transfer
    on loopback lasts long enough to be watched."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {
        "offline": False, "latency": 0, "downloadThroughput": -1,
        "uploadThroughput": bytes_per_second})


def record_progress(page: Page) -> None:
    """Collect every value the progress bar shows into window.progressSeen."""
    page.evaluate("""() => {
        window.progressSeen = [];
        new MutationObserver(() => {
            const bar = document.querySelector('#upload-progress');
            if (bar) window.progressSeen.push([Number(bar.getAttribute('aria-valuenow')),
                document.querySelector('#upload-figures').textContent]);
        }).observe(document.querySelector('main'),
                   {subtree: true, attributes: true, childList: true, characterData: true});
    }""")


def test_upload_shows_progress_and_creates_the_image(site: Site, api: httpx.Client, page: Page,
                                                     tmp_path: Path, shots: Path) -> None:
    data = os.urandom(12 * MIB)
    path = tmp_path / "alpine-3.20.qcow2.raw"
    path.write_bytes(data)
    page.goto(f"{site.url}/console/#/upload")
    expect(page.locator("h1")).to_have_text("Upload image")
    page.set_input_files("#file", str(path))
    expect(page.locator("#chosen")).to_have_text("alpine-3.20.qcow2.raw · 12.0 MiB")
    expect(page.locator("#u-name")).to_have_value("alpine-3.20.qcow2")
    expect(page.locator("#u-disk")).to_have_value("raw")
    page.fill("#u-name", "alpine from the browser")
    page.select_option("#u-store", "cold")
    throttle_upload(page, 6 * MIB)
    record_progress(page)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/v2/images")) as created:
        page.click("#start-upload")
    image_id = created.value.json()["id"]
    expect(page.locator("#upload-figures")).to_contain_text(re.compile(r"MiB/s · .* left"))
    page.wait_for_function("() => document.querySelector('#upload-progress')?.getAttribute("
                           "'aria-valuenow') >= 40")
    page.screenshot(path=str(shots / "upload.png"))
    expect(page).to_have_url(re.compile(f"#/images/{image_id}$"), timeout=30000)
    expect(page.locator("h1")).to_have_text("alpine from the browser")
    seen = page.evaluate("() => window.progressSeen")   # the same document: routes are #hashes
    values = [v for v, _ in seen]
    moving = sorted({v for v in values if 0 < v < 100})
    assert len(moving) >= 5, f"the bar did not move smoothly: {values}"
    assert values == sorted(values), f"the bar went backwards: {values}"
    assert any("left" in text for _, text in seen)
    image = api.get(f"/v2/images/{image_id}").json()
    assert image["status"] == "active"
    assert image["size"] == len(data)
    assert image["checksum"] == hashlib.md5(data).hexdigest()
    assert image["stores"] == "cold"
    assert (image["name"], image["disk_format"], image["container_format"]) == (
        "alpine from the browser", "raw", "bare")


def test_cancel_leaves_nothing_behind(site: Site, api: httpx.Client, page: Page,
                                      tmp_path: Path) -> None:
    path = tmp_path / "big.img"
    path.write_bytes(os.urandom(32 * MIB))
    before = set(site.stored())
    page.goto(f"{site.url}/console/#/upload")
    page.set_input_files("#file", str(path))
    page.fill("#u-name", "never-finished")
    throttle_upload(page, 2 * MIB)
    with page.expect_response(lambda r: r.request.method == "POST"
                              and r.url.endswith("/v2/images")) as created:
        page.click("#start-upload")
    image_id = created.value.json()["id"]
    page.wait_for_function("() => document.querySelector('#upload-progress')?.getAttribute("
                           "'aria-valuenow') >= 10")
    # the server is receiving: the image is saving and a partial file exists
    assert api.get(f"/v2/images/{image_id}").json()["status"] == "saving"
    page.click("#cancel-upload")
    expect(page.locator("#upload-state")).to_contain_text("Upload cancelled", timeout=20000)
    assert api.get(f"/v2/images/{image_id}").status_code == 404
    assert api.get("/v2/images", params={"name": "never-finished"}).json()["images"] == []
    deadline = time.monotonic() + 10
    while (left := set(site.stored()) - before):
        assert time.monotonic() < deadline, f"left behind: {left}"
        time.sleep(0.1)
    page.click("button:text('Upload another')")
    expect(page.locator("#file")).to_be_attached()


def test_drop_a_file_on_the_page(site: Site, api: httpx.Client, page: Page) -> None:
    page.goto(f"{site.url}/console/#/upload")
    data = bytes((i * 7 + i // 256) & 255 for i in range(MIB))
    page.evaluate("""(size) => {
        const bytes = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 8)) & 255);
        const dt = new DataTransfer();
        dt.items.add(new File([bytes], 'dropped.iso'));
        document.querySelector('#drop').dispatchEvent(new DragEvent('drop', {dataTransfer: dt,
            bubbles: true, cancelable: true}));
    }""", MIB)
    expect(page.locator("#chosen")).to_have_text("dropped.iso · 1.00 MiB")
    expect(page.locator("#u-disk")).to_have_value("iso")
    page.select_option("#u-disk", "raw")
    page.click("#start-upload")
    expect(page).to_have_url(re.compile(r"#/images/[0-9a-f-]+$"), timeout=30000)
    image_id = page.url.rsplit("/", 1)[1]
    image = api.get(f"/v2/images/{image_id}").json()
    assert (image["name"], image["size"], image["checksum"]) == (
        "dropped", len(data), hashlib.md5(data).hexdigest())


def test_download_streams_the_bytes(site: Site, api: httpx.Client, page: Page,
                                    tmp_path: Path) -> None:
    data = os.urandom(5 * MIB + 123)
    image = create_image(api, data, name="debian 12/generic", disk_format="raw")
    page.goto(f"{site.url}/console/#/images/{image['id']}")
    with page.expect_download() as info:
        page.click("#download")
    download = info.value
    assert download.suggested_filename == "debian_12_generic.raw"
    saved = tmp_path / "got"
    download.save_as(saved)
    assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(data).digest()
    # the link was for one use only
    assert re.search(r"/console/download/[\w-]{20,}/" + image["id"], download.url)
    again = httpx.get(download.url)
    assert again.status_code == 404
    assert again.json()["error"]["code"] == 404
