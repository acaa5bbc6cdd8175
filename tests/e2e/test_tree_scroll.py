"""The resource tree with 1,000 guests: virtualized, and its scrolling frame times."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import ADMIN, ADMIN_PW, Daemon, DaemonFactory
from playwright.sync_api import expect
from seed import seed_guests

from conftest import NODE, UI, new_page

GUESTS = 1000

# Scroll the tree one step per animation frame, down then up. For each frame record
# the interval between rAF callbacks and the main-thread work of the frame: the tree's
# scroll handling (virtualizer + React render, from a capturing listener that runs
# first to a listener registered after the virtualizer's) plus style/layout/paint (from
# the rAF callback to a task posted from it, which runs once the frame is produced).
SCROLL_JS = """
async ({ steps, stepPx }) => {
  const el = document.querySelector('[data-testid="resource-tree"]');
  let handlerStart = 0, handler = [];
  const cap = () => { handlerStart = performance.now(); };
  const after = () => { handler.push(performance.now() - handlerStart); };
  document.addEventListener('scroll', cap, true);
  el.addEventListener('scroll', after);
  const intervals = [], work = [];
  const mc = new MessageChannel();
  let last = null;
  await new Promise((resolve) => {
    let i = 0;
    const frame = (ts) => {
      if (last !== null) intervals.push(ts - last);
      last = ts;
      const t0 = performance.now();
      const h0 = handler.length;
      const dir = i < steps / 2 ? 1 : -1;
      el.scrollTop += dir * stepPx;
      mc.port2.onmessage = () => {
        const h = handler.slice(h0).reduce((a, b) => a + b, 0);
        work.push(performance.now() - t0 + h);
      };
      mc.port1.postMessage(0);
      if (++i < steps) requestAnimationFrame(frame); else setTimeout(resolve, 100);
    };
    requestAnimationFrame(frame);
  });
  document.removeEventListener('scroll', cap, true);
  el.removeEventListener('scroll', after);
  const p = (xs, q) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  };
  return {
    frames: intervals.length,
    p95_frame_work_ms: p(work, 0.95), max_frame_work_ms: Math.max(...work),
    p50_frame_interval_ms: p(intervals, 0.5), p95_frame_interval_ms: p(intervals, 0.95),
    dropped_frames: intervals.filter((x) => x > 25).length,
    rendered_rows: el.querySelectorAll('[role="treeitem"]').length,
  };
}
"""


@pytest.fixture(scope="module")
def big_node(tmp_path_factory: pytest.TempPathFactory, ui_dist: Path) -> Iterator[Daemon]:
    factory = DaemonFactory(tmp_path_factory.mktemp("e2e-big"))
    d = factory.new(node=NODE)
    seed_guests(d.root, NODE, GUESTS)
    try:
        d.start()
        d.add_admin(ADMIN, ADMIN_PW)
        yield d
    finally:
        factory.close()


def test_tree_with_1000_guests_scrolls_smoothly(big_node: Daemon, browser: Any) -> None:
    ui = UI(big_node, "tree")
    page = new_page(browser, ui)
    try:
        ui.login(page)
        expect(page.locator('[data-target="qemu/1000"]')).to_be_visible(timeout=20000)
        rows = page.locator('[data-testid="resource-tree"] [role="treeitem"]').count()
        assert rows < 100, f"tree not virtualized: {rows} rows in the DOM"
        ui.shot(page, "tree-1000-guests")
        m = page.evaluate(SCROLL_JS, {"steps": 240, "stepPx": 90})
        m = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in m.items()}
        m["guests"] = GUESTS
        ui.record("tree_scroll_1000_guests", m)
        print(
            f"\ntree scroll, {GUESTS} guests: p95 frame work {m['p95_frame_work_ms']} ms, "
            f"p95 frame interval {m['p95_frame_interval_ms']} ms, dropped {m['dropped_frames']}"
            f"/{m['frames']} frames, {m['rendered_rows']} rows in the DOM"
        )
        # the last guest is reachable through the search
        page.keyboard.press("/")
        page.keyboard.type("e2e-vm-1998")
        page.keyboard.press("Enter")
        expect(page.locator('[data-target="qemu/1998"]')).to_have_attribute("aria-selected", "true")
        # folder view groups by type and tags
        page.get_by_test_id("tree-view-select").select_option("folder")
        page.get_by_test_id("resource-tree").evaluate("el => { el.scrollTop = 0; }")
        expect(page.get_by_role("treeitem", name="Virtual Machines")).to_be_visible()
        assert not ui.errors, "console errors:\n" + "\n".join(ui.errors)
    finally:
        page.context.close()
