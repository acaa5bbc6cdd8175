"""Login through the form; a wrong password shows the error; logout."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from conftest import ADMIN_PW, UI, api_session


def test_login_shows_the_datacenter(ui: UI, page: Any) -> None:
    ui.goto(page)
    expect(page.get_by_test_id("login-form")).to_be_visible()
    ui.shot(page, "login")
    ui.login(page)
    expect(page.get_by_test_id("content-title")).to_have_text("Datacenter")
    expect(page.get_by_test_id("dc-nodes-online")).to_contain_text("1 / 1")
    expect(page.locator(f'[data-target="node/{ui.node}"]')).to_be_visible()
    ui.shot(page, "datacenter-summary")


def test_failed_login_shows_the_error(ui: UI, page: Any) -> None:
    # the browser logs the 401 of the rejected POST itself
    ui.allow_console_error(r"status of 401")
    ui.goto(page)
    page.locator("#login-user").fill("admin@pve")
    page.locator("#login-password").fill("wrong-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("Login failed")
    expect(page.get_by_test_id("resource-tree")).to_have_count(0)


def test_logout_returns_to_the_login_form(ui: UI, page: Any) -> None:
    ui.login(page)
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("logout").click()
    expect(page.get_by_test_id("login-form")).to_be_visible()
    cookie = [c for c in page.context.cookies() if c["name"] == "PVEAuthCookie"]
    assert not cookie or not cookie[0]["value"]


def test_login_with_a_second_factor(ui: UI, page: Any) -> None:
    import pyotp

    user, password = "tfa-user@pve", "tfa-user-pw-1"
    s = api_session(ui.daemon)
    s.post(ui.daemon.api("/access/users"), data={"userid": user, "password": password})
    secret = pyotp.random_base32()
    totp = pyotp.TOTP(secret)
    uri = totp.provisioning_uri(name=user, issuer_name="Pyxis")
    if not s.get(ui.daemon.api(f"/access/tfa/{user}")).json().get("data"):
        r = s.post(
            ui.daemon.api(f"/access/tfa/{user}"),
            data={"type": "totp", "totp": uri, "value": totp.now(), "password": ADMIN_PW},
        )
        assert r.status_code == 200, r.text
    ui.goto(page)
    page.locator("#login-user").fill(user)
    page.locator("#login-password").fill(password)
    page.get_by_test_id("login-submit").click()
    expect(page.locator("#login-tfa-code")).to_be_visible()
    ui.shot(page, "login-tfa")
    # the next 30 s step: the code of this step was spent on the registration (no replay)
    page.locator("#login-tfa-code").fill(totp.at(time.time() + 30))
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("resource-tree").wait_for()
    expect(page.get_by_test_id("user-menu")).to_contain_text(user)


def test_session_is_renewed_before_the_ticket_expires(ui: UI, page: Any) -> None:
    # a fake clock for the page's timers: 15 minutes pass in no time
    page.clock.install()
    ui.login(page)
    with page.expect_request(
        lambda r: r.url.endswith("/access/ticket") and r.method == "POST"
    ) as req:
        page.clock.run_for("15:05")
    form = req.value.post_data or ""
    assert "password=PVE%3A" in form, form  # the current ticket stands in for the password
    response = req.value.response()
    assert response is not None and response.ok
    # still logged in, and the cookie holds the renewed ticket
    expect(page.get_by_test_id("resource-tree")).to_be_visible()
    cookie = [c for c in page.context.cookies() if c["name"] == "PVEAuthCookie"]
    assert cookie and cookie[0]["value"].startswith("PVE")
