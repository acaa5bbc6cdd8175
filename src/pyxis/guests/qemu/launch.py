"""Starting a VM: from its config to a running, monitored QEMU process.

Steps: fold pending changes into the config; refuse templates; decide the accelerator
(a /dev/kvm that cannot run a guest is detected by ``kvmprobe`` and refused with a
clear message unless the VM says ``kvm: 0``); resolve every volume through its storage;
create the tap devices on their bridges; build the argv (pure); launch QEMU paused,
place it in its cgroup, set links that must start down, then continue the CPUs.
Everything created is removed again if a later step fails.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.errors import Conflict, PyxisError
from pyxis.guests.orchestrator import Rollback
from pyxis.guests.qemu import cloudinit_drive, configure, kvmprobe, runtime
from pyxis.guests.qemu.argv import build_argv, link_down_nets
from pyxis.guests.qemu.cmdline import KvmUnavailable
from pyxis.guests.qemu.facts import EFIVARS_TEMP, NodeFacts, OvmfFiles, RunFiles, VolumeSource
from pyxis.guests.qemu.keys import is_cdrom, is_drive_key, parse_drive, parse_net
from pyxis.guests.qemu.qmp import Monitor
from pyxis.network import taps
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.tasks.manager import TaskLog

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService

QEMU = "qemu-system-x86_64"
FORMAT_SUFFIXES = {".qcow2": "qcow2", ".vmdk": "vmdk", ".raw": "raw", ".iso": "raw", ".img": "raw"}


async def node_facts(qemu: QemuService, vmid: int, *, kvm_usable: bool) -> NodeFacts:
    run_dir = qemu.svc.paths.run_dir
    ovmf = OvmfFiles() if Path(OvmfFiles().code_4m).exists() else None
    return NodeFacts(
        qemu_binary=shutil.which(QEMU) or QEMU,
        run=RunFiles.under(run_dir, vmid),
        kvm_usable=kvm_usable,
        host_cpus=os.cpu_count() or 1,
        ovmf=ovmf,
        start_paused=True,
    )


async def volume_sources(qemu: QemuService, conf: dict[str, str]) -> dict[str, VolumeSource]:
    out: dict[str, VolumeSource] = {}
    for key, value in conf.items():
        if not is_drive_key(key):
            continue
        drive = parse_drive(key, value)
        file = str(drive.get("file", ""))
        if file in ("none", "cdrom", "") or file in out:
            continue
        if file.startswith("/"):
            out[file] = VolumeSource(
                path=file, format=_format_of(file, drive), read_only=is_cdrom(drive)
            )
            continue
        sid, volname = split_volid(file, key)
        plugin = await qemu.svc.storage.plugin(sid)
        vol = parse_volname(volname, key)
        fmt = vol.format or _format_of(volname, drive)
        out[file] = VolumeSource(
            path=plugin.path(volname), format=fmt, read_only=is_cdrom(drive) or vol.is_base
        )
    return out


def _format_of(name: str, drive: dict[str, object]) -> str:
    if drive.get("format") in ("raw", "qcow2", "vmdk"):
        return str(drive["format"])
    return FORMAT_SUFFIXES.get(Path(name).suffix, "raw")


async def launch(
    qemu: QemuService,
    vmid: int,
    tlog: TaskLog,
    *,
    before_cont: Callable[[Monitor], Awaitable[None]] | None = None,
) -> None:
    """Start VM ``vmid``; ``before_cont`` runs on the paused QEMU (e.g. to load a
    snapshot's RAM state) before its CPUs start."""
    svc = qemu.svc
    paths = qemu.run_paths(vmid)
    if qemu.pid(vmid) is not None:
        raise Conflict(f"VM {vmid} already running")
    cfg, dig = qemu.load(vmid)
    if cfg.main.get("template") == "1":
        raise Conflict("you can't start a VM if it's a template")
    if cfg.pending or cfg.pending_delete:
        freed = configure.apply_pending(cfg)
        await qemu.save(vmid, cfg, dig)
        tlog.log("applied pending changes")
        for volid in freed:
            await qemu._free_volume(volid, tlog)
    await cloudinit_drive.prepare_start(qemu, vmid, tlog)
    conf = cfg.main
    wants_kvm = conf.get("kvm", "1") not in ("0", "no", "off", "false")
    if wants_kvm:
        kvm = await kvmprobe.probe(svc.paths.run_dir)
    else:  # software emulation asked for: no need to know whether KVM would work
        kvm = kvmprobe.KvmStatus(False, "kvm: 0 in the VM config")
    facts = await node_facts(qemu, vmid, kvm_usable=kvm.usable)
    volumes = await volume_sources(qemu, conf)
    if conf.get("bios") == "ovmf" and "efidisk0" not in conf and facts.ovmf is not None:
        tmp = paths.dir / f"{vmid}.efivars.fd"
        paths.dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(facts.ovmf.vars_4m, tmp)
        volumes[EFIVARS_TEMP] = VolumeSource(path=str(tmp), format="raw")
    try:
        argv = build_argv(vmid, conf, facts, volumes)
    except KvmUnavailable as err:
        raise PyxisError(
            f"KVM virtualisation configured, but not available: {kvm.reason}. "
            "Set 'kvm: 0' in the VM config to use software emulation."
        ) from err
    async with Rollback() as rollback:
        for key in sorted(k for k in conf if k.startswith("net") and k[3:].isdigit()):
            net = parse_net(conf[key])
            name = taps.tap_name(vmid, int(key[3:]))
            bridge = str(net.get("bridge") or "")
            if not bridge:
                raise PyxisError(f"{key}: no bridge configured", status=400)
            await taps.create(
                name,
                bridge,
                mtu=_mtu(net.get("mtu")),
                tag=net.get("tag"),
                rate_mbps=net.get("rate"),
                queues=int(net.get("queues") or 1),
            )
            rollback.add(f"remove {name}", _remover(name))
        pid = await runtime.start(vmid, argv, paths, cgroup=qemu.cgroup_spec(vmid, cfg))
        rollback.add(f"stop VM {vmid}", lambda: runtime.stop(vmid, paths, 5.0))
        async with Monitor(paths.qmp) as mon:
            for key in link_down_nets(conf):
                await mon.set_link(key, False)
            if before_cont is not None:
                await before_cont(mon)
            await mon.cont()
        rollback.clear()
    accel = "KVM" if "accel=kvm" in " ".join(argv) else "TCG (software emulation)"
    tlog.log(f"VM {vmid} started (pid {pid}, {accel})")


def _remover(name: str) -> Callable[[], Awaitable[None]]:
    return lambda: taps.remove(name)


def _mtu(value: object) -> int | None:
    if value in (None, 1, "1"):
        return None  # 1 means: the bridge's MTU
    return int(str(value))
