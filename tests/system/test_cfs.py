"""The config store as files: a real pyxisd mounts its view, files and the API agree.

Edits made with ordinary tools (shell redirects, cp, sed -i, mv) reach the store and the
API; API changes show in the files; refused edits fail the tool and change nothing; a
daemon killed with SIGKILL leaves a dead mount that the next start replaces.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import Daemon, DaemonFactory

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting needs root"),
    pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="needs /dev/fuse"),
    pytest.mark.skipif(shutil.which("fusermount3") is None, reason="needs fuse3"),
]


def _mounted(path: Path) -> bool:
    with open("/proc/self/mountinfo") as fh:
        return any(line.split()[4] == str(path) for line in fh)


def _wait_mounted(path: Path, want: bool = True, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _mounted(path) == want:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path}: mounted={not want} after {timeout}s")


def sh(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, timeout=30, check=False
    )


@pytest.fixture
def node(daemons: DaemonFactory) -> Iterator[tuple[Daemon, Path]]:
    d = daemons.new()
    mnt = d.root / "etc" / "pyxis"
    d.args = ["--cfs-mount", str(mnt)]
    d.start()
    try:
        _wait_mounted(mnt)
        yield d, mnt
    finally:
        d.stop()
        if _mounted(mnt):
            subprocess.run(["fusermount3", "-u", "-z", str(mnt)], check=False)


def test_files_and_api_agree(node: tuple[Daemon, Path]) -> None:
    d, mnt = node
    assert "dir: local" in (mnt / "storage.cfg").read_text()
    assert "user:root@pam:" in (mnt / "user.cfg").read_text()
    members = json.loads((mnt / ".members").read_text())
    assert members["nodename"] == d.node
    assert os.readlink(mnt / "qemu-server") == f"nodes/{d.node}/qemu-server"
    assert (mnt / "qemu-server").is_dir()  # the node's own directories always exist

    # a VM written as a file is a VM of the API, in .vmlist, editable by qm
    res = sh(f"printf 'name: viafs\\nmemory: 256\\n' > {mnt}/qemu-server/150.conf")
    assert res.returncode == 0, res.stderr
    cfg = json.loads(d.ok("qm", "config", "150", "--output-format", "json"))
    assert cfg["name"] == "viafs" and int(cfg["memory"]) == 256
    assert json.loads((mnt / ".vmlist").read_text())["ids"]["150"]["node"] == d.node
    d.ok("qm", "set", "150", "--memory", "512")
    assert "memory: 512" in (mnt / "nodes" / d.node / "qemu-server" / "150.conf").read_text()

    # sed -i (temp file + fchmod + rename over) and mv work; a chmod that changes
    # something and an oversized file are refused
    res = sh(f"sed -i s/viafs/renamed/ {mnt}/qemu-server/150.conf")
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert json.loads(d.ok("qm", "config", "150", "--output-format", "json"))["name"] == "renamed"
    assert sh(f"chmod 777 {mnt}/storage.cfg").returncode != 0
    res = sh(f"head -c 1100000 /dev/zero > {mnt}/big.cfg")
    assert res.returncode != 0 and "too large" in res.stderr.lower()
    assert sh(f"ls {mnt}").stdout.split().count("big.cfg") <= 1

    # a second VM 150 under another node directory clashes (cluster-wide ids)
    other = mnt / "nodes" / "other" / "qemu-server"
    res = sh(f"mkdir -p {other} && cp /dev/null {other}/150.conf")
    assert res.returncode != 0 and "exists" in res.stderr.lower()

    # corosync.conf cannot be made by hand on a standalone node
    res = sh(f"cp {mnt}/storage.cfg {mnt}/corosync.conf")
    assert res.returncode != 0 and "Invalid argument" in res.stderr
    assert not (mnt / "corosync.conf").exists()
    assert "refused a write of 'corosync.conf'" in d.output()

    d.ok("qm", "destroy", "150")
    assert not (mnt / "qemu-server" / "150.conf").exists()


def test_a_killed_daemon_leaves_a_mount_the_next_start_replaces(
    node: tuple[Daemon, Path],
) -> None:
    d, mnt = node
    d.kill()
    with pytest.raises(OSError) as ei:
        os.stat(mnt / "storage.cfg")
    assert ei.value.errno == errno.ENOTCONN
    d.start()
    _wait_mounted(mnt)
    assert "dir: local" in (mnt / "storage.cfg").read_text()
    d.stop()
    _wait_mounted(mnt, want=False)
