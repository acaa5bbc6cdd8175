"""The node pages: summary graphs, storage, syslog, tasks, and the host shell."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from conftest import UI, api_session


def test_node_summary_storage_syslog_tasks(ui: UI, page: Any) -> None:
    ui.login(page)
    page.locator(f'[data-target="node/{ui.node}"]').click()
    expect(page.get_by_test_id("node-summary")).to_be_visible()
    expect(page.locator(".pyxis-graph canvas").first).to_be_visible()
    ui.shot(page, "node-summary")
    page.get_by_test_id("tab-storage").click()
    expect(page.locator('[data-rowkey="local"]')).to_be_visible()
    page.get_by_test_id("tab-syslog").click()
    expect(page.get_by_test_id("syslog")).to_be_visible()
    ui.shot(page, "node-syslog")
    page.get_by_test_id("tab-tasks").click()
    expect(page.get_by_test_id("task-list")).to_be_visible()


def _has_host_shell(ui: UI) -> bool:
    s = api_session(ui.daemon)
    return s.get(ui.daemon.api(f"/nodes/{ui.node}")).json().get("data") is not None and any(
        e.get("name") == "termproxy" or e.get("subdir") == "termproxy"
        for e in s.get(ui.daemon.api(f"/nodes/{ui.node}")).json()["data"]
    )


def test_node_shell_prompts_and_echoes(ui: UI, page: Any) -> None:
    if not _has_host_shell(ui):
        pytest.skip("the daemon has no /nodes/{node}/termproxy host shell")
    ui.login(page)
    ui.goto(page, f"#/node/{ui.node}/shell")
    term = page.get_by_test_id("terminal")
    expect(term).to_have_attribute("data-state", "connected", timeout=15000)
    rows = page.locator(".xterm-rows")
    # admin@pve is not root@pam: the shell starts with login(1)'s prompt, as upstream
    expect(rows).to_contain_text("login:", timeout=15000)
    page.locator(".xterm-helper-textarea").focus()
    page.keyboard.type("echo pyxis-e2e")
    expect(rows).to_contain_text("echo pyxis-e2e")
    ui.shot(page, "node-shell")
