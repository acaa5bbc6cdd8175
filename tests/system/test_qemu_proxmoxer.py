"""Virtual machines on a real pyxisd driven over HTTPS by proxmoxer, under TCG QEMU.

The lifecycle of a VM booting the test guest from an uploaded ISO with a fresh qcow2
disk (create, start, serial console, ACPI shutdown, destroy with its volumes); a guest
that survives a SIGKILL of the daemon and stays controllable; the config digest
serialising concurrent writers; and bad input refused with a 4xx naming the parameter
and leaving nothing behind.  Every VM uses ``kvm: 0`` so the tests run without
/dev/kvm.
"""

from __future__ import annotations

import shutil
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import guest_image

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

VMADMIN = "vmadmin@pve"
VMADMIN_PW = "vm-admin-pw-1"
BOOT_TIMEOUT = 90.0
TASK_TIMEOUT = 60.0
BASE = {"kvm": 0, "memory": 256}


def connect(d: Daemon, user: str = VMADMIN, password: str = VMADMIN_PW) -> ProxmoxAPI:
    return ProxmoxAPI(
        d.host, port=d.port, backend="https", verify_ssl=False, timeout=60,
        user=user, password=password,
    )  # fmt: skip


@pytest.fixture(scope="module")
def pyxisd(module_daemon: Daemon) -> Daemon:
    """The module's node, plus a non-root Administrator made with pveum."""
    module_daemon.add_admin(VMADMIN, VMADMIN_PW)
    return module_daemon


@pytest.fixture(scope="module")
def px(pyxisd: Daemon) -> ProxmoxAPI:
    return connect(pyxisd)


@pytest.fixture(scope="module")
def node(pyxisd: Daemon) -> str:
    return pyxisd.node


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = TASK_TIMEOUT) -> dict[str, Any]:
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def task_ok(px: ProxmoxAPI, upid: str, timeout: float = TASK_TIMEOUT) -> None:
    status = wait_task(px, upid, timeout)
    node = Tasks.decode_upid(upid)["node"]
    log = "\n".join(line["t"] for line in px.nodes(node).tasks(upid).log.get(limit=0))
    assert status["exitstatus"] == "OK", log


def vm_volumes(px: ProxmoxAPI, node: str, vmid: int, storage: str = "local") -> set[str]:
    return {
        v["volid"]
        for v in px.nodes(node).storage(storage).content.get()
        if f"vm-{vmid}-" in v["volid"] or f"base-{vmid}-" in v["volid"]
    }


def vm_exists(px: ProxmoxAPI, node: str, vmid: int) -> bool:
    return any(int(v["vmid"]) == vmid for v in px.nodes(node).qemu.get())


def destroy(px: ProxmoxAPI, node: str, vmid: int) -> None:
    """Stop (if needed) and destroy ``vmid``; for cleanup, so errors are not fatal."""
    if not vm_exists(px, node, vmid):
        return
    vm = px.nodes(node).qemu(vmid)
    if vm.status.current.get()["status"] == "running":
        wait_task(px, vm.status.stop.post())
    wait_task(px, vm.delete())


@pytest.fixture(scope="module")
def iso(px: ProxmoxAPI, node: str) -> str:
    """The test guest's ISO, uploaded through the API; its volid."""
    image = guest_image.build()
    with Path(image.iso).open("rb") as fh:
        upid = px.nodes(node).storage("local").upload.post(content="iso", filename=fh)
    task_ok(px, upid, timeout=120)
    volid = f"local:iso/{Path(image.iso).name}"
    assert volid in {v["volid"] for v in px.nodes(node).storage("local").content.get()}
    return volid


class Serial:
    """A client of a VM's serial console socket that keeps what it read."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(str(path))
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.text = ""

    def wait_for(self, marker: str, timeout: float) -> float:
        started = time.monotonic()
        deadline = started + timeout
        while marker not in self.text:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not on the console; tail:\n{self.text[-2000:]}")
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                raise AssertionError(f"console closed; tail:\n{self.text[-2000:]}")
            self.text += chunk.decode(errors="replace")
        return time.monotonic() - started

    def close(self) -> None:
        self.sock.close()


# -- lifecycle ----------------------------------------------------------------------------


def test_lifecycle_boots_from_uploaded_iso_and_destroy_frees_volumes(
    px: ProxmoxAPI, node: str, pyxisd: Daemon, iso: str
) -> None:
    vmid = 200
    try:
        upid = px.nodes(node).qemu.post(
            vmid=vmid, name="lifecycle", scsi0="local:1,format=qcow2",
            ide2=f"{iso},media=cdrom", boot="order=ide2", serial0="socket", **BASE,
        )  # fmt: skip
        task_ok(px, upid)
        vm = px.nodes(node).qemu(vmid)
        conf = vm.config.get()
        assert conf["scsi0"].startswith(f"local:{vmid}/vm-{vmid}-disk-0.qcow2")
        assert "size=1G" in conf["scsi0"]
        assert vm_volumes(px, node, vmid) == {f"local:{vmid}/vm-{vmid}-disk-0.qcow2"}
        assert vm.status.current.get()["status"] == "stopped"

        task_ok(px, vm.status.start.post())
        current = vm.status.current.get()
        assert current["status"] == "running"
        assert current["qmpstatus"] == "running"
        assert current["pid"] > 0
        listed = {int(v["vmid"]): v for v in px.nodes(node).qemu.get()}
        assert listed[vmid]["status"] == "running"

        run = pyxisd.root / "run/pyxis/qemu-server"
        console = Serial(run / f"{vmid}.serial0")
        try:
            booted = console.wait_for(guest_image.MARKER, BOOT_TIMEOUT)
        finally:
            console.close()
        print(f"guest ready {booted:.1f} s after start")

        task_ok(px, vm.status.shutdown.post(timeout=60), timeout=90)
        assert vm.status.current.get()["status"] == "stopped"
        assert not (run / f"{vmid}.pid").exists()

        task_ok(px, vm.delete())
        assert not vm_exists(px, node, vmid)
        assert vm_volumes(px, node, vmid) == set()
        assert not (pyxisd.root / f"var/lib/vz/images/{vmid}").exists() or not any(
            (pyxisd.root / f"var/lib/vz/images/{vmid}").iterdir()
        )
        with pytest.raises(ResourceException):
            vm.config.get()
    finally:
        destroy(px, node, vmid)


def test_concurrent_updates_with_one_digest_exactly_one_wins(
    px: ProxmoxAPI, node: str, pyxisd: Daemon
) -> None:
    vmid = 202
    try:
        task_ok(px, px.nodes(node).qemu.post(vmid=vmid, name="digest", **BASE))
        digest = px.nodes(node).qemu(vmid).config.get()["digest"]
        clients = [connect(pyxisd), connect(pyxisd)]
        barrier = threading.Barrier(2)
        outcomes: list[Any] = [None, None]

        def update(i: int) -> None:
            barrier.wait()
            try:
                clients[i].nodes(node).qemu(vmid).config.put(
                    description=f"writer {i}", digest=digest
                )
                outcomes[i] = "ok"
            except ResourceException as err:
                outcomes[i] = err

        threads = [threading.Thread(target=update, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        winners = [i for i, o in enumerate(outcomes) if o == "ok"]
        assert len(winners) == 1, outcomes
        loser = outcomes[1 - winners[0]]
        assert isinstance(loser, ResourceException)
        assert loser.status_code == 409
        assert "detected modified configuration" in str(loser)
        conf = px.nodes(node).qemu(vmid).config.get()
        assert conf["description"] == f"writer {winners[0]}"
        assert conf["digest"] != digest
    finally:
        destroy(px, node, vmid)


# -- bad input -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def iso_only_storage(px: ProxmoxAPI, pyxisd: Daemon) -> Iterator[str]:
    path = pyxisd.root / "srv/iso-only"
    px.storage.post(storage="isoonly", type="dir", path=str(path), content="iso", mkdir=1)
    yield "isoonly"
    px.storage("isoonly").delete()


@pytest.fixture(scope="module")
def existing_vm(px: ProxmoxAPI, node: str) -> Iterator[int]:
    vmid = 203
    task_ok(px, px.nodes(node).qemu.post(vmid=vmid, name="existing", **BASE))
    yield vmid
    destroy(px, node, vmid)


BAD_CREATE = [
    # (id, vmid, params, status, parameter named in the error)
    ("unknown-key", 210, {"foo": "bar"}, 400, "foo"),
    ("vmid-too-small", 99, {}, 400, "vmid"),
    ("vmid-too-large", 1000000000, {}, 400, "vmid"),
    ("disk-on-iso-storage", 211, {"scsi0": "isoonly:1"}, 400, "scsi0"),
    ("disk-on-iso-storage-second", 212, {"scsi0": "local:1", "scsi1": "isoonly:1"}, 400, "scsi1"),
    ("missing-iso", 213, {"ide2": "local:iso/no-such.iso,media=cdrom"}, 400, "ide2"),
    ("name-comma", 214, {"name": "a,b"}, 400, "name"),
    ("name-equals", 215, {"name": "a=b"}, 400, "name"),
    ("name-newline", 216, {"name": "a\nargs: -S"}, 400, "name"),
    ("args-non-root", 217, {"args": "-no-reboot"}, 403, None),
]


@pytest.mark.parametrize(
    ("vmid", "params", "status", "param"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_CREATE],
)
def test_bad_create_is_refused_and_leaves_nothing(
    px: ProxmoxAPI,
    node: str,
    pyxisd: Daemon,
    iso_only_storage: str,
    vmid: int,
    params: dict[str, Any],
    status: int,
    param: str | None,
) -> None:
    before = vm_volumes(px, node, vmid)
    try:
        with pytest.raises(ResourceException) as exc:
            upid = px.nodes(node).qemu.post(vmid=vmid, **BASE, **params)
            # a refusal inside the task would be a late one: report what happened
            raise AssertionError(f"accepted with task {upid}: {wait_task(px, upid)}")
        err = exc.value
        assert err.status_code == status, (err.status_code, str(err))
        if param is not None:
            assert param in (err.errors or {}), (err.errors, str(err))
        assert not vm_exists(px, node, vmid)
        assert not (pyxisd.root / f"var/lib/vz/images/{vmid}").exists()
        assert vm_volumes(px, node, vmid) == before == set()
    finally:
        if 100 <= vmid < 1000000000:
            destroy(px, node, vmid)


def test_duplicate_vmid_is_refused(px: ProxmoxAPI, node: str, existing_vm: int) -> None:
    with pytest.raises(ResourceException) as exc:
        px.nodes(node).qemu.post(vmid=existing_vm, scsi0="local:1", **BASE)
    assert exc.value.status_code == 400
    assert "vmid" in (exc.value.errors or {})
    assert px.nodes(node).qemu(existing_vm).config.get()["name"] == "existing"
    assert vm_volumes(px, node, existing_vm) == set()


def test_args_update_by_non_root_is_403(px: ProxmoxAPI, node: str, existing_vm: int) -> None:
    with pytest.raises(ResourceException) as exc:
        px.nodes(node).qemu(existing_vm).config.put(args="-no-reboot")
    assert exc.value.status_code == 403
    assert "args" not in px.nodes(node).qemu(existing_vm).config.get()


def test_multiline_description_cannot_inject_keys(
    px: ProxmoxAPI, node: str, existing_vm: int
) -> None:
    text = "first line\nargs: -no-reboot\n[PENDING]\nmemory: 4"
    px.nodes(node).qemu(existing_vm).config.put(description=text)
    conf = px.nodes(node).qemu(existing_vm).config.get()
    assert conf["description"] == text
    assert "args" not in conf
    assert str(conf["memory"]) == "256"
    assert px.nodes(node).qemu(existing_vm).pending.get()
    assert not any(
        p.get("pending") is not None for p in px.nodes(node).qemu(existing_vm).pending.get()
    )


def test_showcmd_is_root_only(px: ProxmoxAPI, node: str, existing_vm: int) -> None:
    with pytest.raises(ResourceException) as exc:
        px.nodes(node).qemu(existing_vm).showcmd.get()
    assert exc.value.status_code == 403


# -- daemon crash -------------------------------------------------------------------------


def test_vm_survives_daemon_sigkill_and_stays_controllable(pyxisd: Daemon, node: str) -> None:
    vmid = 201
    px = connect(pyxisd)
    try:
        task_ok(px, px.nodes(node).qemu.post(vmid=vmid, name="survivor", **BASE))
        task_ok(px, px.nodes(node).qemu(vmid).status.start.post())
        pid = px.nodes(node).qemu(vmid).status.current.get()["pid"]

        pyxisd.kill()
        assert Path(f"/proc/{pid}").exists()
        pyxisd.start()

        px = connect(pyxisd)
        vm = px.nodes(node).qemu(vmid)
        current = vm.status.current.get()
        assert current["status"] == "running"
        assert current["pid"] == pid
        assert current["qmpstatus"] == "running"
        listed = {int(v["vmid"]): v for v in px.nodes(node).qemu.get()}
        assert listed[vmid]["pid"] == pid

        task_ok(px, vm.status.stop.post())
        assert vm.status.current.get()["status"] == "stopped"
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.rsplit(")", 1)[1].split()[0] == "Z":
                break
            time.sleep(0.05)
        task_ok(px, vm.delete())
    finally:
        if pyxisd.running:
            destroy(connect(pyxisd), node, vmid)
