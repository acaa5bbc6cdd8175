"""Guest pages end to end: the VM and container wizards, consoles, snapshots, power.

A real ``pyxisd`` (conftest) runs the test guest (``tests/support/guest_image.py``, a
Debian kernel + busybox ISO, booted under TCG with ``kvm: 0``); its ISO is copied into
the ``local`` storage's ``template/iso`` directory so that the wizard lists it.
Containers use Pyxis' busybox template, built by the node (``POST .../aplinfo``).
VMIDs are fixed and unusual so that nothing clashes with other tests on the host.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon
from playwright.sync_api import expect

from conftest import UI, api_session

SUPPORT = Path(__file__).resolve().parents[1] / "support"
ISO_NAME = "pyxis-test-guest.iso"
VMID = 9751
CTID = 9752
CLONEID = 9754
CT_TEMPLATE = "busybox-1.35-pyxis_1.0-1_amd64.tar.zst"
BOOT_TIMEOUT = 120_000  # ms
NEEDS_QEMU = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU")
NEEDS_LXC = pytest.mark.skipif(
    shutil.which("lxc-start") is None or os.geteuid() != 0, reason="needs LXC and root"
)


def _guest_iso() -> Path:
    sys.path.insert(0, str(SUPPORT))
    import guestvm

    iso = guestvm.cached_iso()
    if iso is not None:
        return iso
    res = subprocess.run(
        [sys.executable, str(SUPPORT / "guest_image.py")],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"no test guest image: {res.stderr.strip()[-300:]}")
    return Path(json.loads(res.stdout)["iso"])


@pytest.fixture(scope="module")
def iso(node: Daemon) -> str:
    isodir = node.root / "var/lib/vz/template/iso"
    isodir.mkdir(parents=True, exist_ok=True)
    if not (isodir / ISO_NAME).exists():
        shutil.copyfile(_guest_iso(), isodir / ISO_NAME)
    return f"local:iso/{ISO_NAME}"


def _cleanup(node: Daemon, kind: str, vmid: int) -> None:
    """Stop and remove a guest a failed test left behind (best effort)."""
    s = api_session(node)
    base = node.api(f"/nodes/{node.node}/{kind}/{vmid}")
    if s.get(base + "/status/current").status_code != 200:
        return
    s.post(base + "/status/stop")
    time.sleep(3)
    s.delete(base, params={"purge": 1})


@pytest.fixture
def cleanup(node: Daemon) -> Iterator[None]:
    """Whatever a failing test left: guests removed through the API, QEMU killed."""
    yield
    _cleanup(node, "qemu", VMID)
    _cleanup(node, "qemu", CLONEID)
    _cleanup(node, "lxc", CTID)
    from pyxis.guests.qemu import runtime

    for pid in runtime.list_running(node.root / "run/pyxis").values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _canvas(page: Any) -> bytes:
    shot: bytes = page.locator('[data-testid="vnc-screen"] canvas').screenshot()
    return shot


def _terminal_text(page: Any) -> str:
    text: str = page.locator('[data-testid="terminal"] .xterm-rows').inner_text()
    return text


def _wait_terminal(page: Any, needle: str, timeout: float = 60, nudge: bool = True) -> str:
    """Wait until the terminal shows ``needle``; press Enter now and then (a prompt)."""
    deadline = time.monotonic() + timeout
    nudged = time.monotonic()
    while True:
        text = _terminal_text(page)
        if needle in text:
            return text
        assert time.monotonic() < deadline, f"terminal never showed {needle!r}:\n{text}"
        if nudge and time.monotonic() - nudged > 5:
            page.locator('[data-testid="terminal"] .xterm-helper-textarea').press("Enter")
            nudged = time.monotonic()
        time.sleep(0.5)


def _type(page: Any, text: str) -> None:
    page.locator('[data-testid="terminal"] .xterm-helper-textarea').press_sequentially(text)


def _remove(page: Any, vmid: int) -> None:
    """More -> Remove, typing the ID to confirm."""
    page.get_by_test_id("guest-more").click()
    page.get_by_test_id("guest-destroy").click()
    page.locator("#f-confirm-vmid").fill(str(vmid))
    page.get_by_test_id("modal-submit").click()


def _wizard_next(page: Any, step: str) -> None:
    page.get_by_test_id("wizard-next").click()
    expect(page.get_by_test_id(f"wizard-body-{step}")).to_be_visible()


@NEEDS_QEMU
def test_vm_lifecycle(ui: UI, page: Any, iso: str, cleanup: None) -> None:
    started = time.monotonic()
    _cleanup(ui.daemon, "qemu", VMID)
    ui.login(page)

    # --- the wizard
    page.get_by_test_id("create-vm-button").click()
    expect(page.get_by_test_id("wizard-body-general")).to_be_visible()
    expect(page.locator("#vm-vmid")).not_to_have_value("")  # from /cluster/nextid
    page.locator("#vm-vmid").fill(str(VMID))
    page.locator("#vm-name").fill("bad name!")  # refused by the API: see below
    _wizard_next(page, "os")
    expect(page.locator("#vm-iso")).to_have_value(iso)
    _wizard_next(page, "system")
    page.locator("#vm-vga").select_option("std")
    page.locator("#vm-serial").check()
    page.locator("#vm-kvm").uncheck()  # TCG: the host may not offer KVM
    _wizard_next(page, "disks")
    page.locator("#vm-disk-size").fill("1")
    _wizard_next(page, "cpu")
    _wizard_next(page, "memory")
    page.locator("#vm-memory").fill("256")
    _wizard_next(page, "network")
    page.locator("#vm-nonet").check()
    _wizard_next(page, "confirm")
    summary = page.get_by_test_id("wizard-summary")
    expect(summary).to_contain_text("serial0")
    expect(summary).to_contain_text(f"{iso},media=cdrom")
    expect(summary).to_contain_text("local:1,format=qcow2")
    ui.shot(page, "vm-wizard-confirm")
    # a refused parameter: the wizard goes back to its step, the field shows the message
    ui.allow_console_error(r"status of 400")
    page.get_by_test_id("wizard-finish").click()
    expect(page.get_by_test_id("wizard-body-general")).to_be_visible()
    expect(page.get_by_test_id("field-error-name")).to_be_visible()
    expect(page.get_by_test_id("wizard-error")).to_contain_text("name")
    ui.shot(page, "vm-wizard-error")
    page.locator("#vm-name").fill("e2e-vm")
    page.get_by_test_id("wizard-step-confirm").click()
    page.get_by_test_id("wizard-finish").click()
    # the wizard follows the create task, then selects the new VM
    title = page.get_by_test_id("content-title")
    expect(title).to_contain_text(f"Virtual Machine {VMID} (e2e-vm)", timeout=60_000)
    expect(page.get_by_test_id("create-vm")).to_have_count(0)
    ui.record("vm_create_s", round(time.monotonic() - started, 1))

    # --- start, then the noVNC console while it boots
    page.get_by_test_id("guest-start").click()
    expect(page.get_by_test_id("guest-status")).to_have_text("running", timeout=60_000)
    ui.shot(page, "vm-summary")
    page.get_by_test_id("tab-console").click()
    screen = page.get_by_test_id("vnc-screen")
    expect(screen).to_have_attribute("data-state", "connected", timeout=30_000)
    canvas = page.locator('[data-testid="vnc-screen"] canvas')
    expect(canvas).to_be_visible()
    first = _canvas(page)
    deadline = time.monotonic() + 90
    while _canvas(page) == first:
        assert time.monotonic() < deadline, "the VNC framebuffer never changed"
        time.sleep(1)
    time.sleep(2)
    ui.shot(page, "vm-console-vnc")

    # --- the serial console: the guest's shell on ttyS0 (kernel console=ttyS0)
    page.get_by_test_id("console-serial0").click()
    term = page.get_by_test_id("terminal")
    expect(term).to_have_attribute("data-state", "connected", timeout=30_000)
    _wait_terminal(page, "pyxis-guest#", timeout=BOOT_TIMEOUT / 1000)
    _type(page, "dmesg | grep -m1 'Linux version'\n")
    _wait_terminal(page, "Linux version", nudge=False)
    ui.shot(page, "vm-console-serial")

    # --- hardware
    page.get_by_test_id("tab-hardware").click()
    expect(page.get_by_test_id("hw-row-scsi0")).to_contain_text("local:")
    # memory cannot change live: the edit stays pending (highlighted) until reverted
    page.get_by_test_id("hw-row-memory").click()
    page.get_by_test_id("hw-edit").click()
    page.locator("#cfg-memory").fill("384")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("hw-pending-memory")).to_contain_text("384")
    ui.shot(page, "vm-hardware")
    page.get_by_test_id("hw-row-memory").click()
    page.get_by_test_id("hw-revert").click()
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("hw-row-memory")).not_to_have_attribute("data-pending", "1")
    expect(page.get_by_test_id("hw-row-memory")).to_contain_text("256 MiB")
    # grow the disk online: the resize task is followed in its dialog
    page.get_by_test_id("hw-row-scsi0").click()
    page.get_by_test_id("hw-resize").click()
    page.locator("#resize-size").fill("1")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("task-output")).to_have_attribute("data-state", "ok", timeout=60_000)
    page.get_by_test_id("task-close").click()
    expect(page.get_by_test_id("hw-row-scsi0")).to_contain_text("size=2G")

    # --- a snapshot
    page.get_by_test_id("tab-snapshots").click()
    page.get_by_test_id("snapshot-take").click()
    page.locator("#snap-name").fill("e2e1")
    page.locator("#snap-description").fill("taken by the e2e test")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("task-output")).to_have_attribute("data-state", "ok", timeout=60_000)
    page.get_by_test_id("task-close").click()
    expect(page.get_by_test_id("snapshot-row-e2e1")).to_be_visible()
    ui.shot(page, "vm-snapshots")
    page.get_by_test_id("snapshot-row-e2e1").click()
    page.get_by_test_id("snapshot-delete").click()
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("task-output")).to_have_attribute("data-state", "ok", timeout=60_000)
    page.get_by_test_id("task-close").click()
    expect(page.get_by_test_id("snapshot-row-e2e1")).to_have_count(0)

    # --- stop (with confirmation), remove (typing the ID)
    page.get_by_test_id("guest-stop").click()
    page.get_by_test_id("modal-submit").click()
    page.get_by_test_id("tab-summary").click()
    expect(page.get_by_test_id("guest-status")).to_have_text("stopped", timeout=60_000)

    # --- a full clone, converted to a template, then removed
    page.get_by_test_id("guest-more").click()
    page.get_by_test_id("guest-clone").click()
    page.locator("#clone-newid").fill(str(CLONEID))
    page.locator("#clone-name").fill("e2e-clone")
    page.get_by_test_id("modal-submit").click()
    expect(title).to_contain_text(f"Virtual Machine {CLONEID} (e2e-clone)", timeout=120_000)
    page.get_by_test_id("guest-more").click()
    page.get_by_test_id("guest-template").click()
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("tab-console")).to_have_count(0, timeout=30_000)  # a template
    expect(page.get_by_test_id("guest-start")).to_be_disabled()
    expect(page.get_by_test_id("guest-busy")).to_have_count(0, timeout=60_000)  # task done
    _remove(page, CLONEID)
    expect(title).to_contain_text(f"Node {ui.node}", timeout=60_000)

    page.locator(f'[data-target="qemu/{VMID}"]').click()
    expect(title).to_contain_text(f"Virtual Machine {VMID}")
    _remove(page, VMID)
    expect(title).to_contain_text(f"Node {ui.node}", timeout=60_000)
    expect(page.locator(f'[data-target="qemu/{VMID}"]')).to_have_count(0, timeout=30_000)
    ui.record("vm_lifecycle_s", round(time.monotonic() - started, 1))


@pytest.fixture(scope="module")
def ct_template(node: Daemon) -> str:
    """Pyxis' busybox template in ``local`` (built by the node, cached across runs)."""
    s = api_session(node)
    r = s.post(
        node.api(f"/nodes/{node.node}/aplinfo"), data={"storage": "local", "template": CT_TEMPLATE}
    )
    r.raise_for_status()
    upid = r.json()["data"]
    deadline = time.monotonic() + 600
    while True:
        st = s.get(node.api(f"/nodes/{node.node}/tasks/{upid}/status")).json()["data"]
        if st["status"] == "stopped":
            assert st.get("exitstatus") == "OK", st
            return f"local:vztmpl/{CT_TEMPLATE}"
        assert time.monotonic() < deadline, "template download/build took too long"
        time.sleep(1)


@NEEDS_LXC
def test_container_lifecycle(ui: UI, page: Any, ct_template: str, cleanup: None) -> None:
    started = time.monotonic()
    password = "e2e-Secret-1"
    _cleanup(ui.daemon, "lxc", CTID)
    ui.login(page)

    page.get_by_test_id("create-ct-button").click()
    expect(page.get_by_test_id("wizard-body-general")).to_be_visible()
    expect(page.locator("#ct-vmid")).not_to_have_value("")  # from /cluster/nextid
    page.locator("#ct-vmid").fill(str(CTID))
    page.locator("#ct-hostname").fill("e2e-ct")
    page.locator("#ct-password").fill(password)
    page.locator("#ct-confirm").fill(password)
    _wizard_next(page, "template")
    expect(page.locator("#ct-template")).to_have_value(ct_template)
    _wizard_next(page, "disks")
    page.locator("#ct-disk-size").fill("0")  # a directory on `local`
    _wizard_next(page, "cpu")
    _wizard_next(page, "memory")
    page.locator("#ct-memory").fill("128")
    _wizard_next(page, "network")
    page.locator("#ct-nonet").check()
    _wizard_next(page, "dns")
    _wizard_next(page, "confirm")
    summary = page.get_by_test_id("wizard-summary")
    expect(summary).to_contain_text(ct_template)
    expect(summary).to_contain_text("local:0")
    ui.shot(page, "ct-wizard-confirm")
    page.get_by_test_id("wizard-finish").click()
    title = page.get_by_test_id("content-title")
    expect(title).to_contain_text(f"Container {CTID} (e2e-ct)", timeout=120_000)
    ui.record("ct_create_s", round(time.monotonic() - started, 1))

    # --- options: the console on /dev/console, where the template runs a getty (the
    # default `tty` mode attaches to tty<N> of the `tty` count, which has none)
    page.get_by_test_id("tab-options").click()
    page.get_by_test_id("ctopt-row-cmode").click()
    page.get_by_test_id("ctopt-edit").click()
    page.locator("#cfg-cmode").select_option("console")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("ctopt-row-cmode")).to_contain_text("console")

    page.get_by_test_id("guest-start").click()
    page.get_by_test_id("tab-summary").click()
    expect(page.get_by_test_id("guest-status")).to_have_text("running", timeout=60_000)
    expect(page.get_by_test_id("guest-stop")).to_be_enabled(timeout=30_000)
    ui.shot(page, "ct-summary")

    # --- the console: log in on the getty with the wizard's password, run a command
    page.get_by_test_id("tab-console").click()
    term = page.get_by_test_id("terminal")
    expect(term).to_have_attribute("data-state", "connected", timeout=30_000)
    _wait_terminal(page, "login:", timeout=60)
    _type(page, "root\n")
    _wait_terminal(page, "Password:", nudge=False)
    _type(page, password + "\n")
    _wait_terminal(page, "#", nudge=False)
    _type(page, "echo hel''lo-$((40+2))\n")
    _wait_terminal(page, "hello-42", nudge=False)
    ui.shot(page, "ct-console")

    page.get_by_test_id("tab-resources").click()
    expect(page.get_by_test_id("res-row-memory")).to_contain_text("128 MiB")
    expect(page.get_by_test_id("res-row-rootfs")).to_contain_text("local:")
    ui.shot(page, "ct-resources")

    # a NIC added to the running container waits for the next start (pending)
    page.get_by_test_id("tab-network").click()
    page.get_by_test_id("ctnet-add").click()
    page.locator("#ctnet-mode").select_option("manual")
    page.get_by_test_id("modal-submit").click()
    row = page.get_by_test_id("ctnet-row-net0")
    expect(row).to_contain_text("vmbr0")
    expect(row).to_have_attribute("data-pending", "1")
    ui.shot(page, "ct-network")

    page.get_by_test_id("guest-stop").click()
    page.get_by_test_id("modal-submit").click()
    page.get_by_test_id("tab-summary").click()
    expect(page.get_by_test_id("guest-status")).to_have_text("stopped", timeout=60_000)
    page.get_by_test_id("guest-more").click()
    page.get_by_test_id("guest-destroy").click()
    page.locator("#f-confirm-vmid").fill(str(CTID))
    page.get_by_test_id("modal-submit").click()
    expect(title).to_contain_text(f"Node {ui.node}", timeout=60_000)
    expect(page.locator(f'[data-target="lxc/{CTID}"]')).to_have_count(0, timeout=30_000)
    ui.record("ct_lifecycle_s", round(time.monotonic() - started, 1))


VMUSER = "e2e-vmuser@pve"
VMUSER_PW = "vmuser-pw-123"
RVMID = 9753


def test_vm_user_sees_only_allowed_actions(ui: UI, page: Any) -> None:
    """PVEVMUser on one VM: power and console yes; config, snapshots, clone, remove no."""
    s = api_session(ui.daemon)
    base = ui.daemon.api(f"/nodes/{ui.node}/qemu")
    if s.get(f"{base}/{RVMID}/config").status_code != 200:
        r = s.post(base, data={"vmid": RVMID, "name": "e2e-vmuser-vm", "memory": 128})
        assert r.status_code == 200, r.text
    s.post(ui.daemon.api("/access/users"), data={"userid": VMUSER, "password": VMUSER_PW})
    r = s.put(
        ui.daemon.api("/access/acl"),
        data={"path": f"/vms/{RVMID}", "users": VMUSER, "roles": "PVEVMUser"},
    )
    assert r.status_code == 200, r.text
    ui.login(page, VMUSER, VMUSER_PW)
    expect(page.get_by_test_id("create-vm-button")).to_have_count(0)
    page.locator(f'[data-target="qemu/{RVMID}"]').click()
    expect(page.get_by_test_id("guest-start")).to_be_visible()
    expect(page.get_by_test_id("tab-console")).to_be_visible()
    page.get_by_test_id("guest-more").click()
    expect(page.get_by_test_id("guest-suspend")).to_be_visible()
    expect(page.get_by_test_id("guest-clone")).to_have_count(0)
    expect(page.get_by_test_id("guest-destroy")).to_have_count(0)
    page.keyboard.press("Escape")
    page.get_by_test_id("tab-hardware").click()
    page.get_by_test_id("hw-row-memory").click()
    expect(page.get_by_test_id("hw-edit")).to_be_disabled()
    page.get_by_test_id("hw-add").click()
    expect(page.get_by_role("menuitem", name="Hard disk")).to_be_disabled()
    expect(page.get_by_role("menuitem", name="CD/DVD drive")).to_be_enabled()  # VM.Config.CDROM
    page.keyboard.press("Escape")
    page.get_by_test_id("tab-options").click()
    page.get_by_test_id("opt-row-name").click()
    expect(page.get_by_test_id("opt-edit")).to_be_disabled()
    page.get_by_test_id("tab-snapshots").click()
    expect(page.get_by_test_id("snapshot-row-current")).to_be_visible()
    expect(page.get_by_test_id("snapshot-take")).to_have_count(0)
    ui.shot(page, "vm-restricted-hardware")
    # VM.Config.Cloudinit: the cloud-init settings are editable
    page.get_by_test_id("tab-cloudinit").click()
    page.get_by_test_id("ci-row-ciuser").click()
    page.get_by_test_id("ci-edit").click()
    page.locator("#cfg-ciuser").fill("e2e")
    page.get_by_test_id("modal-submit").click()
    expect(page.get_by_test_id("ci-row-ciuser")).to_contain_text("e2e")
    ui.shot(page, "vm-cloudinit")
