"""Booting the test guest through a real ``pyxisd``: the steps system tests share.

``GuestVm`` creates a VM over the API (proxmoxer) that boots the test guest ISO
(``tests/support/guest_image.py``; never built here) under TCG with the guest agent,
starts it, waits until the agent answers, runs commands in the guest through the
agent API (``agent/exec`` + ``agent/exec-status``) and stops and destroys it at the end.
``temp_bridge`` makes a throw-away Linux bridge for NICs and removes it afterwards.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import guest_image
from daemon import ADMIN, ADMIN_PW, Daemon
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

ISO_NAME = "pyxis-test-guest.iso"
AGENT_TIMEOUT = 120.0


def cached_iso() -> Path | None:
    """The test guest ISO if ``guest_image.py`` built one."""
    found = sorted(
        (p.parent / "guest.iso" for p in guest_image.default_cache_root().glob("*/manifest.json")),
        key=lambda p: p.stat().st_mtime if p.exists() else 0,
    )
    return found[-1] if found and found[-1].exists() else None


def connect(d: Daemon) -> ProxmoxAPI:
    return ProxmoxAPI(
        d.host, port=d.port, backend="https", verify_ssl=False, timeout=120,
        user=ADMIN, password=ADMIN_PW,
    )  # fmt: skip


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = 120) -> dict[str, Any]:
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            if status.get("exitstatus") != "OK":
                log = px.nodes(node).tasks(upid).log.get(limit=500)
                raise AssertionError(f"task failed: {status}\n" + "\n".join(x["t"] for x in log))
            return status
        time.sleep(0.1)
    raise AssertionError(f"task {upid} still running after {timeout}s")


@contextlib.contextmanager
def temp_bridge(name: str) -> Iterator[str]:
    """A Linux bridge ``name`` (up) for the duration of the block."""
    subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)


class GuestVm:
    """One test guest VM on ``daemon``."""

    def __init__(self, daemon: Daemon, vmid: int, iso: Path) -> None:
        self.daemon = daemon
        self.vmid = vmid
        self.px = connect(daemon)
        self.node = daemon.node
        isodir = daemon.root / "var/lib/vz/template/iso"
        isodir.mkdir(parents=True, exist_ok=True)
        if not (isodir / ISO_NAME).exists():
            shutil.copyfile(iso, isodir / ISO_NAME)

    @property
    def api(self) -> Any:
        return self.px.nodes(self.node).qemu(self.vmid)

    def create(self, **config: Any) -> None:
        params = {
            "vmid": self.vmid, "name": f"guest{self.vmid}", "memory": 256, "kvm": 0,
            "ide0": f"local:iso/{ISO_NAME},media=cdrom", "boot": "order=ide0",
            "serial0": "socket", "agent": 1, "vga": "none", **config,
        }  # fmt: skip
        wait_task(self.px, self.px.nodes(self.node).qemu.post(**params))

    def start(self) -> None:
        wait_task(self.px, self.api.status.start.post())

    def wait_agent(self, timeout: float = AGENT_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                self.api.agent.ping.post()
                return
            except ResourceException as err:
                last = err
                time.sleep(1)
        raise AssertionError(f"guest agent of VM {self.vmid} did not answer: {last}")

    def run(self, *argv: str, timeout: float = 60) -> tuple[int, str]:
        """Run ``argv`` in the guest; return (exit code, stdout + stderr)."""
        pid = self.api.agent("exec").post(command=list(argv))["pid"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.api.agent("exec-status").get(pid=pid)
            if st["exited"]:
                return int(st.get("exitcode", -1)), st.get("out-data", "") + st.get("err-data", "")
            time.sleep(0.2)
        raise AssertionError(f"{argv} did not finish in the guest within {timeout}s")

    def sh(self, script: str, timeout: float = 60) -> str:
        code, out = self.run("/bin/sh", "-c", script, timeout=timeout)
        assert code == 0, f"{script!r} failed ({code}): {out}"
        return out

    def config(self) -> dict[str, Any]:
        """The main section (``current=1``: without pending values)."""
        cfg: dict[str, Any] = self.api.config.get(current=1)
        return cfg

    def pending(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.api.pending.get()
        return items

    def pending_keys(self) -> set[str]:
        """Keys with a pending change (a new value or a deletion)."""
        return {str(p["key"]) for p in self.pending() if "pending" in p or p.get("delete")}

    def destroy(self) -> None:
        with contextlib.suppress(Exception):
            wait_task(self.px, self.api.status.stop.post(), timeout=60)
        with contextlib.suppress(Exception):
            wait_task(self.px, self.api.delete(), timeout=60)
