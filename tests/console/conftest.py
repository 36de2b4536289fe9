"""Browser tests of the web console: Playwright drives Debian's Chromium against a real
glance-api process on a loopback port.

Every page gets a fresh browser context (its own sessionStorage) and fails its test on a
JavaScript error or on any request that leaves 127.0.0.1. Screenshots go to
``.cache/console-screenshots/`` (git-ignored) unless GLANCE_CONSOLE_SCREENSHOTS names
another folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.conftest import RunningServer, start_server

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
STORES = ("fast", "cold")
DESKTOP = {"width": 1280, "height": 860}
# the machine may be busy (2 cores, other suites running): wait longer than Playwright's 5 s
expect.set_options(timeout=15_000)


@dataclass
class Site:
    """A glance-api with two file stores (``fast``, the default, and ``cold``)."""

    server: RunningServer
    dirs: dict[str, Path]

    @property
    def url(self) -> str:
        return self.server.url

    def stored(self) -> list[Path]:
        """Every file in every store (temporary parts too) and in staging."""
        found: list[Path] = []
        for d in [*self.dirs.values(), self.server.data_dir / "staging"]:
            if d.is_dir():
                found += [p for p in d.rglob("*") if p.is_file()]
        return sorted(found)


def start_site(base: Path, extra_args: list[str] | None = None) -> Site:
    dirs = {name: base / f"store-{name}" for name in STORES}
    text = '[glance]\ndefault_store = "fast"\n\n'
    for name, d in dirs.items():
        text += (f'[stores.{name}]\ndriver = "file"\ndirectory = {json.dumps(str(d))}\n'
                 f'fsync = false\n\n')
    config = base / "glance.toml"
    config.write_text(text)
    return Site(start_server(base / "data", ["--config", str(config), *(extra_args or [])]),
                dirs)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One noauth server per test module; tests tag or name their own images."""
    s = start_site(tmp_path_factory.mktemp("console"))
    yield s
    s.server.stop()


@pytest.fixture
def api(site: Site) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=site.url, timeout=60) as client:
        yield client


# Playwright's sync API runs an event loop in the main thread while it is open: it must be
# closed when the console tests end, or later tests calling asyncio.run() fail.
@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: scripts/test installs Debian's chromium package")
    b = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    yield b
    b.close()


@dataclass
class Watch:
    """What a page did that a test checks afterwards."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def watch() -> Watch:
    return Watch()


def open_page(browser: Browser, watch: Watch, **context_args: Any) -> Page:
    """A page in a context of its own, recording errors and every request it makes."""
    context = browser.new_context(viewport=context_args.pop("viewport", DESKTOP),
                                  accept_downloads=True, **context_args)
    context.set_default_timeout(15000)
    page = context.new_page()
    page.on("pageerror", lambda exc: watch.errors.append(str(exc)))
    page.on("console", lambda msg: msg.type == "error" and not msg.text.startswith(
        "Failed to load resource") and watch.errors.append(msg.text))

    def on_request(request: Any) -> None:
        watch.requests.append(request.url)
        watch.headers.append(request.headers)

    page.on("request", on_request)
    return page


def check_page(watch: Watch) -> None:
    assert not watch.errors, f"errors in the page: {watch.errors}"
    outside = [u for u in watch.requests
               if urlsplit(u).scheme in ("http", "https", "ws", "wss")
               and urlsplit(u).hostname not in ("127.0.0.1", "localhost")]
    assert not outside, f"the console reached outside the server: {outside}"


@pytest.fixture
def page(browser: Browser, watch: Watch) -> Iterator[Page]:
    p = open_page(browser, watch)
    yield p
    p.context.close()
    check_page(watch)


@pytest.fixture(scope="session")
def shots() -> Path:
    """Where screenshots are saved for people to look at."""
    folder = Path(os.environ.get("GLANCE_CONSOLE_SCREENSHOTS")
                  or ROOT / ".cache" / "console-screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def create_image(api: httpx.Client, data: bytes | None = None, **fields: Any) -> dict:
    """An image through the v2 API (with data when given); its JSON."""
    body = {"disk_format": "raw", "container_format": "bare", **fields}
    r = api.post("/v2/images", json=body)
    assert r.status_code == 201, r.text
    image = r.json()
    if data is not None:
        r = api.put(f"/v2/images/{image['id']}/file", content=data,
                    headers={"Content-Type": "application/octet-stream"})
        assert r.status_code == 204, r.text
        image = api.get(f"/v2/images/{image['id']}").json()
    return image


# -- auth -------------------------------------------------------------------------------------

@dataclass
class TokensSite:
    """A glance-api under auth_mode tokens, with a token per caller."""

    site: Site
    tokens: dict[str, str]

    @property
    def url(self) -> str:
        return self.site.url

    def client(self, who: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"X-Auth-Token": self.tokens[who]})


@pytest.fixture(scope="module")
def tokens_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TokensSite]:
    from glance.api.auth import add_token
    base = tmp_path_factory.mktemp("console-tokens")
    path = base / "tokens.json"
    tokens = {"alice": add_token(str(path), "proj-a", "alice", ("member",)),
              "bob": add_token(str(path), "proj-b", "bob", ("member",)),
              "admin": add_token(str(path), "proj-admin", "root", ("admin",))}
    s = start_site(base, ["--auth-mode", "tokens", "--tokens-file", str(path)])
    yield TokensSite(s, tokens)
    s.server.stop()


@dataclass
class Keystone:
    """A real Keystone (scripts/keystone-*): user glance / glance-secret, project images."""

    url: str
    user: str = "glance"
    password: str = "glance-secret"
    project: str = "images"


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keystone]:
    """Keystone alone, by the scripts the Swift tests use (tests/servers.py); its
    venv is built once under .cache/keystone."""
    import subprocess

    from tests.conftest import free_port
    from tests.servers import SCRIPTS, _run
    root = tmp_path_factory.mktemp("keystone")
    port = free_port()
    env = {**os.environ, "KEYSTONE_ROOT": str(root), "KEYSTONE_PORT": str(port)}
    try:
        _run("keystone-setup", env, 900)
        _run("keystone-start", env, 120)
        yield Keystone(f"http://127.0.0.1:{port}/v3")
    finally:
        subprocess.run([str(SCRIPTS / "keystone-stop"), "--wipe"], env=env, timeout=60,
                       capture_output=True)
