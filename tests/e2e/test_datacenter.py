"""The datacenter view: first contentful paint, its tabs, screenshots of the main pages."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from conftest import UI, api_session

MARK = "pyxis:dc-summary"
FCP_JS = """
() => {
  const fcp = performance.getEntriesByName('first-contentful-paint')[0];
  const nav = performance.getEntriesByType('navigation')[0];
  return {
    fcp_ms: fcp ? fcp.startTime : null,
    dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
    load_ms: nav ? nav.loadEventEnd : null,
    transfer_kb: performance.getEntriesByType('resource')
      .reduce((a, r) => a + (r.transferSize || 0), nav ? nav.transferSize : 0) / 1024,
  };
}
"""


def test_datacenter_first_contentful_paint(ui: UI, page: Any) -> None:
    ui.login(page)
    # a fresh load of the datacenter view with a live session (as after a reload)
    page.goto(f"{ui.url}/#/root/summary")
    expect(page.get_by_test_id("dc-summary")).to_be_visible()
    page.wait_for_function("() => performance.getEntriesByName('pyxis:dc-summary').length > 0")
    # marked by the page once the summary has rendered with /cluster/resources data
    summary_ms = page.evaluate(
        "() => performance.getEntriesByName('pyxis:dc-summary')[0].startTime"
    )
    page.wait_for_function(
        "() => performance.getEntriesByName('first-contentful-paint').length > 0"
    )
    m = page.evaluate(FCP_JS)
    m["summary_visible_ms"] = round(summary_ms, 1)
    m = {k: (round(v, 1) if isinstance(v, float) else v) for k, v in m.items()}
    ui.record("datacenter_first_paint", m)
    print(
        f"\ndatacenter view: first contentful paint {m['fcp_ms']} ms,"
        f" summary with data at {summary_ms:.0f} ms"
    )
    assert m["fcp_ms"] is not None


def test_datacenter_tabs_render(ui: UI, page: Any) -> None:
    ui.login(page)
    for tab, testid, shot in [
        ("storage", "dc-storage", "datacenter-storage"),
        ("users", "dc-users", "datacenter-users"),
        ("acl", "dc-acl", "datacenter-permissions"),
        ("roles", "dc-roles", None),
        ("groups", "dc-groups", None),
        ("pools", "dc-pools", None),
        ("realms", "dc-realms", None),
        ("tokens", "dc-tokens", None),
        ("tfa", "dc-tfa", None),
        ("options", "dc-options", "datacenter-options"),
        ("cluster", "dc-cluster", "datacenter-cluster"),
        ("tasks", "task-list", None),
    ]:
        page.get_by_test_id(f"tab-{tab}").click()
        expect(page.get_by_test_id(testid)).to_be_visible()
        if shot:
            ui.shot(page, shot)
    # dark theme, via the user menu
    page.get_by_test_id("tab-summary").click()
    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("theme-toggle").click()
    expect(page.locator("html")).to_have_class("pf-v5-theme-dark")
    ui.shot(page, "datacenter-summary-dark")


def test_storage_add_error_highlights_the_field(ui: UI, page: Any) -> None:
    ui.allow_console_error(r"status of 400")
    ui.login(page)
    ui.goto(page, "#/root/storage")
    page.get_by_test_id("storage-add").click()
    page.get_by_test_id("storage-add-dir").click()
    page.locator("#f-storage").fill("bad id!")
    page.locator("#f-path").fill("relative/path")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("error-alert")).to_be_visible()
    expect(page.get_by_test_id("field-error-storage")).to_be_visible()
    ui.shot(page, "storage-add-error")


def test_search_and_shortcuts(ui: UI, page: Any) -> None:
    ui.login(page)
    page.keyboard.press("/")
    expect(page.get_by_label("Search resources")).to_be_focused()
    page.keyboard.type("local")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("content-title")).to_contain_text("Storage 'local'")
    page.locator("body").click()
    page.keyboard.press("?")
    expect(page.get_by_test_id("help-dialog")).to_be_visible()


def test_pool_view_lists_pools_and_members(ui: UI, page: Any) -> None:
    s = api_session(ui.daemon)
    node = ui.node
    if s.get(ui.daemon.api(f"/nodes/{node}/qemu/101/config")).status_code != 200:
        r = s.post(ui.daemon.api(f"/nodes/{node}/qemu"), data={"vmid": 101, "name": "pooled"})
        assert r.status_code == 200, r.text
    s.post(ui.daemon.api("/pools"), data={"poolid": "e2e-pool", "comment": "from e2e"})
    r = s.put(ui.daemon.api("/pools/e2e-pool"), data={"vms": "101", "allow-move": 1})
    assert r.status_code == 200, r.text
    ui.login(page)
    page.get_by_test_id("tree-view-select").select_option("pool")
    pool = page.locator('[data-target="pool/e2e-pool"]')
    expect(pool).to_be_visible()
    expect(page.locator('[data-target="qemu/101"]')).to_be_visible()
    pool.click()
    expect(page.get_by_test_id("content-title")).to_contain_text("e2e-pool")
    expect(page.locator('[data-rowkey="qemu/101"]')).to_be_visible()
    ui.shot(page, "pool-view")
