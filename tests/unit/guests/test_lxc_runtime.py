"""Pure parts of the container runtime: config change rules, cgroup readers, lxcpath.

Table-driven where the code decides (``configure``); the cgroup readers run against a
fake ``/sys/fs/cgroup`` tree (v1 and v2) with this test process standing in for a
container's init.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import ParamError
from pyxis.guests.lxc import configure, runtime, stats
from pyxis.guests.qemu.config import VmConfig
from pyxis.paths import Paths

ROOTFS = "local:100/subvol-100-disk-0.subvol,size=0T"
MP0 = "local:100/vm-100-disk-1.raw,mp=/data,size=1G"


@pytest.mark.parametrize(
    ("key", "priv"),
    [
        ("memory", "VM.Config.Memory"),
        ("swap", "VM.Config.Memory"),
        ("cores", "VM.Config.CPU"),
        ("cpulimit", "VM.Config.CPU"),
        ("net3", "VM.Config.Network"),
        ("nameserver", "VM.Config.Network"),
        ("rootfs", "VM.Config.Disk"),
        ("mp7", "VM.Config.Disk"),
        ("unused0", "VM.Config.Disk"),
        ("hostname", "VM.Config.Options"),
        ("onboot", "VM.Config.Options"),
    ],
)
def test_privileges(key: str, priv: str) -> None:
    assert configure.privilege_for(key) == priv


@pytest.mark.parametrize(
    ("changes", "deletes", "main", "freed"),
    [
        # removing a mount point keeps its volume as unused0
        ({}, ["mp0"], {"rootfs": ROOTFS, "unused0": "local:100/vm-100-disk-1.raw"}, []),
        # replacing it does too
        (
            {"mp0": "local:100/vm-100-disk-2.raw,mp=/data"},
            [],
            {
                "rootfs": ROOTFS,
                "mp0": "local:100/vm-100-disk-2.raw,mp=/data",
                "unused0": "local:100/vm-100-disk-1.raw",
            },
            [],
        ),
        # deleting unusedN frees the volume
        ({}, ["unused5"], {"rootfs": ROOTFS, "mp0": MP0}, ["local:9/x.raw"]),
    ],
)
def test_apply_stopped(
    changes: dict[str, str], deletes: list[str], main: dict[str, str], freed: list[str]
) -> None:
    cfg = VmConfig(main={"rootfs": ROOTFS, "mp0": MP0, "unused5": "local:9/x.raw"})
    if "unused5" not in deletes:
        del cfg.main["unused5"]
    assert configure.apply_stopped(cfg, changes, deletes) == freed
    assert cfg.main == main


def test_split_running_and_pending() -> None:
    now, now_del, later, later_del = configure.split_running(
        {"memory": "64", "hostname": "x", "description": "d"}, ["swap", "mp0", "unused1"]
    )
    assert now == {"memory": "64", "description": "d"} and later == {"hostname": "x"}
    assert now_del == ["swap", "unused1"] and later_del == ["mp0"]
    cfg = VmConfig(main={"hostname": "a", "mp0": MP0, "rootfs": ROOTFS})
    configure.add_pending(cfg, later, later_del, force=False)
    assert cfg.pending == {"hostname": "x"} and cfg.pending_delete == ["mp0"]
    assert configure.config_view(cfg, current=False)["hostname"] == "x"
    assert configure.config_view(cfg, current=True)["hostname"] == "a"
    configure.apply_pending(cfg)
    assert cfg.main["hostname"] == "x" and "mp0" not in cfg.main and "unused0" in cfg.main


@pytest.mark.parametrize(
    ("changes", "deletes", "bad"),
    [
        ({"unprivileged": "1"}, [], "unprivileged"),
        ({}, ["rootfs"], "rootfs"),
        ({"memory": "1"}, ["memory"], "memory"),
        ({"bogus": "1"}, [], "bogus"),
        ({"parent": "x"}, [], "parent"),
    ],
)
def test_check_keys_refuses(changes: dict[str, str], deletes: list[str], bad: str) -> None:
    with pytest.raises(ParamError) as err:
        configure.check_keys(changes, deletes, [])
    assert bad in err.value.errors


def test_referenced_volumes_skip_bind_mounts() -> None:
    cfg = VmConfig(
        main={"rootfs": ROOTFS, "mp0": MP0, "mp1": "/srv,mp=/srv", "unused0": "local:1/a.raw"},
        snapshots={"s": {"rootfs": "local:100/old.raw,size=1G"}},
    )
    assert configure.referenced_volumes(cfg) == {
        "local:100/subvol-100-disk-0.subvol", "local:100/vm-100-disk-1.raw",
        "local:1/a.raw", "local:100/old.raw",
    }  # fmt: skip


def test_lxcpath_is_per_root_and_node() -> None:
    assert runtime.lxcpath_for(Paths.at("/"), "n1") == Path("/run/pyxis-lxc/n1")
    a = runtime.lxcpath_for(Paths.at("/tmp/a"), "n1")
    b = runtime.lxcpath_for(Paths.at("/tmp/b"), "n1")
    assert a != b and a.name.startswith("n1-") and a.parent == runtime.LXC_BASE


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize("layout", ["v1", "v2"])
def test_fast_info_and_usage_from_fake_cgroups(
    tmp_path: Path, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pid = os.getpid()
    name = "pyxis-n1-lxc-100"
    if layout == "v2":
        _write(tmp_path / "cgroup.controllers", "cpu memory\n")
        top = tmp_path / "pyxis" / name
        _write(top / "cgroup.procs", f"{pid}\n")
        _write(top / "cgroup.freeze", "1\n")
        _write(top / "memory.current", "4096\n")
        _write(top / "memory.swap.current", "100\n")
        _write(top / "cpu.stat", "usage_usec 2500000\n")
        cg = f"0::/pyxis/{name}\n"
    else:
        top = tmp_path / "freezer" / "pyxis" / name
        _write(top / "cgroup.procs", f"{pid}\n")
        _write(top / "freezer.state", "THAWED\n")
        mem = tmp_path / "memory" / "pyxis" / name
        _write(mem / "memory.usage_in_bytes", "4096\n")
        _write(mem / "memory.memsw.usage_in_bytes", "4196\n")
        _write(tmp_path / "cpuacct" / "pyxis" / name / "cpuacct.usage", "2500000000\n")
        cg = "".join(f"{i}:{c}:/pyxis/{name}\n" for i, c in enumerate(["memory", "cpuacct"], 1))
    info = runtime.fast_info(name, tmp_path)
    assert info.pid == pid and info.state == ("FROZEN" if layout == "v2" else "RUNNING")
    assert runtime.fast_info("pyxis-n1-lxc-999", tmp_path) == runtime.Info("STOPPED", None)

    real_read = Path.read_text

    def fake_read(self: Path, *a: Any, **kw: Any) -> str:
        if str(self) == f"/proc/{pid}/cgroup":
            return cg
        return real_read(self, *a, **kw)

    monkeypatch.setattr(Path, "read_text", fake_read)
    use = stats.usage(pid, tmp_path)
    assert use == stats.CtUsage(2.5, 4096, 100)


def test_veth_traffic_counts_host_ends() -> None:
    dev = {"veth100i0": (10, 20), "veth100i1": (1, 2), "tap100i0": (5, 5), "eth0": (9, 9)}
    assert stats.veth_traffic(dev) == {100: (22, 11)}
