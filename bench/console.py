"""The web console's image list with 1,000 images: request to first paint in Chromium, beside
the ceiling of the same request made by a plain HTTP client in the same run.

    .venv/bin/python bench/console.py [--images 1000] [--runs 7]

Starts its own glance-api (SQLite + file store in a temporary directory) and Debian's
Chromium (headless, through Playwright), creates the images, then loads the list sorted by
name ascending and descending in turn. Prints medians: the API's answer alone (httpx; the
ceiling), the console's request to first paint, the console's own part (building the rows),
and paint / ceiling. Not a test (tests/console/test_list.py checks the rows and bounds only
the console's own part).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import log  # noqa: E402
from glance.testing import start_server  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-console-") as work:
        server = start_server(Path(work), [])
        try:
            figures = measure(server.url, args.images, args.runs)
        finally:
            server.stop()
    api, paint, render = (statistics.median(v) for v in figures)
    print(f"\nconsole list of {args.images} images, medians of {args.runs} loads (ms)")
    print(f"  {'API answer alone (httpx, ceiling)':<40}{api:8.1f}")
    print(f"  {'console: request to first paint':<40}{paint:8.1f}   {paint / api:.2f}x ceiling")
    print(f"  {'console: building the rows':<40}{render:8.1f}")


def measure(url: str, images: int, runs: int) -> tuple[list[float], list[float], list[float]]:
    query = {"limit": str(images)}  # what the console asks
    with httpx.Client(base_url=url, timeout=120) as api:
        def make(i: int) -> None:
            api.post("/v2/images", json={"name": f"bench-{i:05d}", "os_distro": "bench",
                                         "disk_format": "raw", "container_format": "bare"}
                     ).raise_for_status()

        log(f"creating {images} images")
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(make, range(images)))
        api_ms, paint_ms, render_ms = [], [], []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.goto(f"{url}/console/#/?limit={images}&sort=name:asc")
            last = f"bench-{images - 1:05d}"
            for run in range(runs):
                order = "asc" if run % 2 == 0 else "desc"
                started = time.perf_counter()
                answer = api.get("/v2/images", params={**query, "sort": f"name:{order}"})
                api_ms.append((time.perf_counter() - started) * 1000)
                assert len(answer.json()["images"]) == images
                if run:
                    page.click("th button[data-sort=name]")
                table = page.locator(f"table.images[data-count='{images}'][data-paint-ms]")
                first = "bench-00000" if order == "asc" else last
                expect(table.locator("tbody td.name a").first).to_have_text(first,
                                                                          timeout=60_000)
                paint_ms.append(float(table.get_attribute("data-paint-ms") or "nan"))
                render_ms.append(float(table.get_attribute("data-render-ms") or "nan"))
                log(f"run {run + 1}: API {api_ms[-1]:.0f} ms, paint {paint_ms[-1]:.0f} ms")
            browser.close()
    return api_ms, paint_ms, render_ms


if __name__ == "__main__":
    main()
