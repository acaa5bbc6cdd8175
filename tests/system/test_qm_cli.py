"""``qm`` against a real pyxisd and real TCG QEMU guests.

Each subcommand is run as a subprocess with ``PYXIS_ROOT`` set, as an operator's
shell would run it; exit codes (0 success, 255 a refused request or failed task, 2 a
usage error), stdout shapes (upstream's text formats) and stderr messages are the
contract.  Guests use ``kvm: 0``; one boots the test guest's ISO for the serial
terminal, the guest agent and an ACPI shutdown.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon import Daemon, tool

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import guest_image

import pyxis.api.all  # noqa: F401 - registers every API method
from pyxis.schema.registry import REGISTRY

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

OK, API_FAILED, USAGE = 0, 255, 2
BOOT_TIMEOUT = 90.0
LIST_HEADER = "      VMID NAME                 STATUS     MEM(MB)    BOOTDISK(GB) PID       "


def qm(d: Daemon, *args: str, code: int = OK, timeout: float = 120) -> str:
    """Run ``qm ARGS``; it must exit with ``code``; stdout (or stderr when failing)."""
    res = d.cli("qm", *args, timeout=timeout)
    assert res.returncode == code, (args, res.returncode, res.stdout, res.stderr)
    if code != OK:
        assert res.stderr.strip(), "a failure must say why on stderr"
        return res.stderr
    return res.stdout


def config_lines(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(": ")
        assert sep, f"not a 'key: value' line: {line!r}"
        out[key] = value
    return out


@pytest.fixture(scope="module")
def d(module_daemon: Daemon) -> Daemon:
    return module_daemon


def cleanup(d: Daemon, vmid: int) -> None:
    d.cli("qm", "stop", str(vmid))
    d.cli("qm", "destroy", str(vmid))


@pytest.fixture
def vm(d: Daemon, request: pytest.FixtureRequest) -> Iterator[int]:
    """A stopped device-less VM (``kvm: 0``, 64 MiB) made with ``qm create``."""
    vmid = int(request.param) if hasattr(request, "param") else 310
    qm(d, "create", str(vmid), "--kvm", "0", "--memory", "64", "--name", f"cli{vmid}")
    yield vmid
    cleanup(d, vmid)


def test_help_and_usage_errors(d: Daemon) -> None:
    out = qm(d, "help")
    for name in ("create", "set", "config", "start", "guest exec", "terminal", "showcmd"):
        assert f"  {name}\n" in out
    assert d.cli("qm").returncode == USAGE
    assert "unknown command" in qm(d, "bogus", code=USAGE)
    assert "missing argument" in qm(d, "start", code=USAGE)
    assert "missing argument" in qm(d, "status", code=USAGE)
    assert "too many arguments" in qm(d, "start", "100", "200", code=USAGE)
    assert "no command" in qm(d, "guest", "exec", "100", code=USAGE)
    assert "unknown option" in qm(d, "status", "100", "--bogus", code=USAGE)


def test_create_config_set_list_destroy(d: Daemon) -> None:
    vmid = 300
    try:
        out = qm(
            d, "create", str(vmid), "--kvm", "0", "--memory", "64", "--name", "cli-one",
            "--scsi0", "local:1,format=qcow2", "--serial0", "socket",
        )  # fmt: skip
        assert out.rstrip().endswith("TASK OK")
        conf = config_lines(qm(d, "config", str(vmid)))
        assert list(conf) == sorted(conf)
        assert "digest" not in conf
        assert conf["memory"] == "64"
        assert conf["name"] == "cli-one"
        assert conf["scsi0"] == f"local:{vmid}/vm-{vmid}-disk-0.qcow2,size=1G"

        assert qm(d, "set", str(vmid), "--description", "two\nlines: here") == ""
        assert config_lines(qm(d, "config", str(vmid)))["description"] == "two%0Alines%3A here"
        data = json.loads(qm(d, "config", str(vmid), "--output-format", "json"))
        assert data["description"] == "two\nlines: here"
        assert len(data["digest"]) == 40

        qm(d, "set", str(vmid), "--delete", "name")
        assert "name" not in config_lines(qm(d, "config", str(vmid)))
        assert "foo" in qm(d, "set", str(vmid), "--foo", "1", code=API_FAILED)
        err = qm(d, "set", str(vmid), "--memory", "64", "--digest", "0" * 40, code=API_FAILED)
        assert "detected modified configuration" in err

        lines = qm(d, "list").splitlines()
        assert lines[0] == LIST_HEADER
        row = next(line for line in lines[1:] if line.split()[0] == str(vmid))
        assert re.fullmatch(rf"\s+{vmid} VM ?{vmid}\s+stopped\s+64\s+1\.00 0\s*", row), row
        listed = json.loads(qm(d, "list", "--output-format", "json"))
        assert any(v["vmid"] == vmid for v in listed)

        out = qm(d, "destroy", str(vmid))
        assert f"local:{vmid}/vm-{vmid}-disk-0.qcow2" in out
        assert "does not exist" in qm(d, "config", str(vmid), code=API_FAILED)
        assert "does not exist" in qm(d, "status", str(vmid), code=API_FAILED)
        assert not (d.root / f"var/lib/vz/images/{vmid}/vm-{vmid}-disk-0.qcow2").exists()
    finally:
        cleanup(d, vmid)


@pytest.mark.parametrize("vm", [301], indirect=True)
def test_power_actions_status_and_pending(d: Daemon, vm: int) -> None:
    v = str(vm)
    assert qm(d, "status", v) == "status: stopped\n"
    assert "not running" in qm(d, "reboot", v, code=API_FAILED)

    out = qm(d, "start", v)
    assert "TASK OK" in out
    assert qm(d, "status", v) == "status: running\n"
    verbose = config_lines(qm(d, "status", v, "--verbose"))
    assert verbose["qmpstatus"] == "running"
    assert int(verbose["pid"]) > 0
    assert "cpu" not in verbose
    assert "already running" in qm(d, "start", v, code=API_FAILED)
    row = next(line for line in qm(d, "list").splitlines() if line.split()[0] == v)
    assert row.split()[2] == "running"
    assert row.split()[-1] == verbose["pid"]

    qm(d, "set", v, "--memory", "128")
    pending = qm(d, "pending", v).splitlines()
    assert "cur memory: 64" in pending
    assert "new memory: 128" in pending

    qm(d, "suspend", v)
    assert config_lines(qm(d, "status", v, "--verbose"))["qmpstatus"] == "paused"
    qm(d, "resume", v)
    assert config_lines(qm(d, "status", v, "--verbose"))["qmpstatus"] == "running"
    qm(d, "reset", v)

    # a guest without an OS ignores the ACPI button: the task fails, qm exits 255
    err = qm(d, "shutdown", v, "--timeout", "1", code=API_FAILED)
    assert "did not shut down" in err
    assert qm(d, "status", v) == "status: running\n"

    qm(d, "stop", v)
    assert qm(d, "status", v) == "status: stopped\n"
    # pending changes wait for the next start (as upstream), a stop does not apply them
    assert "new memory: 128" in qm(d, "pending", v).splitlines()
    qm(d, "set", v, "--revert", "memory")
    assert "new memory" not in qm(d, "pending", v)


@pytest.mark.parametrize("vm", [302], indirect=True)
def test_showcmd(d: Daemon, vm: int) -> None:
    v = str(vm)
    line = qm(d, "showcmd", v).rstrip("\n")
    assert "\n" not in line
    assert line.split()[0].endswith("qemu-system-x86_64")
    assert f"-pidfile {d.root}/run/pyxis/qemu-server/{vm}.pid" in line
    pretty = qm(d, "showcmd", v, "--pretty").splitlines()
    assert len(pretty) > 5
    assert all(p.endswith(" \\") for p in pretty[:-1])
    assert all(p.startswith("  -") for p in pretty[1:])
    argv = json.loads(qm(d, "showcmd", v, "--output-format", "json"))
    assert argv[0] == line.split()[0]
    assert "-daemonize" in argv
    assert "unable to find a serial interface" in qm(d, "terminal", v, code=API_FAILED)


@pytest.mark.skipif(
    "POST /nodes/{node}/qemu/{vmid}/snapshot" not in REGISTRY.methods,
    reason="snapshots not implemented yet",
)
def test_snapshot_commands(d: Daemon) -> None:
    vmid = 304
    v = str(vmid)
    try:
        qm(d, "create", v, "--kvm", "0", "--memory", "64", "--scsi0", "local:1,format=qcow2")
        qm(d, "snapshot", v, "first", "--description", "the first one")
        qm(d, "set", v, "--memory", "96")
        tree = qm(d, "listsnapshot", v)
        assert re.search(
            r"^`-> first\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+the first one$", tree, re.M
        )
        assert "current" in tree
        qm(d, "rollback", v, "first")
        assert config_lines(qm(d, "config", v))["memory"] == "64"
        qm(d, "delsnapshot", v, "first")
        assert "first" not in qm(d, "listsnapshot", v)
    finally:
        cleanup(d, vmid)


# -- a booted guest: serial terminal, guest agent, ACPI shutdown -------------------------


class Terminal:
    """``qm terminal`` as a subprocess with pipes (no tty: bytes pass unchanged)."""

    def __init__(self, d: Daemon, *args: str) -> None:
        env = {**os.environ, "PYXIS_ROOT": str(d.root)}
        self.proc = subprocess.Popen(
            [tool("qm"), "terminal", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        self.out = b""

    def send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def wait_for(self, marker: bytes, timeout: float) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while marker not in self.out:
            left = deadline - time.monotonic()
            assert left > 0, f"{marker!r} not seen; tail: {self.out[-1500:]!r}"
            ready, _, _ = select.select([self.proc.stdout], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, f"terminal closed; tail: {self.out[-1500:]!r}"
                self.out += chunk

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.communicate(timeout=10)  # also closes the pipes


def test_booted_guest_terminal_agent_and_acpi_shutdown(d: Daemon) -> None:
    vmid = 305
    v = str(vmid)
    image = guest_image.build()
    iso_dir = d.root / "var/lib/vz/template/iso"
    iso_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(image.iso, iso_dir / "qm-guest.iso")
    term: Terminal | None = None
    try:
        qm(
            d, "create", v, "--kvm", "0", "--memory", "256", "--serial0", "socket",
            "--agent", "1", "--ide2", "local:iso/qm-guest.iso,media=cdrom", "--boot", "order=ide2",
        )  # fmt: skip
        err = qm(d, "terminal", v, code=API_FAILED)
        assert f"VM {vmid} not running" in err
        qm(d, "start", v)
        term = Terminal(d, v)
        term.wait_for(b"starting serial terminal on interface serial0 (press Ctrl+O to exit)", 10)
        term.wait_for(guest_image.MARKER.encode(), BOOT_TIMEOUT)
        term.send(b"echo PYXIS-QM-$((6 * 7))\n")
        term.wait_for(b"PYXIS-QM-42", 20)
        term.send(b"\x0f")
        assert term.proc.wait(10) == 0
        assert "is not configured" in qm(d, "terminal", v, "--iface", "serial1", code=API_FAILED)

        deadline = time.monotonic() + 60
        while d.cli("qm", "guest", "cmd", v, "ping").returncode != 0:
            assert time.monotonic() < deadline, "guest agent never answered"
            time.sleep(1)
        out = qm(d, "guest", "exec", v, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
        assert json.loads(out) == {
            "exitcode": 3,
            "exited": 1,
            "out-data": "out\n",
            "err-data": "err\n",
        }
        assert '   "exitcode" : 3,' in out  # upstream's (Perl JSON) pretty layout
        data = json.loads(qm(d, "guest", "exec", v, "--output-format", "json", "--", "true"))
        assert data["exitcode"] == 0
        host = json.loads(qm(d, "agent", v, "get-host-name"))
        assert host["host-name"]

        out = qm(d, "shutdown", v, "--timeout", "60")
        assert "TASK OK" in out
        assert qm(d, "status", v) == "status: stopped\n"
    finally:
        if term is not None:
            term.close()
        cleanup(d, vmid)


@pytest.mark.skipif(
    "POST /nodes/{node}/qemu/{vmid}/clone" not in REGISTRY.methods,
    reason="disk commands not implemented yet",
)
def test_disk_commands_clone_and_template(d: Daemon) -> None:
    src, copy = 306, 307
    target = d.root / "srv/qm-move"
    try:
        qm(d, "create", str(src), "--kvm", "0", "--memory", "64", "--scsi0", "local:1,format=qcow2")
        qm(d, "resize", str(src), "scsi0", "+1G")
        assert "size=2G" in config_lines(qm(d, "config", str(src)))["scsi0"]
        qm(d, "disk", "resize", str(src), "scsi0", "3G")
        assert "size=3G" in config_lines(qm(d, "config", str(src)))["scsi0"]

        target.mkdir(parents=True)
        d.ok("pvesm", "add", "dir", "qmmove", "--path", str(target), "--content", "images")
        qm(d, "move-disk", str(src), "scsi0", "qmmove")
        conf = config_lines(qm(d, "config", str(src)))
        assert conf["scsi0"].startswith(f"qmmove:{src}/vm-{src}-disk-0")
        assert conf["unused0"].startswith(f"local:{src}/vm-{src}-disk-0")
        qm(d, "disk", "unlink", str(src), "--idlist", "unused0", "--force")
        assert "unused0" not in config_lines(qm(d, "config", str(src)))
        assert not (d.root / f"var/lib/vz/images/{src}/vm-{src}-disk-0.qcow2").exists()

        qm(d, "clone", str(src), str(copy), "--name", "the-copy", "--full")
        conf = config_lines(qm(d, "config", str(copy)))
        assert conf["name"] == "the-copy"
        assert f"vm-{copy}-disk-0" in conf["scsi0"]
        qm(d, "template", str(copy))
        assert config_lines(qm(d, "config", str(copy)))["template"] == "1"
        assert "template" in qm(d, "start", str(copy), code=API_FAILED)
    finally:
        cleanup(d, copy)
        cleanup(d, src)
        d.cli("pvesm", "remove", "qmmove")


@pytest.mark.skipif(
    "GET /nodes/{node}/qemu/{vmid}/cloudinit/dump" not in REGISTRY.methods,
    reason="cloud-init not implemented yet",
)
def test_cloudinit_commands(d: Daemon) -> None:
    vmid = 308
    v = str(vmid)
    try:
        qm(d, "create", v, "--kvm", "0", "--memory", "64", "--ide0", "local:cloudinit",
           "--ciuser", "alice", "--ipconfig0", "ip=dhcp")  # fmt: skip
        user = qm(d, "cloudinit", "dump", v, "user")
        assert user.startswith("#cloud-config")
        assert "alice" in user
        assert qm(d, "cloudinit", "dump", v, "network").startswith("version: 1")
        qm(d, "cloudinit", "update", v)
        pending = qm(d, "cloudinit", "pending", v).splitlines()
        assert "cur ciuser: alice" in pending
    finally:
        cleanup(d, vmid)
