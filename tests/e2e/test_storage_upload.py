"""Upload an ISO through the storage content page: progress bar, then listed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from conftest import UI

SIZE = 8 * 1024 * 1024
# throttle the browser's upload so the progress bar is observable (about 2 s)
UPLOAD_BYTES_PER_S = 4 * 1024 * 1024


def test_upload_iso_with_progress(ui: UI, page: Any, tmp_path: Path) -> None:
    iso = tmp_path / "e2e-upload.iso"
    iso.write_bytes(os.urandom(SIZE))
    ui.login(page)
    ui.goto(page, f"#/storage/{ui.node}/local/iso")
    expect(page.get_by_test_id("content-iso")).to_be_visible()
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_S,
        },
    )
    page.get_by_test_id("content-upload").click()
    page.locator('input[type="file"]').set_input_files(str(iso))
    page.get_by_test_id("upload-submit").click()
    progress = page.get_by_test_id("upload-progress")
    expect(progress).to_be_visible()
    # progress is reported while the upload runs
    page.wait_for_function(
        """() => {
          const bar = document.querySelector(
            '[data-testid="upload-progress"] [role="progressbar"]');
          const v = bar ? Number(bar.getAttribute('aria-valuenow')) : 0;
          return v > 0 && v < 100;
        }"""
    )
    ui.shot(page, "storage-upload-progress")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    row = page.locator('[data-rowkey="local:iso/e2e-upload.iso"]')
    expect(row).to_be_visible(timeout=30000)
    expect(row).to_contain_text("8.0 MiB")
    ui.shot(page, "storage-content-iso")
    # the upload's task is in the task panel; its log opens in the viewer
    page.locator(".pyxis-tasktable tr", has_text="imgcopy").first.click()
    expect(page.get_by_test_id("task-viewer")).to_be_visible()
    expect(page.get_by_test_id("task-log")).to_contain_text("TASK OK")
    ui.shot(page, "task-log-viewer")
    page.get_by_text("Close", exact=True).click()
    # and remove it again
    row.click()
    page.get_by_test_id("content-remove").click()
    page.get_by_test_id("modal-submit").click()
    expect(row).to_have_count(0, timeout=15000)
