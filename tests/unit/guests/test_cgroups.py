"""Cgroup placement against fake v2 and v1 trees, plus one real placement (system tier).

A fake tree is plain directories and files; the test plays the kernel by creating the
files a cgroup directory would have.  Files start empty and ``_write`` appends, so a file's
content is the concatenation of everything written to it.
"""

from __future__ import annotations

import logging
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from pyxis.guests.cgroups import (
    Cgroups,
    CgroupSpec,
    guest_cgroup_name,
    weight_to_shares,
)

NAME = guest_cgroup_name("node1", 100)
SPEC = CgroupSpec(NAME, memory_max_bytes=512 << 20, cpu_weight=200, cpu_max=(50000, 100000))


def kernel_files(d: Path, *names: str) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for n in names:
        (d / n).touch()
    return d


def v2_tree(base: Path, controllers: str = "cpuset cpu io memory pids") -> Path:
    for d in (base, base / "pyxis.slice"):
        kernel_files(d, "cgroup.procs", "cgroup.subtree_control")
        (d / "cgroup.controllers").write_text(controllers + "\n")
    kernel_files(base / "pyxis.slice" / NAME, "cgroup.procs", "memory.max", "cpu.weight", "cpu.max")
    return base


V1_FILES = {
    "cpu": ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
    "cpuacct": (),
    "memory": ("memory.limit_in_bytes",),
    "pids": (),
}


def v1_tree(base: Path, *, unified: bool = True) -> Path:
    for ctrl, files in V1_FILES.items():
        kernel_files(base / ctrl, "cgroup.procs", "tasks")
        kernel_files(base / ctrl / "pyxis" / NAME, "cgroup.procs", *files)
    if unified:
        kernel_files(base / "unified", "cgroup.procs", "cgroup.controllers")
        kernel_files(base / "unified" / "pyxis" / NAME, "cgroup.procs")
    return base


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda b: v2_tree(b), "v2"),
        (lambda b: v1_tree(b), "v1"),
        (lambda b: b, "none"),
    ],
)
def test_layout(tmp_path: Path, make: object, expected: str) -> None:
    make(tmp_path)  # type: ignore[operator]
    assert Cgroups(tmp_path).layout() == expected


def test_v2_place(tmp_path: Path) -> None:
    base = v2_tree(tmp_path)
    assert Cgroups(base).place(4242, SPEC) is True
    cg = base / "pyxis.slice" / NAME
    assert (cg / "memory.max").read_text() == str(512 << 20)
    assert (cg / "cpu.weight").read_text() == "200"
    assert (cg / "cpu.max").read_text() == "50000 100000"
    assert (cg / "cgroup.procs").read_text() == "4242"
    for d in (base, base / "pyxis.slice"):
        assert (d / "cgroup.subtree_control").read_text() == "+memory+cpu+pids"


def test_v2_unlimited_quota_and_missing_controller(tmp_path: Path) -> None:
    base = v2_tree(tmp_path, controllers="cpu memory")
    spec = CgroupSpec(NAME, cpu_max=(None, 100000))
    assert Cgroups(base).place(7, spec) is True
    cg = base / "pyxis.slice" / NAME
    assert (cg / "cpu.max").read_text() == "max 100000"
    assert (cg / "memory.max").read_text() == ""  # not asked for
    assert (base / "cgroup.subtree_control").read_text() == "+memory+cpu"


def test_v1_place(tmp_path: Path) -> None:
    base = v1_tree(tmp_path)
    assert Cgroups(base).place(4242, SPEC) is True
    for ctrl in V1_FILES:
        assert (base / ctrl / "pyxis" / NAME / "cgroup.procs").read_text() == "4242"
    assert (base / "unified" / "pyxis" / NAME / "cgroup.procs").read_text() == "4242"
    assert (base / "memory/pyxis" / NAME / "memory.limit_in_bytes").read_text() == str(512 << 20)
    cpu = base / "cpu/pyxis" / NAME
    assert (cpu / "cpu.shares").read_text() == "2048"
    assert (cpu / "cpu.cfs_period_us").read_text() == "100000"
    assert (cpu / "cpu.cfs_quota_us").read_text() == "50000"


def test_v1_comounted_controllers_written_once(tmp_path: Path) -> None:
    kernel_files(tmp_path / "cpu,cpuacct", "cgroup.procs")
    kernel_files(tmp_path / "cpu,cpuacct" / "pyxis" / NAME, "cgroup.procs", "cpu.shares")
    (tmp_path / "cpu").symlink_to("cpu,cpuacct")
    (tmp_path / "cpuacct").symlink_to("cpu,cpuacct")
    cgroups = Cgroups(tmp_path)
    assert cgroups.layout() == "v1"
    assert cgroups.place(9, CgroupSpec(NAME, cpu_weight=100)) is True
    comounted = tmp_path / "cpu,cpuacct" / "pyxis" / NAME
    assert (comounted / "cgroup.procs").read_text() == "9"
    assert (comounted / "cpu.shares").read_text() == "1024"
    assert len(cgroups.paths(NAME)) == 1


def test_unavailable_is_logged_not_raised(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    assert Cgroups(tmp_path / "nothing").place(1, SPEC) is False
    assert "no usable cgroup hierarchy" in caplog.text
    # a v1 tree whose cgroup directory cannot take the pid (no cgroup.procs: "read-only")
    base = tmp_path / "ro"
    kernel_files(base / "memory", "cgroup.procs")
    kernel_files(base / "memory" / "pyxis" / NAME, "memory.limit_in_bytes")
    assert Cgroups(base).place(1, SPEC) is False
    assert "cannot place pid 1" in caplog.text


def test_remove(tmp_path: Path) -> None:
    base = tmp_path
    for ctrl in V1_FILES:
        kernel_files(base / ctrl, "cgroup.procs")
        (base / ctrl / "pyxis" / NAME).mkdir(parents=True)
    cgroups = Cgroups(base)
    (base / "memory" / "pyxis" / NAME / "busy").touch()  # rmdir fails, as for a busy cgroup
    assert cgroups.remove(NAME) is False
    assert not (base / "cpu" / "pyxis" / NAME).exists()
    (base / "memory" / "pyxis" / NAME / "busy").unlink()
    assert cgroups.remove(NAME) is True
    assert cgroups.remove(NAME) is True  # already gone
    cgroups.remove_parent()
    assert not (base / "cpu" / "pyxis").exists()


@pytest.mark.parametrize(
    ("weight", "shares"), [(1, 10), (50, 512), (100, 1024), (200, 2048), (10000, 102400)]
)
def test_weight_to_shares(weight: int, shares: int) -> None:
    assert weight_to_shares(weight) == shares


def test_name_carries_node() -> None:
    assert guest_cgroup_name("pve1", 105) == "pyxis-pve1-qemu-105"
    assert guest_cgroup_name("pve1", 200, "lxc") == "pyxis-pve1-lxc-200"


@pytest.mark.system
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create cgroups")
def test_real_placement() -> None:
    """Move a real ``sleep`` into a real cgroup (v1 on the build machine, v2 on a host)."""
    parent = f"pyxis-test-{uuid.uuid4().hex[:8]}"
    cgroups = Cgroups(v1_parent=parent, v2_parent=f"{parent}.slice")
    layout = cgroups.layout()
    if layout == "none":
        pytest.skip("no cgroup hierarchy")
    name = guest_cgroup_name("systest", 999)
    spec = CgroupSpec(name, memory_max_bytes=64 << 20, cpu_weight=50, cpu_max=(50000, 100000))
    proc = subprocess.Popen(["sleep", "60"])
    try:
        assert cgroups.place(proc.pid, spec) is True
        membership = Path(f"/proc/{proc.pid}/cgroup").read_text().splitlines()
        dirs = cgroups.paths(name)
        if layout == "v1":
            assert f"memory:/{parent}/{name}" in {line.split(":", 1)[1] for line in membership}
            mem = next(d for d in dirs if d.parts[-3] == "memory")
            assert int((mem / "memory.limit_in_bytes").read_text()) == 64 << 20
            cpu = next(d for d in dirs if d.parts[-3] == "cpu")
            assert (cpu / "cpu.shares").read_text().strip() == "512"
            assert (cpu / "cpu.cfs_quota_us").read_text().strip() == "50000"
            if (Path("/sys/fs/cgroup/unified") / "cgroup.procs").is_file():
                assert f"0::/{parent}/{name}" in membership  # bookkeeping in the unified tree
        else:
            assert f"0::/{parent}.slice/{name}" in membership
            assert (dirs[0] / "memory.max").read_text().strip() == str(64 << 20)
            assert (dirs[0] / "cpu.max").read_text().strip() == "50000 100000"
        for d in dirs:
            assert str(proc.pid) in (d / "cgroup.procs").read_text().split()
    finally:
        proc.kill()
        proc.wait()
        assert cgroups.remove(name) is True
        cgroups.remove_parent()
    assert not any(d.exists() for d in cgroups.paths(name))
    assert not any(d.parent.exists() for d in cgroups.paths(name))
