"""Starting, stopping and entering containers: from the config to a running LXC container.

Start: fold pending changes into the config; refuse templates; mount the root file
system on ``<lxcpath>/<vmid>/rootfs`` (subvolume directories bind-mounted, raw images
loop-mounted) and every volume mount point on ``mnt/<key>``; write the OS setup files
(host name, hosts, network, DNS) inside the root; render the LXC config (the pure
``lxcconf``) with the machine facts; ``lxc-start -d``.  Whatever was mounted is
unmounted again if a step fails.  Stop/shutdown go through ``lxc-stop`` and unmount
afterwards; suspend/resume are ``lxc-freeze``/``lxc-unfreeze``.  ``exec`` runs a
command through ``lxc-attach`` and returns its exit code and output.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.errors import Conflict, PyxisError
from pyxis.guests.cgroups import Cgroups
from pyxis.guests.lxc import configure, runtime, setup, volumes
from pyxis.guests.lxc.keys import mountpoints, parse_net, parse_value
from pyxis.guests.lxc.lxcconf import (
    DEFAULT_IDMAP,
    Device,
    NodeFacts,
    RenderError,
    render_lines,
    render_lxc_conf,
)
from pyxis.network import taps
from pyxis.tasks.manager import TaskLog
from pyxis.util.run import Result, run

if TYPE_CHECKING:
    from pyxis.guests.lxc.service import LxcService

LXC_CONFIG = Path("/usr/share/lxc/config")
MIB = 1024 * 1024
MAX_OUTPUT = 1024 * 1024
NET_HOOK = "/etc/pyxis/net.sh"


def unprivileged(conf: Mapping[str, str]) -> bool:
    return str(conf.get("unprivileged", "0")) == "1"


def root_owner(conf: Mapping[str, str]) -> tuple[int, int]:
    """Host ids of the container's root user (0:0 when privileged)."""
    if not unprivileged(conf):
        return (0, 0)
    uid = next(e[2] for e in DEFAULT_IDMAP if e[0] == "u")
    gid = next(e[2] for e in DEFAULT_IDMAP if e[0] == "g")
    return (uid, gid)


def setup_flavour(conf: Mapping[str, str], rootfs: Path) -> str:
    """Which setup files fit the container: its ``ostype``; for ``unmanaged`` the
    ``busybox`` flavour when the root is Pyxis' busybox template (its ``rcS`` runs
    ``/etc/pyxis/net.sh``, the opt-in marker), else nothing."""
    ostype = str(conf.get("ostype", "unmanaged"))
    if ostype != "unmanaged":
        return ostype
    rcs = rootfs / "etc/init.d/rcS"
    try:
        if not rcs.is_symlink() and NET_HOOK in rcs.read_text(errors="replace"):
            return "busybox"
    except OSError:
        pass
    return ostype


def write_setup_files(rootfs: Path, files: Mapping[str, str], owner: tuple[int, int]) -> None:
    """Write files below ``rootfs`` without following symlinks planted in the root."""
    for rel, content in files.items():
        target = rootfs
        parts = rel.split("/")
        for part in parts[:-1]:
            target = target / part
            if target.is_symlink():
                raise PyxisError(f"refusing to write '{rel}': '{part}' is a symlink")
            if not target.exists():
                target.mkdir(mode=0o755)
                os.chown(target, *owner)
        path = target / parts[-1]
        if path.is_symlink() or (path.exists() and not path.is_file()):
            path.unlink()
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, setup.file_mode(rel)
        )
        try:
            os.write(fd, content.encode())
            os.fchmod(fd, setup.file_mode(rel))
            os.fchown(fd, *owner)
        finally:
            os.close(fd)


def _devices(conf: Mapping[str, str]) -> dict[str, Device]:
    out: dict[str, Device] = {}
    for key, value in conf.items():
        if key.startswith("dev") and key[3:].isdigit():
            path = str(parse_value(key, value).get("path", ""))
            st = os.stat(path)
            kind = "c" if stat.S_ISCHR(st.st_mode) else "b" if stat.S_ISBLK(st.st_mode) else ""
            if not kind:
                raise PyxisError(f"{key}: '{path}' is not a device node")
            out[path] = Device(kind, os.major(st.st_rdev), os.minor(st.st_rdev))  # type: ignore[arg-type]
    return out


def node_facts(
    lxc: LxcService, vmid: int, conf: Mapping[str, str], mounts: dict[str, str]
) -> NodeFacts:
    ct = lxc.ct(vmid)
    layout = Cgroups().layout()
    includes = []
    if (LXC_CONFIG / "common.conf").is_file():
        includes.append(str(LXC_CONFIG / "common.conf"))
        if unprivileged(conf) and (LXC_CONFIG / "userns.conf").is_file():
            includes.append(str(LXC_CONFIG / "userns.conf"))
    return NodeFacts(
        vmid=vmid,
        rootfs_path=str(ct.rootfs),
        lxc_path=str(lxc.lxcpath),
        mount_paths=mounts,
        cgroup="v2" if layout == "v2" else "v1",
        apparmor=Path("/sys/kernel/security/apparmor").is_dir(),
        devices=_devices(conf),
        includes=includes,
    )


def render(lxc: LxcService, vmid: int, conf: Mapping[str, str], mounts: dict[str, str]) -> str:
    """The LXC config text, plus the cgroup placement (machine-unique names)."""
    facts = node_facts(lxc, vmid, conf, mounts)
    try:
        text = render_lxc_conf(conf, facts)
    except (RenderError, ValueError) as err:
        raise PyxisError(f"CT {vmid}: {err}", status=400) from err
    name = lxc.cgroup_name(vmid)
    extra = [
        ("lxc.cgroup.dir.container", f"pyxis/{name}"),
        ("lxc.cgroup.dir.monitor", f"pyxis/{name}.monitor"),
        ("lxc.signal.halt", "SIGUSR2")
        if setup_flavour(conf, Path(facts.rootfs_path)) == "busybox"
        else ("lxc.signal.halt", "SIGPWR"),
    ]
    return text + render_lines(extra)


async def mount_all(lxc: LxcService, vmid: int, conf: Mapping[str, str]) -> dict[str, str]:
    """Mount the root and every mount point; returns ``mpN`` -> host source to bind."""
    ct = lxc.ct(vmid)
    mounts: dict[str, str] = {}
    for mp in mountpoints(conf):
        if mp.kind == "alloc":
            raise PyxisError(f"{mp.key}: volume '{mp.volume}' was never allocated")
        if mp.key == "rootfs":
            if mp.kind != "volume":
                raise PyxisError("rootfs: must be a storage volume")
            path, is_dir = await volumes.volume_path(lxc.svc, mp.volume)
            await volumes.mount(path, is_dir, ct.rootfs)
            continue
        if mp.kind == "volume":
            path, is_dir = await volumes.volume_path(lxc.svc, mp.volume)
            await volumes.mount(path, is_dir, ct.staged(mp.key))
            mounts[mp.key] = str(ct.staged(mp.key))
        else:
            mounts[mp.key] = mp.volume
    return mounts


async def start(lxc: LxcService, vmid: int, tlog: TaskLog | None) -> None:
    """Start a stopped container (the caller holds the guest lock)."""
    if await lxc.is_running(vmid):
        raise Conflict(f"CT {vmid} already running")
    cfg, dig = lxc.load(vmid)
    if cfg.main.get("template") == "1":
        raise Conflict("you can't start a CT if it's a template")
    if cfg.pending or cfg.pending_delete:
        freed = configure.apply_pending(cfg)
        await lxc.save(vmid, cfg, dig)
        for volid in freed:
            await volumes.free(lxc.svc, volid, tlog)
    conf = cfg.main
    if "rootfs" not in conf:
        raise PyxisError(f"CT {vmid} has no rootfs")
    for key, value in conf.items():
        if key.startswith("net") and key[3:].isdigit():
            bridge = parse_net(value).get("bridge")
            if bridge and not taps.bridge_exists(str(bridge)):
                raise PyxisError(f"{key}: bridge '{bridge}' does not exist", status=400)
    ct = lxc.ct(vmid)
    ct.ensure()
    runtime.publish(lxc.svc.paths, lxc.lxcpath)
    await volumes.umount_all(ct.dir)  # leftovers of a container that stopped by itself
    try:
        mounts = await mount_all(lxc, vmid, conf)
        flavour = setup_flavour(conf, ct.rootfs)
        if flavour != "unmanaged":
            files = setup.os_setup_files(conf, flavour, vmid=vmid)
            write_setup_files(ct.rootfs, files, root_owner(conf))
        ct.config.write_text(render(lxc, vmid, conf, mounts))
        await runtime.start(ct)
    except BaseException:
        await volumes.umount_all(ct.dir)
        raise
    if tlog:
        tlog.log(f"CT {vmid} started")


async def _after_stop(lxc: LxcService, vmid: int) -> None:
    ct = lxc.ct(vmid)
    await volumes.umount_all(ct.dir)
    for entry in os.listdir(taps.SYS_NET):
        if entry.startswith(f"veth{vmid}i"):
            await taps.remove(entry)


async def stop(lxc: LxcService, vmid: int, tlog: TaskLog | None) -> None:
    ct = lxc.ct(vmid)
    if not await lxc.is_running(vmid):
        if tlog:
            tlog.log(f"CT {vmid} is not running")
        await _after_stop(lxc, vmid)
        return
    if (await lxc.info(vmid)).state == "FROZEN":
        await runtime.unfreeze(ct)
    await runtime.stop(ct)
    await _after_stop(lxc, vmid)
    if tlog:
        tlog.log(f"CT {vmid} stopped")


async def shutdown(lxc: LxcService, vmid: int, tlog: TaskLog, timeout: float, force: bool) -> None:
    ct = lxc.ct(vmid)
    if not await lxc.is_running(vmid):
        tlog.log(f"CT {vmid} is not running")
        return
    tlog.log(f"shutting down CT {vmid}, waiting up to {int(timeout)} s")
    if not await runtime.stop(ct, timeout, kill_after=force):
        raise PyxisError(f"CT {vmid}: shutdown timed out after {int(timeout)} s")
    await _after_stop(lxc, vmid)
    tlog.log(f"CT {vmid} shut down")


async def suspend(lxc: LxcService, vmid: int) -> None:
    if not await lxc.is_running(vmid):
        raise Conflict(f"CT {vmid} not running")
    await runtime.freeze(lxc.ct(vmid))


async def resume(lxc: LxcService, vmid: int) -> None:
    if not await lxc.is_running(vmid):
        raise Conflict(f"CT {vmid} not running")
    await runtime.unfreeze(lxc.ct(vmid))


async def set_limits(lxc: LxcService, vmid: int, conf: Mapping[str, str]) -> None:
    """Write memory/swap/CPU limits of a running container through ``lxc-cgroup``."""
    ct = lxc.ct(vmid)
    memory = int(conf.get("memory", 512)) * MIB
    swap = int(conf.get("swap", 512)) * MIB
    layout = Cgroups().layout()
    pairs: list[tuple[str, str]]
    if layout == "v2":
        pairs = [("memory.max", str(memory)), ("memory.swap.max", str(swap))]
    else:
        # memsw must stay >= memory: try both orders
        pairs = [
            ("memory.memsw.limit_in_bytes", str(memory + swap)),
            ("memory.limit_in_bytes", str(memory)),
            ("memory.memsw.limit_in_bytes", str(memory + swap)),
        ]
    cpulimit = float(conf.get("cpulimit", 0) or 0)
    if layout == "v2":
        quota = "max" if cpulimit <= 0 else str(int(cpulimit * 100000))
        pairs.append(("cpu.max", f"{quota} 100000"))
    else:
        pairs.append(("cpu.cfs_quota_us", "-1" if cpulimit <= 0 else str(int(cpulimit * 100000))))
    for key, value in pairs:
        await run(["lxc-cgroup", *ct.base(), key, value], check=False, timeout=30)


async def exec_command(
    lxc: LxcService, vmid: int, command: list[str], stdin: bytes | None, timeout: float
) -> Result:
    if not command:
        raise PyxisError("no command given", status=400)
    if (await lxc.info(vmid)).state != "RUNNING":
        raise Conflict(f"CT {vmid} not running")
    res = await runtime.attach_exec(lxc.ct(vmid), command, stdin, timeout)
    res.stdout = res.stdout[:MAX_OUTPUT]
    res.stderr = res.stderr[:MAX_OUTPUT]
    return res
