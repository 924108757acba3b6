"""The dashboard in a real browser: Debian's chromium driven by Playwright (no browser download).

Skipped unless both are installed (``apt-get install chromium``, ``pip install playwright``).
A screenshot goes to tmp_path, and also to $NULLSMB_SCREENSHOT_DIR when that is set (the
README's picture is made that way)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from .conftest import HOST, PASSWORD, AdminServer

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
pytest.importorskip("impacket")
from impacket.smbconnection import SMBConnection  # noqa: E402

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 800})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, errors


def login(server: AdminServer, user: str = "", password: str = "") -> SMBConnection:
    conn = SMBConnection(HOST, HOST, sess_port=server.smb_port, timeout=10)
    conn.login(user, password)
    return conn


def test_token_is_asked_for_and_a_wrong_one_refused(page, admin_server: AdminServer) -> None:
    page.goto(admin_server.url + "/")
    page.get_by_label("Token", exact=True).fill("wrong")
    page.get_by_role("button", name="Connect").click()
    sync_api.expect(page.locator("#login-error")).to_contain_text("refused")
    page.get_by_label("Token", exact=True).fill(admin_server.token)
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#live")).to_contain_text("live", timeout=5000)


def test_anonymous_session_appears_live_and_is_closed(page, admin_server: AdminServer,
                                                      tmp_path: Path) -> None:
    alice = login(admin_server, "alice", PASSWORD)
    page.goto(f"{admin_server.url}/?token={admin_server.token}")
    assert "token" not in page.url  # dropped from the address bar (and so from history)
    assert page.evaluate("sessionStorage.getItem('nullsmb.admin.token')") == admin_server.token
    sync_api.expect(page.locator("#live")).to_contain_text("live", timeout=5000)
    rows = page.locator("#sessions-body tr")
    sync_api.expect(rows).to_have_count(1, timeout=5000)

    anon = login(admin_server)  # appears without a reload
    anon.connectTree("public")
    t0 = time.monotonic()
    anon_row = page.locator("#sessions-body tr.anonymous")
    sync_api.expect(anon_row).to_have_count(1, timeout=3000)
    assert time.monotonic() - t0 < 3
    sync_api.expect(anon_row.locator(".badge.anonymous")).to_have_text("ANONYMOUS")
    sync_api.expect(page.locator("#policy")).to_contain_text("NullSessionShares")

    page.get_by_label("Anonymous only").check()
    sync_api.expect(rows).to_have_count(1)
    page.get_by_label("Anonymous only").uncheck()
    sync_api.expect(rows).to_have_count(2)

    # keyboard: the session id is a button; Enter opens what it holds open
    anon_row.locator("button.link").focus()
    page.keyboard.press("Enter")
    sync_api.expect(page.locator("#detail")).to_be_visible()
    sync_api.expect(page.locator("#detail-trees")).to_contain_text("public")
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    if os.environ.get("NULLSMB_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(os.environ["NULLSMB_SCREENSHOT_DIR"]) / "server-manager.png"))

    anon_row.get_by_role("button", name="Close").click()
    dialog = page.locator("#confirm")
    sync_api.expect(dialog).to_be_visible()
    sync_api.expect(dialog).to_contain_text("ANONYMOUS LOGON")
    page.get_by_role("button", name="Close session", exact=True).click()
    sync_api.expect(anon_row).to_have_count(0, timeout=3000)
    sync_api.expect(page.locator("#announce")).to_contain_text("Closed")
    with pytest.raises(Exception):
        anon.listPath("public", "*")
    anon.close()
    alice.close()
