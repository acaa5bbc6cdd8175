"""Place guest processes in their own cgroup with memory and CPU limits.

Two layouts are handled, detected from the cgroup mount under ``base``:

- ``v2`` (a real Debian 12 host, systemd with the unified hierarchy): ``base`` has a
  ``cgroup.controllers`` file.  A guest gets ``<base>/pyxis.slice/<name>/``; the
  ``memory``, ``cpu`` and ``pids`` controllers are enabled in the parents'
  ``cgroup.subtree_control``; limits go to ``memory.max``, ``cpu.weight``, ``cpu.max``.
  Proved by the unit tests against a fake tree only: the build machine is not v2.
- ``v1`` (the build machine: one mount per controller plus a controller-less v2 tree at
  ``<base>/unified``): a guest gets ``<base>/<controller>/pyxis/<name>/`` for ``cpu``,
  ``cpuacct``, ``memory`` and ``pids``; limits go to ``memory.limit_in_bytes``,
  ``cpu.shares`` (mapped from the v2 weight) and ``cpu.cfs_quota_us``/``cpu.cfs_period_us``.
  The unified tree, when present, gets ``<base>/unified/pyxis/<name>/`` for bookkeeping.
  Proved by the unit tests and by a system test that moves a real process here.

Cgroups are global to the machine while a node's ``--root`` is only a file-system prefix,
so names carry the node (``guest_cgroup_name``).  Nothing here raises when cgroups are
unavailable or read-only: failures are logged and the guest runs unconfined.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Layout = Literal["v2", "v1", "none"]

DEFAULT_BASE = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids")
V2_CONTROLLERS = ("memory", "cpu", "pids")


@dataclass(frozen=True)
class CgroupSpec:
    """What a guest's cgroup should look like.

    ``cpu_weight`` uses the v2 scale (1..10000, default 100); ``cpu_max`` is
    ``(quota_us, period_us)``, a quota of ``None`` meaning unlimited.
    """

    name: str
    memory_max_bytes: int | None = None
    cpu_weight: int | None = None
    cpu_max: tuple[int | None, int] | None = None


def guest_cgroup_name(node: str, vmid: int, kind: str = "qemu") -> str:
    """The machine-unique cgroup name of a guest: ``pyxis-<node>-<kind>-<vmid>``."""
    return f"pyxis-{node}-{kind}-{vmid}"


def weight_to_shares(weight: int) -> int:
    """Map a v2 ``cpu.weight`` (1..10000, default 100) to v1 ``cpu.shares`` (default 1024)."""
    return max(2, min(262144, weight * 1024 // 100))


def _write(path: Path, value: str) -> None:
    # One write(2) per value, as cgroupfs wants.  O_APPEND (what ``echo >>`` does) is
    # ignored by cgroupfs and makes a fake tree of plain files record every write.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


class Cgroups:
    """The cgroup tree under ``base`` (injectable so that tests use a fake tree).

    ``v2_parent`` and ``v1_parent`` name the directory all guest cgroups live in.
    """

    def __init__(
        self,
        base: Path = DEFAULT_BASE,
        *,
        v2_parent: str = "pyxis.slice",
        v1_parent: str = "pyxis",
    ) -> None:
        self.base = Path(base)
        self.v2_parent = v2_parent
        self.v1_parent = v1_parent

    def layout(self) -> Layout:
        """``v2`` for a pure unified hierarchy, ``v1`` for per-controller mounts."""
        if (self.base / "cgroup.controllers").is_file():
            return "v2"
        if any((self.base / c / "cgroup.procs").is_file() for c in V1_CONTROLLERS):
            return "v1"
        return "none"

    def _v1_roots(self) -> list[Path]:
        # Co-mounted controllers (``cpu,cpuacct`` with ``cpu`` a symlink) count once.
        seen: set[Path] = set()
        roots: list[Path] = []
        for ctrl in V1_CONTROLLERS:
            root = self.base / ctrl
            if not (root / "cgroup.procs").is_file():
                continue
            real = root.resolve()
            if real not in seen:
                seen.add(real)
                roots.append(root)
        return roots

    def _unified_root(self) -> Path | None:
        root = self.base / "unified"
        return root if (root / "cgroup.procs").is_file() else None

    def paths(self, name: str) -> list[Path]:
        """Every directory the cgroup ``name`` has (or would have) in this layout."""
        layout = self.layout()
        if layout == "v2":
            return [self.base / self.v2_parent / name]
        if layout == "v1":
            dirs = [root / self.v1_parent / name for root in self._v1_roots()]
            unified = self._unified_root()
            if unified is not None:
                dirs.append(unified / self.v1_parent / name)
            return dirs
        return []

    def place(self, pid: int, spec: CgroupSpec) -> bool:
        """Create the cgroup, apply the limits and move ``pid`` (all its threads) into it.

        Returns whether the process ended up confined; failures are logged, never raised.
        """
        layout = self.layout()
        try:
            if layout == "v2":
                self._place_v2(pid, spec)
                return True
            if layout == "v1":
                self._place_v1(pid, spec)
                return True
        except OSError as err:
            log.warning("cgroup %s: cannot place pid %d: %s", spec.name, pid, err)
            return False
        log.warning("cgroup %s: no usable cgroup hierarchy under %s", spec.name, self.base)
        return False

    def _enable_v2_controllers(self, directory: Path) -> None:
        available = set((directory / "cgroup.controllers").read_text().split())
        for ctrl in V2_CONTROLLERS:
            if ctrl not in available:
                log.info("cgroup v2: controller %s not available in %s", ctrl, directory)
                continue
            try:
                _write(directory / "cgroup.subtree_control", f"+{ctrl}")
            except OSError as err:
                log.warning("cgroup v2: cannot enable %s in %s: %s", ctrl, directory, err)

    def _place_v2(self, pid: int, spec: CgroupSpec) -> None:
        parent = self.base / self.v2_parent
        parent.mkdir(exist_ok=True)
        self._enable_v2_controllers(self.base)
        self._enable_v2_controllers(parent)
        cg = parent / spec.name
        cg.mkdir(exist_ok=True)
        if spec.memory_max_bytes is not None:
            self._limit(cg / "memory.max", str(spec.memory_max_bytes))
        if spec.cpu_weight is not None:
            self._limit(cg / "cpu.weight", str(spec.cpu_weight))
        if spec.cpu_max is not None:
            quota, period = spec.cpu_max
            self._limit(cg / "cpu.max", f"{'max' if quota is None else quota} {period}")
        _write(cg / "cgroup.procs", str(pid))

    def _place_v1(self, pid: int, spec: CgroupSpec) -> None:
        for root in self._v1_roots():
            cg = root / self.v1_parent / spec.name
            cg.mkdir(parents=True, exist_ok=True)
            self._apply_v1(cg, spec)
            _write(cg / "cgroup.procs", str(pid))
        unified = self._unified_root()
        if unified is not None:
            try:
                cg = unified / self.v1_parent / spec.name
                cg.mkdir(parents=True, exist_ok=True)
                _write(cg / "cgroup.procs", str(pid))
            except OSError as err:
                log.info("cgroup %s: unified bookkeeping tree not used: %s", spec.name, err)

    def _apply_v1(self, cg: Path, spec: CgroupSpec) -> None:
        if spec.memory_max_bytes is not None and (cg / "memory.limit_in_bytes").exists():
            self._limit(cg / "memory.limit_in_bytes", str(spec.memory_max_bytes))
        if spec.cpu_weight is not None and (cg / "cpu.shares").exists():
            self._limit(cg / "cpu.shares", str(weight_to_shares(spec.cpu_weight)))
        if spec.cpu_max is not None and (cg / "cpu.cfs_quota_us").exists():
            quota, period = spec.cpu_max
            self._limit(cg / "cpu.cfs_period_us", str(period))
            self._limit(cg / "cpu.cfs_quota_us", str(-1 if quota is None else quota))

    def _limit(self, path: Path, value: str) -> None:
        try:
            _write(path, value)
        except OSError as err:
            log.warning("cgroup: cannot write %s to %s: %s", value, path, err)

    def remove(self, name: str, *, warn: bool = True) -> bool:
        """Remove the cgroup ``name`` (its processes must have exited); True if all gone.

        A cgroup stays busy until its last process has been reaped, not just exited.
        """
        ok = True
        for cg in self.paths(name):
            try:
                cg.rmdir()
            except FileNotFoundError:
                pass
            except OSError as err:
                if warn:
                    log.warning("cgroup: cannot remove %s: %s", cg, err)
                ok = False
        return ok

    def remove_parent(self) -> None:
        """Remove the (empty) parent directories; used by tests that use their own parent."""
        parent = self.v2_parent if self.layout() == "v2" else self.v1_parent
        dirs = {p.parent for p in self.paths(".probe")}
        for d in dirs:
            if d.name == parent:
                try:
                    d.rmdir()
                except OSError as err:
                    log.info("cgroup: parent %s not removed: %s", d, err)
