"""Delegation end to end: a real pyxisd, proxmoxer, a restricted user and a restricted token.

The helpdesk user holds ``PVEVMUser`` on ``/pool/helpdesk`` only: it may power-cycle
the VM in that pool (a ``kvm: 0`` guest without disks, 64 MiB) but not one outside it,
and may not create VMs.  The automation token is privilege-separated with
``PVEDatastoreUser`` on ``/storage/local``: it may allocate a volume there but not on a
second storage, even though its user could (a custom role adds the ``VM.Config.Disk``
that allocating a VM's volume needs on that VM).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from daemon import ADMIN, ADMIN_PW, Daemon
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

HD_USER, HD_PW = "helpdesk1@pve", "helpdesk-pw-1"
AUTO_USER = "automation@pve"
IN_POOL, OUTSIDE = 7101, 7102


def connect(d: Daemon, **auth: Any) -> ProxmoxAPI:
    return ProxmoxAPI(d.host, port=d.port, backend="https", verify_ssl=False, timeout=30, **auth)


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = 60) -> dict[str, Any]:
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def task_ok(px: ProxmoxAPI, upid: str) -> None:
    status = wait_task(px, upid)
    assert status["exitstatus"] == "OK", status


@pytest.fixture(scope="module")
def admin(module_daemon: Daemon) -> ProxmoxAPI:
    return connect(module_daemon, user=ADMIN, password=ADMIN_PW)


@pytest.fixture(scope="module")
def org(admin: ProxmoxAPI, module_daemon: Daemon) -> dict[str, str]:
    """Pool, two VMs, a second storage, the helpdesk user and the automation token."""
    node = module_daemon.node
    for vmid in (IN_POOL, OUTSIDE):
        task_ok(admin, admin.nodes(node).qemu.post(vmid=vmid, kvm=0, memory=64))
    admin.pools.post(poolid="helpdesk", comment="first-level support")
    admin.pools.put(poolid="helpdesk", vms=str(IN_POOL))
    second = Path(str(module_daemon.root)) / "second-store"
    second.mkdir()
    admin.storage.post(storage="second", type="dir", path=str(second), content="images")
    admin.access.users.post(userid=HD_USER, password=HD_PW)
    admin.access.acl.put(path="/pool/helpdesk", roles="PVEVMUser", users=HD_USER)
    admin.access.users.post(userid=AUTO_USER)
    admin.access.acl.put(path="/storage", roles="PVEDatastoreUser", users=AUTO_USER)
    token = admin.access.users(AUTO_USER).token("alloc").post(privsep=1)
    admin.access.acl.put(
        path="/storage/local", roles="PVEDatastoreUser", tokens=token["full-tokenid"]
    )
    # allocating a VM's volume also needs VM.Config.Disk on that VM (a custom role)
    admin.access.roles.post(roleid="DiskOnly", privs="VM.Config.Disk")
    admin.access.acl.put(
        path="/vms/7150", roles="DiskOnly", users=AUTO_USER, tokens=token["full-tokenid"]
    )
    return {"node": node, "token_value": token["value"]}


def test_helpdesk_power_cycles_pool_vm_only(
    org: dict[str, str], module_daemon: Daemon, admin: ProxmoxAPI
) -> None:
    node = org["node"]
    hd = connect(module_daemon, user=HD_USER, password=HD_PW)
    vm = hd.nodes(node).qemu(IN_POOL)
    task_ok(hd, vm.status.start.post())
    assert vm.status.current.get()["status"] == "running"
    task_ok(hd, vm.status.stop.post())
    assert vm.status.current.get()["status"] == "stopped"
    with pytest.raises(ResourceException) as exc:
        hd.nodes(node).qemu(OUTSIDE).status.start.post()
    assert exc.value.status_code == 403
    assert admin.nodes(node).qemu(OUTSIDE).status.current.get()["status"] == "stopped"
    with pytest.raises(ResourceException) as exc:
        hd.nodes(node).qemu.post(vmid=7103, kvm=0, memory=64)
    assert exc.value.status_code == 403
    with pytest.raises(ResourceException) as exc:
        hd.nodes(node).qemu.post(vmid=7103, kvm=0, memory=64, pool="helpdesk")
    assert exc.value.status_code == 403
    listed = {vm["vmid"] for vm in hd.nodes(node).qemu.get()}
    assert listed == {IN_POOL}


def test_token_allocates_on_local_only(org: dict[str, str], module_daemon: Daemon) -> None:
    node = org["node"]
    tok = connect(module_daemon, user=AUTO_USER, token_name="alloc", token_value=org["token_value"])
    volid = (
        tok.nodes(node)
        .storage("local")
        .content.post(vmid=7150, filename="vm-7150-disk-0", size="1M", format="raw")
    )
    assert volid == "local:7150/vm-7150-disk-0.raw"
    with pytest.raises(ResourceException) as exc:
        tok.nodes(node).storage("second").content.post(
            vmid=7150, filename="vm-7150-disk-1", size="1M", format="raw"
        )
    assert exc.value.status_code == 403
    perms = tok.access.permissions.get()
    assert "Datastore.AllocateSpace" in perms["/storage/local"]
    assert "/storage/second" not in perms


def test_audit_trail_in_cluster_log(org: dict[str, str], admin: ProxmoxAPI) -> None:
    entries = admin.cluster.log.get(max=200)
    msgs = [e["msg"] for e in entries]
    assert any("/access/acl" in m and "PVEVMUser" in m for m in msgs)
    assert any(m.startswith("starting task") for m in msgs)
    assert not any(HD_PW in m for m in msgs)


def test_pveum_groups_roles_pools_realms(module_daemon: Daemon, admin: ProxmoxAPI) -> None:
    d = module_daemon
    d.ok("pveum", "group", "add", "cli-ops", "--comment", "from the CLI")
    d.ok("pveum", "role", "add", "CliRole", "--privs", "VM.Audit,VM.Console")
    d.ok("pveum", "pool", "add", "cli-pool")
    d.ok("pveum", "user", "add", "cliuser@pve", "--groups", "cli-ops")
    d.ok("pveum", "acl", "modify", "/pool/cli-pool", "--groups", "cli-ops", "--roles", "CliRole")
    assert "cli-ops" in d.ok("pveum", "group", "list")
    assert "cli-pool" in d.ok("pveum", "pool", "list")
    realms = d.ok("pveum", "realm", "list")
    assert "pam" in realms and "pve" in realms
    perms = d.ok(
        "pveum",
        "user",
        "permissions",
        "cliuser@pve",
        "--path",
        "/pool/cli-pool",
        "--output-format",
        "json",
    )
    assert "VM.Console" in perms
    assert admin.access.groups("cli-ops").get()["members"] == ["cliuser@pve"]
    d.ok("pveum", "role", "delete", "CliRole")
    assert "CliRole" not in d.ok("pveum", "role", "list")
