"""Containers on a real pyxisd driven over HTTPS by proxmoxer, run by the real LXC tools.

The busybox template is built by the node itself (``POST /nodes/{node}/aplinfo``); the
tests make their own bridge with a host address and remove it at the end.  Covered:
create on ``dir`` storage with a static IP, start, a TCP connection from the host into
the container, ``exec`` through the API extension, the memory limit killing a hog,
suspend/resume, clone, destroy leaving nothing behind (config, volume, LXC directory,
veth), an unprivileged container whose files belong to the mapped ids, a container
that survives a SIGKILL of the daemon, snapshot/rollback on a loop-mounted btrfs
storage, and bad input (host bind mounts by non-root, hostile host names, a template
with a ``..`` member) refused with nothing left behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon import Daemon
from proxmoxer import ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("lxc-start") is None, reason="needs LXC"),
    pytest.mark.skipif(os.geteuid() != 0, reason="containers need root"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

CTADMIN = "ctadmin@pve"
CTADMIN_PW = "ct-admin-pw-1"
TEMPLATE = "busybox-1.35-pyxis_1.0-1_amd64.tar.zst"
OSTEMPLATE = f"local:vztmpl/{TEMPLATE}"
BRIDGE = f"pxct{os.getpid() % 10000}"
NET = "10.231.77"
TASK_TIMEOUT = 120.0


def connect(d: Daemon, user: str = CTADMIN, password: str = CTADMIN_PW) -> ProxmoxAPI:
    return ProxmoxAPI(
        d.host, port=d.port, backend="https", verify_ssl=False, timeout=120,
        user=user, password=password,
    )  # fmt: skip


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = TASK_TIMEOUT) -> dict[str, Any]:
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
    if status.get("exitstatus") != "OK":
        log = px.nodes(status["node"]).tasks(upid).log.get(limit=200)
        raise AssertionError(f"task failed: {status}\n" + "\n".join(x["t"] for x in log))


@pytest.fixture(scope="module")
def pyxisd(module_daemon: Daemon) -> Daemon:
    module_daemon.add_admin(CTADMIN, CTADMIN_PW)
    return module_daemon


@pytest.fixture(scope="module")
def px(pyxisd: Daemon) -> Iterator[ProxmoxAPI]:
    try:
        yield connect(pyxisd)
    finally:
        _kill_leftovers(pyxisd)


def _kill_leftovers(d: Daemon) -> None:
    """Stop containers a failed test left running and unmount their volumes."""
    link = d.root / "run/pyxis/lxc"
    if not link.is_symlink():
        return
    path = Path(os.readlink(link))
    for ct in path.iterdir() if path.is_dir() else []:
        subprocess.run(["lxc-stop", "-n", ct.name, "-P", str(path), "-k"],
                       check=False, capture_output=True)  # fmt: skip
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for mnt in sorted((m for m in mounts if m.startswith(str(path))), reverse=True):
        subprocess.run(["umount", "-l", mnt], check=False)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def node(pyxisd: Daemon) -> str:
    return pyxisd.node


@pytest.fixture(scope="module")
def template(px: ProxmoxAPI, node: str) -> str:
    task_ok(px, px.nodes(node).aplinfo.post(storage="local", template=TEMPLATE))
    return OSTEMPLATE


@pytest.fixture(scope="module")
def bridge() -> Iterator[str]:
    subprocess.run(["ip", "link", "add", BRIDGE, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", f"{NET}.1/24", "dev", BRIDGE], check=True)
        subprocess.run(["ip", "link", "set", BRIDGE, "up"], check=True)
        yield BRIDGE
    finally:
        subprocess.run(["ip", "link", "del", BRIDGE], check=False)


def lxcpath(d: Daemon) -> Path:
    return Path(os.readlink(d.root / "run/pyxis/lxc"))


def create(px: ProxmoxAPI, node: str, vmid: int, **params: Any) -> None:
    task_ok(px, px.nodes(node).lxc.post(vmid=vmid, **params))


def ct_exec(px: ProxmoxAPI, node: str, vmid: int, *cmd: str, **kw: Any) -> dict[str, Any]:
    res: dict[str, Any] = px.nodes(node).lxc(vmid).exec.post(command=list(cmd), **kw)
    return res


def destroy(px: ProxmoxAPI, node: str, vmid: int) -> None:
    task_ok(px, px.nodes(node).lxc(vmid).delete(force=1))


def tcp_read(host: str, port: int, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                return s.recv(100)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_lifecycle_on_dir_storage(
    px: ProxmoxAPI, node: str, template: str, bridge: str, pyxisd: Daemon
) -> None:
    vmid = 7100
    create(px, node, vmid, ostemplate=template, rootfs="local:0.25", hostname="web1",
           memory=64, swap=0, password="secret-pw",
           net0=f"name=eth0,bridge={bridge},ip={NET}.2/24")  # fmt: skip
    conf = px.nodes(node).lxc(vmid).config.get()
    assert conf["hostname"] == "web1" and conf["memory"] == 64
    assert conf["rootfs"].startswith(f"local:{vmid}/vm-{vmid}-disk-0.raw")
    task_ok(px, px.nodes(node).lxc(vmid).status.start.post())
    status = px.nodes(node).lxc(vmid).status.current.get()
    assert status["status"] == "running" and status["maxmem"] == 64 << 20

    # exec through the extension: output, exit code, stdin; the root password is set
    out = ct_exec(px, node, vmid, "hostname")
    assert out == {"exitcode": 0, "stdout": "web1\n", "stderr": ""}
    assert ct_exec(px, node, vmid, "sh", "-c", "exit 3")["exitcode"] == 3
    assert ct_exec(px, node, vmid, "cat", input="abc")["stdout"] == "abc"
    shadow = ct_exec(px, node, vmid, "cat", "/etc/shadow")["stdout"]
    assert shadow.startswith("root:$6$")

    # reachable from the host over the bridge
    ct_exec(px, node, vmid, "sh", "-c",
            "setsid sh -c 'echo pong | nc -l -p 7777' </dev/null >/dev/null 2>&1 &")  # fmt: skip
    assert tcp_read(f"{NET}.2", 7777).strip() == b"pong"

    # the memory limit is enforced: a 200 MB string in a 64 MB container is OOM-killed
    hog = ct_exec(px, node, vmid, "sh", "-c",
                  'x=$(head -c 200000000 /dev/zero | tr "\\0" a); echo ${#x}')  # fmt: skip
    assert hog["exitcode"] == 137, hog

    # suspend freezes, resume thaws
    task_ok(px, px.nodes(node).lxc(vmid).status.suspend.post())
    cgroup = Path(f"/sys/fs/cgroup/freezer/pyxis/pyxis-{lxcpath(pyxisd).name}-lxc-{vmid}")
    cgroup = cgroup / "freezer.state"
    if cgroup.exists():
        assert cgroup.read_text().strip() == "FROZEN"
    task_ok(px, px.nodes(node).lxc(vmid).status.resume.post())
    assert ct_exec(px, node, vmid, "true")["exitcode"] == 0

    # clean shutdown (busybox init halts on the configured signal), then a full clone
    task_ok(px, px.nodes(node).lxc(vmid).status.shutdown.post(timeout=20))
    assert px.nodes(node).lxc(vmid).status.current.get()["status"] == "stopped"
    task_ok(px, px.nodes(node).lxc(vmid).clone.post(newid=vmid + 1, hostname="web2"))
    clone = px.nodes(node).lxc(vmid + 1).config.get()
    assert clone["hostname"] == "web2" and clone["net0"] != conf["net0"]  # new MAC
    task_ok(px, px.nodes(node).lxc(vmid + 1).status.start.post())
    assert ct_exec(px, node, vmid + 1, "hostname")["stdout"] == "web2\n"

    # destroy (running: force) leaves nothing behind
    lxc_dir = lxcpath(pyxisd)
    images = pyxisd.root / "var/lib/vz/images"
    for ct in (vmid, vmid + 1):
        destroy(px, node, ct)
        assert not (lxc_dir / str(ct)).exists()
        assert not (images / str(ct)).exists()
        assert not Path(f"/sys/class/net/veth{ct}i0").exists()
        with pytest.raises(ResourceException):
            px.nodes(node).lxc(ct).config.get()
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(lxc_dir / str(vmid)) not in mounts


def test_unprivileged_container_uses_mapped_ids(
    px: ProxmoxAPI, node: str, template: str, bridge: str, pyxisd: Daemon
) -> None:
    vmid = 7110
    create(px, node, vmid, ostemplate=template, rootfs="local:0", unprivileged=1,
           net0=f"name=eth0,bridge={bridge},ip={NET}.10/24")  # fmt: skip
    conf = px.nodes(node).lxc(vmid).config.get()
    assert conf["unprivileged"] == 1
    volume = conf["rootfs"].split(",")[0].split(":", 1)[1]
    root = pyxisd.root / "var/lib/vz/images" / volume
    assert root.stat().st_uid == 100000
    assert (root / "bin/busybox").stat().st_uid == 100000
    task_ok(px, px.nodes(node).lxc(vmid).status.start.post())
    pid = px.nodes(node).lxc(vmid).status.current.get()["pid"]
    assert Path(f"/proc/{pid}").stat().st_uid == 100000  # init runs as mapped root
    assert ct_exec(px, node, vmid, "id", "-u")["stdout"] == "0\n"
    assert (root / "etc/hostname").stat().st_uid == 100000  # setup files are shifted too
    destroy(px, node, vmid)


def test_container_survives_daemon_kill(
    px: ProxmoxAPI, node: str, template: str, pyxisd: Daemon
) -> None:
    vmid = 7120
    create(px, node, vmid, ostemplate=template, rootfs="local:0")
    task_ok(px, px.nodes(node).lxc(vmid).status.start.post())
    pid = px.nodes(node).lxc(vmid).status.current.get()["pid"]
    pyxisd.kill()
    assert Path(f"/proc/{pid}").exists()
    pyxisd.start()
    again = connect(pyxisd)
    status = again.nodes(node).lxc(vmid).status.current.get()
    assert status["status"] == "running" and status["pid"] == pid
    assert ct_exec(again, node, vmid, "echo", "still")["stdout"] == "still\n"
    destroy(again, node, vmid)


@pytest.fixture
def btrfs_storage(px: ProxmoxAPI, tmp_path: Path) -> Iterator[str]:
    if shutil.which("mkfs.btrfs") is None:
        pytest.skip("needs btrfs-progs")
    image, mnt = tmp_path / "bt.img", tmp_path / "bt"
    mnt.mkdir()
    subprocess.run(["truncate", "-s", "1G", str(image)], check=True)
    subprocess.run(["mkfs.btrfs", "-q", str(image)], check=True, capture_output=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(mnt)], check=True)
    try:
        px.storage.post(storage="ctbt", type="btrfs", path=str(mnt), content="rootdir,images")
        yield "ctbt"
    finally:
        try:
            px.storage("ctbt").delete()
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_snapshot_rollback_on_btrfs(
    px: ProxmoxAPI, node: str, template: str, btrfs_storage: str
) -> None:
    vmid = 7130
    create(px, node, vmid, ostemplate=template, rootfs=f"{btrfs_storage}:0")
    ct = px.nodes(node).lxc(vmid)
    task_ok(px, ct.status.start.post())
    ct_exec(px, node, vmid, "sh", "-c", "echo before > /root/state")
    task_ok(px, ct.snapshot.post(snapname="snap1", description="first"))
    names = [s["name"] for s in ct.snapshot.get()]
    assert names == ["snap1", "current"]
    ct_exec(px, node, vmid, "sh", "-c", "echo after > /root/state")
    task_ok(px, ct.snapshot("snap1").rollback.post(start=1))
    assert ct_exec(px, node, vmid, "cat", "/root/state")["stdout"] == "before\n"
    assert ct.config.get()["parent"] == "snap1"
    task_ok(px, ct.snapshot("snap1").delete())
    assert [s["name"] for s in ct.snapshot.get()] == ["current"]
    destroy(px, node, vmid)


def test_snapshot_on_dir_subvolume_is_refused(px: ProxmoxAPI, node: str, template: str) -> None:
    vmid = 7140
    create(px, node, vmid, ostemplate=template, rootfs="local:0")
    with pytest.raises(ResourceException) as err:
        px.nodes(node).lxc(vmid).snapshot.post(snapname="s1")
    assert err.value.status_code == 400 and "snapshot feature is not available" in str(err.value)
    assert "lock" not in px.nodes(node).lxc(vmid).config.get()
    destroy(px, node, vmid)


def test_bad_input_is_refused(px: ProxmoxAPI, node: str, template: str, pyxisd: Daemon) -> None:
    vmid = 7150
    with pytest.raises(ResourceException) as err:
        px.nodes(node).lxc.post(vmid=vmid, ostemplate=template, mp0="/etc,mp=/mnt/etc")
    assert err.value.status_code == 403
    with pytest.raises(ResourceException) as err:
        px.nodes(node).lxc.post(vmid=vmid, ostemplate=template, hostname="a;reboot")
    assert err.value.status_code == 400 and "hostname" in str(err.value)
    with pytest.raises(ResourceException) as err:
        px.nodes(node).lxc.post(vmid=vmid, ostemplate=template, rootfs="local:0",
                                **{"lxc.init.cmd": "/bin/sh"})  # fmt: skip
    assert err.value.status_code in (400, 403)

    # a template with a '..' member: the create task fails, nothing is extracted anywhere
    cache = pyxisd.root / "var/lib/vz/template/cache"
    work = pyxisd.root / "evil"
    (work / "sub").mkdir(parents=True)
    (work / "sub/payload").write_text("x")
    subprocess.run(["tar", "-C", str(work / "sub"), "-czf", str(cache / "evil.tar.gz"),
                    "--transform", "s,^,../../escape/,", "payload"], check=True)  # fmt: skip
    upid = px.nodes(node).lxc.post(vmid=vmid, ostemplate="local:vztmpl/evil.tar.gz",
                                   rootfs="local:0")  # fmt: skip
    status = wait_task(px, upid)
    assert status["exitstatus"] != "OK" and ".." in status["exitstatus"]
    assert not list(pyxisd.root.rglob("escape"))
    assert not (pyxisd.root / "var/lib/vz/images" / str(vmid)).exists()
    with pytest.raises(ResourceException):
        px.nodes(node).lxc(vmid).config.get()


def test_pct_cli(px: ProxmoxAPI, node: str, template: str, pyxisd: Daemon, tmp_path: Path) -> None:
    vmid = 7160
    pyxisd.ok("pct", "create", str(vmid), template, "--rootfs", "local:0", "--hostname", "cli1")
    assert f"{vmid}" in pyxisd.ok("pct", "list")
    pyxisd.ok("pct", "start", str(vmid))
    assert pyxisd.ok("pct", "status", str(vmid)).strip() == "status: running"
    assert pyxisd.ok("pct", "exec", str(vmid), "--", "hostname").strip() == "cli1"
    src = tmp_path / "in.txt"
    src.write_text("payload\n")
    pyxisd.ok("pct", "push", str(vmid), str(src), "/root/in.txt", "--perms", "0600")
    pyxisd.ok("pct", "pull", str(vmid), "/root/in.txt", str(tmp_path / "out.txt"))
    assert (tmp_path / "out.txt").read_text() == "payload\n"
    pyxisd.ok("pct", "set", str(vmid), "--memory", "256")
    assert "memory: 256" in pyxisd.ok("pct", "config", str(vmid))
    pyxisd.ok("pct", "stop", str(vmid))
    pyxisd.ok("pct", "destroy", str(vmid))


def test_web_console_shell(px: ProxmoxAPI, node: str, template: str, pyxisd: Daemon) -> None:
    import ssl
    from urllib.parse import urlencode

    import requests
    from websockets.sync.client import connect as ws_connect

    vmid = 7170
    create(px, node, vmid, ostemplate=template, rootfs="local:0", cmode="shell")
    task_ok(px, px.nodes(node).lxc(vmid).status.start.post())
    login = requests.post(
        f"{pyxisd.url}/api2/json/access/ticket", verify=False, timeout=30,
        data={"username": CTADMIN, "password": CTADMIN_PW},
    ).json()["data"]  # fmt: skip
    data = px.nodes(node).lxc(vmid).termproxy.post()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    query = urlencode({"port": data["port"], "vncticket": data["ticket"]})
    url = (
        f"wss://{pyxisd.host}:{pyxisd.port}/api2/json/nodes/{node}/lxc/{vmid}/vncwebsocket?{query}"
    )
    with ws_connect(
        url, ssl=ctx, subprotocols=["binary"],  # type: ignore[list-item]
        additional_headers={"Cookie": f"PVEAuthCookie={login['ticket']}"},
        proxy=None, compression=None,
    ) as conn:  # fmt: skip
        conn.send(f"{data['user']}:{data['ticket']}\n")
        buf = b""
        deadline = time.monotonic() + 20
        while b"OK" not in buf:
            msg = conn.recv(timeout=max(0.1, deadline - time.monotonic()))
            buf += msg.encode() if isinstance(msg, str) else msg
        conn.send("1:80:24:")
        deadline = time.monotonic() + 30
        while b"# " not in buf:  # the shell's prompt; a newline now and then shows it
            assert time.monotonic() < deadline, buf
            conn.send("0:1:\n")
            try:
                msg = conn.recv(timeout=1)
            except TimeoutError:
                continue
            buf += msg.encode() if isinstance(msg, str) else msg
        for text in ("echo hel", "lo-$((40+2))\n"):
            conn.send(f"0:{len(text)}:{text}")
        while b"hello-42" not in buf:
            assert time.monotonic() < deadline, buf
            try:
                msg = conn.recv(timeout=1)
            except TimeoutError:
                continue
            buf += msg.encode() if isinstance(msg, str) else msg
    assert wait_task(px, data["upid"])["exitstatus"] == "OK"
    destroy(px, node, vmid)
