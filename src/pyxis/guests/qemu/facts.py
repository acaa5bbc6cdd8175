"""What the command-line builder needs to know besides the config: node facts
(QEMU binary, KVM usability, run files, firmware paths ...) and how to open each
volume a drive references.

These are plain values gathered by the caller (the runtime/orchestrator asks the
storage layer and probes the node), so ``argv.build_argv`` stays a pure function and
its tests need no node at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

# ``volumes`` key under which a caller passes a temporary copy of the OVMF variables
# template for ``bios: ovmf`` guests without an ``efidisk0`` (upstream makes one too).
EFIVARS_TEMP = "<efivars-temp>"
DISK_FORMATS = ("raw", "qcow2", "vmdk")


@dataclass(frozen=True)
class RunFiles:
    """Runtime files of one guest (pidfile and unix sockets)."""

    pidfile: str
    qmp: str
    qga: str
    vnc: str | None
    serial_pattern: str  # with ``{n}``: ``/run/pyxis/qemu-server/100.serial{n}``

    def serial(self, n: int) -> str:
        return self.serial_pattern.format(n=n)

    @classmethod
    def under(cls, run_dir: str | Path, vmid: int) -> RunFiles:
        """The standard layout: ``<run_dir>/qemu-server/<vmid>.{pid,qmp,qga,vnc,serialN}``."""
        base = Path(run_dir) / "qemu-server" / str(vmid)
        return cls(
            pidfile=f"{base}.pid",
            qmp=f"{base}.qmp",
            qga=f"{base}.qga",
            vnc=f"{base}.vnc",
            serial_pattern=f"{base}.serial{{n}}",
        )


@dataclass(frozen=True)
class OvmfFiles:
    """UEFI firmware images (Debian's ``ovmf`` package: ``/usr/share/OVMF``)."""

    code_4m: str = "/usr/share/OVMF/OVMF_CODE_4M.fd"
    vars_4m: str = "/usr/share/OVMF/OVMF_VARS_4M.fd"
    code_4m_secboot: str | None = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd"
    vars_4m_ms: str | None = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd"
    code_2m: str | None = None  # Debian 12 ships only the 4 MiB build


@dataclass(frozen=True)
class NodeFacts:
    """Node facts for ``build_argv``.

    ``tap_script``/``tap_down_script`` are run by QEMU with the tap name (``no`` when
    None).  ``user_net`` replaces tap with user-mode networking (tests, sandboxes).
    ``id_option`` adds ``-id <vmid>``, which only Proxmox's patched QEMU knows (stock
    QEMU rejects it; the runtime recognises its guests by ``-pidfile`` instead).
    ``start_paused`` adds ``-S`` (the caller then sets links, cgroups ... and ``cont``).
    """

    qemu_binary: str
    run: RunFiles
    kvm_usable: bool
    host_cpus: int
    machine_default: str = "pc"
    ovmf: OvmfFiles | None = None
    cloudinit_iso: str | None = None
    tap_script: str | None = None
    tap_down_script: str | None = None
    user_net: bool = False
    io_uring: bool = True
    id_option: bool = False
    start_paused: bool = False


@dataclass(frozen=True)
class VolumeSource:
    """How to open one volume: a ``path`` (file or block device) in ``format``, or a
    prebuilt protocol ``blockdev`` node (iscsi, rbd, nbd ...) that the format node sits
    on.  ``format`` None means: the drive's ``format`` option, else raw."""

    path: str | None = None
    format: str | None = None
    read_only: bool = False
    blockdev: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if (self.path is None) == (self.blockdev is None):
            raise ValueError("VolumeSource needs exactly one of path and blockdev")
        if self.format is not None and self.format not in DISK_FORMATS:
            raise ValueError(f"unsupported disk format '{self.format}'")
