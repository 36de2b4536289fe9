"""Signing in to the console: static tokens (auth_mode tokens) and a real Keystone (auth_mode
keystone). The token stays in sessionStorage, travels only in the X-Auth-Token header, never
in a URL, and each caller sees and may do only what the API allows them."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.console.conftest import (Keystone, TokensSite, Watch, check_page, create_image,
                                    open_page, start_site)


def sign_in_with_token(page: Page, token: str) -> None:
    page.fill("#f-token", token)
    page.click("button:text('Sign in')")
    expect(page.locator("#who-text")).to_be_visible()


def assert_token_kept_safe(page: Page, watch: Watch, token: str) -> None:
    """Only in sessionStorage and in X-Auth-Token headers: not in a URL, cookie or
    localStorage."""
    assert page.evaluate("() => Object.keys(localStorage).length") == 0
    assert page.evaluate("() => document.cookie") == ""
    assert page.evaluate("() => sessionStorage.getItem('glance-console-token')") == token
    assert not [u for u in watch.requests if token in u]
    assert not [h for h in watch.headers if any(
        token in v for k, v in h.items() if k.lower() != "x-auth-token")]
    assert any(h.get("x-auth-token") == token for h in watch.headers)


def test_tokens_sign_in_see_only_your_own_and_sign_out(tokens_site: TokensSite, page: Page,
                                                       watch: Watch, tmp_path: Path,
                                                       shots: Path) -> None:
    with tokens_site.client("alice") as alice, tokens_site.client("bob") as bob, \
            tokens_site.client("admin") as admin:
        mine = create_image(alice, os.urandom(4096), name="alice-private",
                            visibility="private")
        theirs = create_image(bob, os.urandom(1024), name="bob-private", visibility="private")
        public = create_image(admin, os.urandom(2048), name="admin-public",
                              visibility="public")
    page.goto(f"{tokens_site.url}/console/")
    expect(page).to_have_url(re.compile("#/signin$"))
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#nav")).to_be_hidden()
    page.screenshot(path=str(shots / "signin-tokens.png"))

    page.fill("#f-token", "not-a-token")
    page.click("button:text('Sign in')")
    expect(page.locator(".form-error")).to_have_text("This token is not valid.")
    expect(page.locator("h1")).to_have_text("Sign in")

    sign_in_with_token(page, tokens_site.tokens["alice"])
    expect(page.locator("#who-text")).to_have_text("alice · project proj-a · member")
    expect(page.locator("table.images tbody tr")).to_have_count(2)
    names = page.locator("table.images td.name a").all_text_contents()
    assert sorted(names) == ["admin-public", "alice-private"]   # never bob's private one

    # someone else's public image: no change buttons
    page.click(f"a[href='#/images/{public['id']}']")
    expect(page.locator("#download")).to_be_visible()
    for button in ("#edit", "#delete", "#deactivate"):
        expect(page.locator(button)).to_have_count(0)
    expect(page.locator("button[data-copy]")).to_have_count(0)
    # their own image: edit, deactivate and delete offered
    page.goto(f"{tokens_site.url}/console/#/images/{mine['id']}")
    expect(page.locator("#edit")).to_be_visible()
    expect(page.locator("#delete")).to_be_visible()
    page.click("#edit")
    options = page.locator("#e-visibility option").all_text_contents()
    assert "public" not in options and "private" in options   # only admins make images public
    page.click("#cancel-edit")
    # a download with the token in a header, a ticket in the URL
    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "mine"
    info.value.save_as(saved)
    with tokens_site.client("alice") as alice:
        assert hashlib.md5(saved.read_bytes()).hexdigest() == alice.get(
            f"/v2/images/{mine['id']}").json()["checksum"]

    # bob's image does not exist for alice; the page says so
    page.goto(f"{tokens_site.url}/console/#/images/{theirs['id']}")
    expect(page.locator("h1")).to_have_text("Image not found")

    # the session survives a reload, not a new tab or the sign-out
    page.reload()
    expect(page.locator("#who-text")).to_have_text("alice · project proj-a · member")
    assert_token_kept_safe(page, watch, tokens_site.tokens["alice"])
    other = page.context.new_page()
    other.goto(f"{tokens_site.url}/console/")
    expect(other.locator("h1")).to_have_text("Sign in")
    other.close()
    page.click("#signout")
    expect(page.locator("h1")).to_have_text("Sign in")
    assert page.evaluate("() => Object.keys(sessionStorage).length") == 0
    page.goto(f"{tokens_site.url}/console/#/images/{mine['id']}")
    expect(page).to_have_url(re.compile("#/signin$"))


def test_tokens_admin_sees_everything(tokens_site: TokensSite, page: Page) -> None:
    with tokens_site.client("bob") as bob:
        image = create_image(bob, name="bob-for-admin", visibility="private")
    page.goto(f"{tokens_site.url}/console/")
    sign_in_with_token(page, tokens_site.tokens["admin"])
    expect(page.locator("#who-text")).to_have_text("root · project proj-admin · admin")
    page.fill("#q", "bob-for-admin")
    expect(page.locator("table.images tbody tr")).to_have_count(1)
    page.goto(f"{tokens_site.url}/console/#/images/{image['id']}")
    expect(page.locator("#edit")).to_be_visible()
    page.click("#edit")
    assert "public" in page.locator("#e-visibility option").all_text_contents()


def test_a_revoked_session_asks_to_sign_in_again(tmp_path: Path, browser: Browser) -> None:
    from glance.api.auth import add_token
    tokens = tmp_path / "tokens.json"
    token = add_token(str(tokens), "proj-x", "xavier", ("member",))
    site = start_site(tmp_path, ["--auth-mode", "tokens", "--tokens-file", str(tokens)])
    watch = Watch()
    page = open_page(browser, watch)
    try:
        page.goto(f"{site.url}/console/")
        sign_in_with_token(page, token)
        expect(page.locator(".results")).not_to_have_attribute("aria-busy", "true")
        tokens.write_text('{"tokens": []}')      # the operator removes the token
        page.select_option("#status", "active")
        expect(page.locator("h1")).to_have_text("Sign in")
        expect(page.locator(".notice")).to_have_text("Your session has ended; sign in again.")
        assert page.evaluate("() => Object.keys(sessionStorage).length") == 0
    finally:
        page.context.close()
        site.server.stop()
    check_page(watch)


# -- keystone -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keystone_site(keystone: Keystone, tmp_path_factory: pytest.TempPathFactory) -> Iterator:
    site = start_site(tmp_path_factory.mktemp("console-keystone"),
                      ["--auth-mode", "keystone", "--keystone-url", keystone.url])
    yield site
    site.server.stop()


def test_keystone_sign_in(keystone: Keystone, keystone_site, page: Page, watch: Watch,
                          tmp_path: Path, shots: Path) -> None:
    page.goto(f"{keystone_site.url}/console/")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("#f-token")).to_have_count(0)
    page.fill("#f-user", keystone.user)
    page.fill("#f-password", "wrong-password")
    page.fill("#f-project", keystone.project)
    page.screenshot(path=str(shots / "signin-keystone.png"))
    page.click("button:text('Sign in')")
    expect(page.locator(".form-error")).to_contain_text("Keystone refused the sign-in")

    page.fill("#f-password", keystone.password)
    page.click("button:text('Sign in')")
    expect(page.locator("#who-text")).to_have_text(
        f"{keystone.user} · project {keystone.project} · member, reader")
    token = page.evaluate("() => sessionStorage.getItem('glance-console-token')")
    project = httpx.get(f"{keystone_site.url}/console/api/session",
                        headers={"X-Auth-Token": token}).json()["caller"]["project_id"]
    # the token is Keystone's, for the project signed in to
    check = httpx.get(f"{keystone.url}/auth/tokens",
                      headers={"X-Auth-Token": token, "X-Subject-Token": token})
    assert check.status_code == 200
    assert check.json()["token"]["project"]["name"] == keystone.project
    assert check.json()["token"]["project"]["id"] == project

    # work as that project: upload, see it listed as ours, download it
    data = os.urandom(2 << 20)
    path = tmp_path / "ks.img"
    path.write_bytes(data)
    page.goto(f"{keystone_site.url}/console/#/upload")
    page.set_input_files("#file", str(path))
    page.click("#start-upload")
    expect(page).to_have_url(re.compile(r"#/images/[0-9a-f-]+$"), timeout=30000)
    expect(page.locator("dt:text-is('Owner') + dd")).to_have_text(project)
    with page.expect_download() as info:
        page.click("#download")
    saved = tmp_path / "back"
    info.value.save_as(saved)
    assert saved.read_bytes() == data
    assert_token_kept_safe(page, watch, token)
    # the password went to glance's sign-in endpoint in a body, never in a URL
    assert not [u for u in watch.requests if keystone.password in u]
    page.click("#signout")
    expect(page.locator("h1")).to_have_text("Sign in")


def test_a_member_finds_and_accepts_a_share(tokens_site: TokensSite, page: Page) -> None:
    with tokens_site.client("bob") as bob:
        image = create_image(bob, os.urandom(1000), name="bob-shares-this",
                             visibility="shared")
        assert bob.post(f"/v2/images/{image['id']}/members",
                        json={"member": "proj-a"}).status_code == 200
    page.goto(f"{tokens_site.url}/console/")
    sign_in_with_token(page, tokens_site.tokens["alice"])
    expect(page.locator(".results")).not_to_have_attribute("aria-busy", "true")
    assert "bob-shares-this" not in page.locator("table.images").inner_text()
    page.select_option("#visibility", "pending")
    expect(page.locator("table.images tbody tr")).to_have_count(1)
    page.click("a:text('bob-shares-this')")
    row = page.locator("#members tr[data-member=proj-a]")
    expect(row).to_contain_text("pending")
    expect(page.locator("#edit")).to_have_count(0)           # not hers to change
    expect(page.locator("#member-id")).to_have_count(0)      # nor to share further
    row.locator("button", has_text="Accept").click()
    expect(row.locator(".status")).to_have_text("accepted")
    page.goto(f"{tokens_site.url}/console/#/")
    expect(page.locator("table.images a:text('bob-shares-this')")).to_be_visible()
    with tokens_site.client("bob") as bob:
        members = bob.get(f"/v2/images/{image['id']}/members").json()["members"]
    assert [(m["member_id"], m["status"]) for m in members] == [("proj-a", "accepted")]
