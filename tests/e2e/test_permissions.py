"""A restricted user (PVEAuditor on /vms/100 only) sees neither admin pages nor actions."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from conftest import UI, api_session

AUDITOR = "auditor@pve"
AUDITOR_PW = "auditor-pw-123"


def _setup(ui: UI) -> None:
    s = api_session(ui.daemon)
    node = ui.node
    if s.get(ui.daemon.api(f"/nodes/{node}/qemu/100/config")).status_code != 200:
        r = s.post(
            ui.daemon.api(f"/nodes/{node}/qemu"),
            data={"vmid": 100, "name": "restricted-vm", "memory": 256},
        )
        assert r.status_code == 200, r.text
    s.post(ui.daemon.api("/access/users"), data={"userid": AUDITOR, "password": AUDITOR_PW})
    r = s.put(
        ui.daemon.api("/access/acl"),
        data={"path": "/vms/100", "users": AUDITOR, "roles": "PVEAuditor"},
    )
    assert r.status_code == 200, r.text


def test_restricted_user_sees_only_what_they_may(ui: UI, page: Any) -> None:
    _setup(ui)
    ui.login(page, AUDITOR, AUDITOR_PW)
    # the VM is there (once the config create task has written it), storage and node are not
    vm = page.locator('[data-target="qemu/100"]')
    expect(vm).to_be_visible(timeout=15000)
    ui.shot(page, "restricted-datacenter")
    for tab in ("storage", "users", "acl", "realms", "options", "cluster"):
        expect(page.get_by_test_id(f"tab-{tab}")).to_have_count(0)
    vm.click()
    expect(page.get_by_test_id("guest-summary")).to_be_visible()
    for action in ("guest-start", "guest-stop", "guest-shutdown"):
        expect(page.get_by_test_id(action)).to_have_count(0)
    ui.shot(page, "restricted-vm")
    # and the API refuses what the UI hides
    ui.allow_console_error(r"status of 403")
    status = page.evaluate(
        """async (node) => {
          const csrf = JSON.parse(sessionStorage.getItem('pyxis.session')).csrf;
          const r = await fetch(`/api2/json/nodes/${node}/qemu/100/status/start`,
            { method: 'POST', headers: { CSRFPreventionToken: csrf } });
          return r.status;
        }""",
        ui.node,
    )
    assert status == 403


def test_admin_sees_the_actions(ui: UI, page: Any) -> None:
    _setup(ui)
    ui.login(page)
    ui.goto(page, "#/qemu/100")
    expect(page.get_by_test_id("guest-start")).to_be_visible()
    expect(page.get_by_test_id("tab-summary")).to_be_visible()
