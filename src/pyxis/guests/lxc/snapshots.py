"""Container snapshots, clones and templates, each as upstream ``pve-container``.

Snapshots are storage snapshots of every volume mount point (``rootfs`` and ``mpN``
on storages that can: btrfs subvolumes here; a ``dir`` subvolume cannot, and the
request fails with a clear 400 before anything changes).  A running container is
frozen while its volumes are snapshotted so that the set is consistent.  The config
bookkeeping (``[name]`` sections, ``lock``, ``snapstate``, ``parent``) is the shared
pure code of ``pyxis.guests.qemu.snapconf``.  Rollback needs a stopped container.

``clone`` makes a new container from a stopped one or a template: a full copy onto
any storage, or (``full=0`` from a template) a linked clone where the storage can
(btrfs snapshots).  ``template`` turns a stopped container into a template.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.guests.lxc import configure, disks, lifecycle, runtime, volumes
from pyxis.guests.lxc.keys import parse_mountpoint, print_value
from pyxis.guests.orchestrator import Rollback, conf_path
from pyxis.guests.qemu import snapconf
from pyxis.guests.qemu.config import LXC, VmConfig, render_config, snapshot_tree
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.tasks.manager import TaskLog
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.guests.lxc.service import LxcService

NOT_AVAILABLE = "snapshot feature is not available"


def volume_keys(section: dict[str, str]) -> dict[str, str]:
    """``{rootfs/mpN: volume id}`` of the storage volumes of a section."""
    out: dict[str, str] = {}
    for key in sorted(section):
        if configure.is_volume_key(key) and (vol := configure.volume_of(key, section[key])):
            out[key] = vol
    return out


async def _feature(
    lxc: LxcService, feature: str, section: dict[str, str], **kw: bool
) -> str | None:
    """The first volume key whose storage lacks ``feature`` (None: all have it)."""
    for key, volid in volume_keys(section).items():
        sid, volname = split_volid(volid)
        plugin = await lxc.svc.storage.plugin(sid)
        if not plugin.has_feature(feature, parse_volname(volname).format, **kw):
            return key
    return None


def listing(lxc: LxcService, vmid: int, running: bool) -> list[dict[str, Any]]:
    cfg, dig = lxc.load(vmid)
    out = snapshot_tree(cfg)
    out[-1]["digest"] = dig
    out[-1]["running"] = 1 if running else 0
    return out


async def create(lxc: LxcService, vmid: int, name: str, description: str, tlog: TaskLog) -> None:
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        if (key := await _feature(lxc, "snapshot", cfg.main)) is not None:
            raise PyxisError(f"{NOT_AVAILABLE} (mount point '{key}')", status=400)
        snapconf.prepare(cfg, name, int(time.time()), description)
        await lxc.save(vmid, cfg, dig)
    ct = lxc.ct(vmid)
    frozen = False
    done: list[tuple[str, str]] = []
    try:
        if (await lxc.info(vmid)).state == "RUNNING":
            await runtime.freeze(ct)
            frozen = True
            await run(["sync"], check=False, timeout=60)
        for key, volid in volume_keys(cfg.main).items():
            sid, volname = split_volid(volid)
            plugin = await lxc.svc.storage.plugin(sid)
            await plugin.snapshot(volname, name)
            done.append((sid, volname))
            tlog.log(f"snapshot of {key} ({volid}) taken")
    except BaseException:
        for sid, volname in done:
            plugin = await lxc.svc.storage.plugin(sid)
            await plugin.delete_snapshot(volname, name)
        async with lxc.guests.lock(vmid):
            cfg, dig = lxc.load(vmid)
            snapconf.abort(cfg, name)
            await lxc.save(vmid, cfg, dig)
        raise
    finally:
        if frozen:
            await runtime.unfreeze(ct)
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        snapconf.commit(cfg, name)
        await lxc.save(vmid, cfg, dig)


async def rollback(lxc: LxcService, vmid: int, name: str, start: bool, tlog: TaskLog) -> None:
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        snapconf.check_unlocked(cfg)
        snap = snapconf.get(cfg, name)
        if snap.get("snapstate"):
            raise PyxisError(f"unable to rollback to incomplete snapshot ({snap['snapstate']})")
        if await lxc.is_running(vmid):
            tlog.log(f"stopping CT {vmid} for the rollback")
            await lifecycle.stop(lxc, vmid, tlog)
        for key, volid in volume_keys(snap).items():
            sid, volname = split_volid(volid)
            plugin = await lxc.svc.storage.plugin(sid)
            await plugin.rollback(volname, name)
            tlog.log(f"rolled back {key} ({volid})")
        new = {k: v for k, v in snap.items() if k not in snapconf.SNAP_ONLY}
        new["parent"] = name
        for key, value in cfg.main.items():
            if key.startswith("unused") or key == "description":
                new[key] = value
        restored = set(volume_keys(new).values())
        for vol in volume_keys(cfg.main).values():
            if vol not in restored:
                new[configure.next_unused(new)] = vol
        cfg.main = new
        cfg.pending.clear()
        cfg.pending_delete = []
        await lxc.save(vmid, cfg, dig)
        if start:
            await lifecycle.start(lxc, vmid, tlog)


async def delete(lxc: LxcService, vmid: int, name: str, force: bool, tlog: TaskLog) -> None:
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        snap = snapconf.mark_delete(cfg, name, force)
        await lxc.save(vmid, cfg, dig)
    for key, volid in volume_keys(snap).items():
        sid, volname = split_volid(volid)
        try:
            plugin = await lxc.svc.storage.plugin(sid)
            await plugin.delete_snapshot(volname, name)
        except PyxisError as err:
            if not force:
                raise
            tlog.warn(f"{key}: {err.message}")
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        snapconf.remove(cfg, name)
        await lxc.save(vmid, cfg, dig)


async def template(lxc: LxcService, vmid: int, tlog: TaskLog) -> None:
    """Make a stopped container a template; base volumes where the storage knows them."""
    async with lxc.guests.lock(vmid):
        cfg, dig = lxc.load(vmid)
        lxc.check_not_locked(cfg)
        if cfg.main.get("template") == "1":
            raise Conflict(f"CT {vmid} is already a template")
        if cfg.snapshots:
            raise Conflict("you can't convert a CT with snapshots to a template")
        if await lxc.is_running(vmid):
            raise Conflict("you can't convert a running CT to a template")
        for key, volid in volume_keys(cfg.main).items():
            sid, volname = split_volid(volid)
            plugin = await lxc.svc.storage.plugin(sid)
            fmt = parse_volname(volname).format
            if fmt != "raw" or not plugin.has_feature("template", fmt):
                continue  # directories stay as they are (as upstream on dir storage)
            newvol = f"{sid}:{await plugin.create_base(volname)}"
            mp = parse_mountpoint(key, cfg.main[key])
            cfg.main[key] = print_value(key, {**mp.opts, "volume": newvol})
            tlog.log(f"{key}: base volume '{newvol}'")
        cfg.main["template"] = "1"
        await lxc.save(vmid, cfg, dig)


async def clone(
    lxc: LxcService,
    vmid: int,
    newid: int,
    opts: dict[str, Any],
    tlog: TaskLog,
) -> None:
    """Create CT ``newid`` from ``vmid`` (see the module docstring)."""
    svc = lxc.svc
    snapname = opts.get("snapname")
    async with lxc.guests.lock(vmid):
        cfg, _ = lxc.load(vmid)
        is_template = cfg.main.get("template") == "1"
        full = bool(opts.get("full", 0 if is_template else 1))
        if not full and not is_template:
            raise ParamError.one("full", "linked clones can only be made from templates")
        if snapname:
            source = dict(snapconf.get(cfg, snapname))
        else:
            source = dict(cfg.main)
            if await lxc.is_running(vmid):
                raise Conflict("cloning a running container is not supported: stop it first")
        target = opts.get("storage")
        if not full and target:
            raise ParamError.one("storage", "a linked clone stays on the template's storage")
        if not full and (key := await _feature(lxc, "clone", source, base=True)) is not None:
            raise PyxisError(f"linked clone not possible for '{key}': use full=1", status=400)
        lxc.guests.check_free(newid)
        new = {
            k: v
            for k, v in source.items()
            if k not in snapconf.SNAP_ONLY
            and k not in ("parent", "template")
            and not k.startswith("unused")
        }
        for key in [k for k in new if k.startswith("net") and k[3:].isdigit()]:
            new[key] = _new_mac(lxc, new[key])
        if opts.get("hostname"):
            new["hostname"] = str(opts["hostname"])
        if "description" in opts:
            new["description"] = str(opts["description"])
        path = conf_path(svc.node, "lxc", newid)
        unpriv = new.get("unprivileged") == "1"
        async with Rollback() as rb:
            await svc.store.create(
                path,
                render_config(VmConfig(main={**new, "lock": "create"}), LXC).encode(),
                writer=svc.node,
            )

            async def drop() -> None:
                await svc.store.delete(path)

            rb.add("remove clone config", drop)
            lxc.ct(newid).ensure()
            for key, volid in volume_keys(source).items():
                mp = parse_mountpoint(key, source[key])
                if full:
                    sid = str(target or split_volid(volid)[0])
                    newvol, size = await disks.copy_volume(
                        lxc, newid, volid, sid, unpriv, rb, tlog, key
                    )
                    mp_opts = {**mp.opts, "volume": newvol}
                    if size:
                        mp_opts["size"] = volumes.human_size(size)
                else:
                    sid, volname = split_volid(volid)
                    plugin = await svc.storage.plugin(sid)
                    newvol = f"{sid}:{await plugin.clone_image(volname, newid, snapname)}"
                    rb.add(f"free {newvol}", _freer(lxc, newvol))
                    mp_opts = {**mp.opts, "volume": newvol}
                    tlog.log(f"linked clone of {key}: '{newvol}'")
                new[key] = print_value(key, mp_opts)
            lxc.ct(newid).cleanup()
            entry = svc.store.get(path)
            from pyxis.store.base import digest

            await svc.store.write(
                path,
                render_config(VmConfig(main=new), LXC).encode(),
                expect_digest=digest(entry.data) if entry else None,
                writer=svc.node,
            )
            rb.clear()
    tlog.log(f"cloned CT {vmid} to CT {newid}")


def _freer(lxc: LxcService, volid: str) -> Callable[[], Awaitable[None]]:
    async def undo() -> None:
        await volumes.free(lxc.svc, volid, None)

    return undo


def _new_mac(lxc: LxcService, value: str) -> str:
    from pyxis.guests.lxc.keys import mac_generate, parse_net

    net = parse_net(value)
    net["hwaddr"] = mac_generate(lxc._mac_prefix())
    return print_value("net0", net)
