"""Container templates end to end: the busybox template is built (cached), managed with
``pveam`` through a real ``pyxisd``, and proved bootable with the real LXC tools using a
config rendered by ``lxcconf`` (raw ``lxc-start``, no lifecycle code involved).

The Debian template takes minutes: its test is ``slow`` (opt in with ``--run-slow``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon import Daemon

from pyxis.guests.lxc import templates
from pyxis.guests.lxc.extract import extract_template
from pyxis.guests.lxc.lxcconf import NodeFacts, render_lxc_conf
from pyxis.guests.lxc.setup import file_mode, os_setup_files

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("zstd") is None, reason="needs zstd"),
]
BUSYBOX = templates.BUSYBOX
NEEDS_LXC = pytest.mark.skipif(
    shutil.which("lxc-start") is None or os.geteuid() != 0, reason="needs LXC and root"
)


@pytest.fixture(scope="module")
def busybox_archive() -> Path:
    return asyncio.run(templates.build_template(BUSYBOX, log=lambda _line: None))


def test_busybox_archive_is_cached_and_sane(busybox_archive: Path) -> None:
    again = asyncio.run(templates.build_template("busybox", log=lambda _line: None))
    assert again == busybox_archive
    listing = subprocess.run(
        ["tar", "--zstd", "-tf", str(busybox_archive)], check=True, capture_output=True, text=True
    ).stdout.split()
    for name in (
        "./bin/busybox",
        "./sbin/init",
        "./etc/inittab",
        "./etc/init.d/rcS",
        "./etc/passwd",
        "./etc/shadow",
        "./etc/group",
        "./etc/hostname",
    ):
        assert name in listing


def test_pveam_available_download_list_remove(module_daemon: Daemon, busybox_archive: Path) -> None:
    d = module_daemon
    assert "update successful" in d.ok("pveam", "update")
    avail = d.ok("pveam", "available", "--section", "system")
    assert BUSYBOX in avail and "debian-12-standard_12.7-1_amd64.tar.zst" in avail
    assert d.ok("pveam", "available", "--section", "mail").strip() == ""
    info = json.loads(d.ok("pvesh", "get", f"/nodes/{d.node}/aplinfo", "--output-format", "json"))
    entry = next(e for e in info if e["template"] == BUSYBOX)
    assert entry["type"] == "lxc" and entry["section"] == "system" and entry["os"] == "busybox"

    out = d.ok("pveam", "download", "local", BUSYBOX)
    assert "finished" in out
    stored = d.root / "var" / "lib" / "vz" / "template" / "cache" / BUSYBOX
    assert stored.read_bytes() == busybox_archive.read_bytes()
    assert not [p for p in stored.parent.iterdir() if p.name.startswith(".")]  # no temp left
    listed = d.ok("pveam", "list", "local")
    assert f"local:vztmpl/{BUSYBOX}" in listed
    content = json.loads(
        d.ok(
            "pvesh",
            "get",
            f"/nodes/{d.node}/storage/local/content",
            "--content",
            "vztmpl",
            "--output-format",
            "json",
        )
    )
    assert [c["volid"] for c in content] == [f"local:vztmpl/{BUSYBOX}"]

    bad = d.cli("pveam", "download", "local", "no-such-template_1.0_amd64.tar.zst")
    assert bad.returncode != 0 and "no such template" in bad.stderr

    d.ok("pveam", "remove", f"local:vztmpl/{BUSYBOX}")
    assert not stored.exists()
    assert f"local:vztmpl/{BUSYBOX}" not in d.ok("pveam", "list", "local")


@pytest.fixture
def bridge() -> Iterator[str]:
    name = f"pyxt{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "link", "add", name, "type", "bridge"], check=True)
    try:
        subprocess.run(["ip", "addr", "add", "10.251.7.1/24", "dev", name], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def _cgroup_layout() -> str:
    return "v2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "v1"


def _lxc(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), capture_output=True, text=True, check=check, timeout=60)


@pytest.fixture
def ct_dir() -> Iterator[Path]:
    # directly below /tmp with x for all: the mapped root of an unprivileged container
    # must traverse every parent of its root file system (pytest's tmp_path is 0700)
    path = Path(tempfile.mkdtemp(prefix="pyxis-ct-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@NEEDS_LXC
@pytest.mark.parametrize("unprivileged", [False, True])
def test_busybox_template_boots(
    ct_dir: Path, busybox_archive: Path, bridge: str, unprivileged: bool
) -> None:
    vmid = 990 + int(unprivileged)
    tmp_path = ct_dir
    rootfs, lxcpath = tmp_path / "rootfs", tmp_path / "lxc"
    rootfs.mkdir()
    lxcpath.mkdir()
    asyncio.run(extract_template(busybox_archive, rootfs, unprivileged=unprivileged))
    conf = {
        "hostname": "bbtest",
        "memory": "64",
        "swap": "0",
        "unprivileged": str(int(unprivileged)),
        "rootfs": f"local:{vmid}/subvol-{vmid}-disk-0.subvol",
        "net0": f"name=eth0,bridge={bridge},ip=10.251.7.{vmid - 980}/24,gw=10.251.7.1",
    }
    for rel, text in os_setup_files(conf, "busybox", vmid=vmid).items():
        path = rootfs / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(file_mode(rel))
        if unprivileged:
            os.lchown(path, 100000, 100000)
    facts = NodeFacts(
        vmid=vmid,
        rootfs_path=str(rootfs),
        lxc_path=str(lxcpath),
        cgroup="v2" if _cgroup_layout() == "v2" else "v1",
    )
    config = tmp_path / "config"
    config.write_text(render_lxc_conf(conf, facts))
    name, base = str(vmid), ["-n", str(vmid), "-P", str(lxcpath)]
    _lxc("lxc-start", *base, "-f", str(config), "-l", "INFO", "-o", str(tmp_path / "log"))
    try:
        deadline = time.monotonic() + 10
        while "RUNNING" not in _lxc("lxc-info", *base, "-s", check=False).stdout:
            assert time.monotonic() < deadline, (tmp_path / "log").read_text()[-3000:]
            time.sleep(0.05)
        assert _lxc("lxc-attach", *base, "--", "/bin/true").returncode == 0
        assert _lxc("lxc-attach", *base, "--", "hostname").stdout.strip() == "bbtest"
        uid_map = _lxc("lxc-attach", *base, "--", "cat", "/proc/self/uid_map").stdout.split()
        assert uid_map == (["0", "100000", "65536"] if unprivileged else ["0", "0", "4294967295"])
        # rcS ran our network script: the address is up and the host bridge answers
        deadline = time.monotonic() + 10
        while True:
            ping = _lxc("lxc-attach", *base, "--", "ping", "-c1", "-W1", "10.251.7.1", check=False)
            if ping.returncode == 0:
                break
            assert time.monotonic() < deadline, ping.stdout + ping.stderr
        if unprivileged:
            assert (rootfs / "etc" / "passwd").stat().st_uid == 100000
    finally:
        _lxc("lxc-stop", *base, "-k", check=False)
        _lxc("lxc-destroy", *base, check=False)  # config came from -f: nothing else to remove
    assert "RUNNING" not in _lxc("lxc-info", *base, "-s", check=False).stdout
    assert name not in _lxc("lxc-ls", "-P", str(lxcpath), check=False).stdout.split()


@pytest.mark.slow
def test_debian_template_builds(tmp_path: Path) -> None:
    if shutil.which("debootstrap") is None or os.geteuid() != 0:
        pytest.skip("needs debootstrap and root")
    archive = asyncio.run(templates.build_template(templates.DEBIAN, log=lambda _line: None))
    listing = subprocess.run(
        ["tar", "--zstd", "-tf", str(archive)], check=True, capture_output=True, text=True
    ).stdout.split()
    assert "./etc/debian_version" in listing and "./usr/sbin/sshd" in listing
    dest = tmp_path / "root"
    dest.mkdir()
    asyncio.run(extract_template(archive, dest, unprivileged=False))
    assert (dest / "etc" / "debian_version").read_text().startswith("12")
