"""``/nodes/{node}/qemu/{vmid}/showcmd``: the QEMU command line a start would run.

A Pyxis extension: upstream's ``qm showcmd`` builds the command in the CLI process
(it runs as root on the node); Pyxis CLIs never bypass the daemon, so the daemon
answers with the argv instead.  The argv is built exactly as ``vm_start`` builds it
(pending changes folded in, volumes resolved through their storages, the cached KVM
probe consulted, ``-daemonize -pidfile`` added as the runtime adds them), but nothing
is created: no tap devices, no EFI-vars copy, no config write.  Only root may ask,
since the argv names host paths of every volume.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyxis.api.common import ALL_USERS, NODE, STR, VMID, array_of
from pyxis.api.context import Call
from pyxis.errors import PermissionDenied, PyxisError
from pyxis.guests.qemu import configure, kvmprobe
from pyxis.guests.qemu.argv import ArgvError, KvmUnavailable, build_argv
from pyxis.guests.qemu.facts import EFIVARS_TEMP, VolumeSource
from pyxis.guests.qemu.launch import node_facts, volume_sources
from pyxis.schema.registry import method


@method(
    "GET",
    "/nodes/{node}/qemu/{vmid}/showcmd",
    name="showcmd",
    permissions=ALL_USERS,
    protected=True,
    proxyto="node",
    extension=True,
    parameters={"node": NODE, "vmid": VMID},
    returns=array_of(STR),
)
async def showcmd(call: Call, p: dict[str, Any]) -> list[str]:
    """The QEMU argv ``vm_start`` would run for this VM now (root@pam only)."""
    if not call.is_root:
        raise PermissionDenied("only root@pam may see the QEMU command line")
    vmid = int(p["vmid"])
    qemu = call.svc.qemu
    cfg, _ = qemu.load(vmid)
    configure.apply_pending(cfg)  # on this copy only: start folds pending in first
    conf = cfg.main
    kvm = await kvmprobe.probe(call.svc.paths.run_dir)
    facts = await node_facts(qemu, vmid, kvm_usable=kvm.usable)
    volumes = await volume_sources(qemu, conf)
    paths = qemu.run_paths(vmid)
    if conf.get("bios") == "ovmf" and "efidisk0" not in conf and facts.ovmf is not None:
        # the start path copies the vars template to this file first
        efivars = Path(paths.dir) / f"{vmid}.efivars.fd"
        volumes[EFIVARS_TEMP] = VolumeSource(path=str(efivars), format="raw")
    try:
        argv = [str(a) for a in build_argv(vmid, conf, facts, volumes)]
    except KvmUnavailable as err:
        raise PyxisError(
            f"KVM virtualisation configured, but not available: {kvm.reason}. "
            "Set 'kvm: 0' in the VM config to use software emulation.",
            status=400,
        ) from err
    except ArgvError as err:
        raise PyxisError(f"cannot build the command line: {err}", status=400) from err
    # as runtime.start completes it
    if "-daemonize" not in argv:
        argv.append("-daemonize")
    if "-pidfile" not in argv:
        argv += ["-pidfile", str(paths.pidfile)]
    return argv
