"""Creating a container: from a template archive to a config file and a root volume.

Phases as every guest operation: arguments are checked before anything is written
(config values, the template volume and the caller's rights on it and on every
storage, host paths for root@pam only); in the task the VMID is reserved by writing
the config with ``lock: create``, the root file system (and any ``STORAGE:SIZE`` mount
point) is allocated and formatted, the template is checked and extracted into it
(ids shifted for unprivileged containers), ``ostype`` is detected when not given,
and the root password (a SHA-512 crypt hash in ``/etc/shadow``) and SSH keys are
written inside.  Any failure frees what was allocated and removes the config.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.errors import ParamError, PermissionDenied, PyxisError
from pyxis.guests.lxc import configure, disks, lifecycle, volumes
from pyxis.guests.lxc.extract import extract_template
from pyxis.guests.orchestrator import Rollback, conf_path
from pyxis.guests.qemu.config import LXC, VmConfig, render_config
from pyxis.storage.volid import parse_volname, split_volid
from pyxis.tasks.manager import TaskLog
from pyxis.util.shacrypt import is_crypted, sha512_crypt

if TYPE_CHECKING:
    from pyxis.guests.lxc.service import LxcService

DEFAULT_ROOTFS_GIB = 4
CREATE_ONLY = (
    "ostemplate",
    "password",
    "ssh-public-keys",
    "storage",
    "start",
    "pool",
    "force",
    "restore",
    "unique",
    "ignore-unpack-errors",
    "bwlimit",
    "ha-managed",
)
SSH_KEY_RE = re.compile(r"^(ssh|ecdsa|sk-ssh|sk-ecdsa)-[\w@.-]+ [A-Za-z0-9+/=]+( .*)?\Z")


def _template_volume(lxc: LxcService, authid: str, ostemplate: str) -> tuple[str, str]:
    if ostemplate.startswith("/"):
        if authid != "root@pam":
            raise PermissionDenied("only root@pam may use a host path as template")
        if not Path(ostemplate).is_file():
            raise ParamError.one("ostemplate", f"template '{ostemplate}' does not exist")
        return "", ostemplate
    try:
        sid, volname = split_volid(ostemplate, "ostemplate")
        vol = parse_volname(volname, "ostemplate")
    except ValueError as err:
        raise ParamError.one("ostemplate", f"unable to parse volume ID '{ostemplate}'") from err
    if vol.vtype != "vztmpl":
        raise ParamError.one("ostemplate", f"'{ostemplate}' is not a container template")
    lxc.svc.storage.check_volume_access(authid, sid, volname, write=False)
    return sid, volname


def _check_keys(text: str) -> str:
    lines = [ln.strip() for ln in text.replace("\r", "").split("\n") if ln.strip()]
    for line in lines:
        if not SSH_KEY_RE.match(line):
            raise ParamError.one("ssh-public-keys", "invalid SSH public key")
    return "\n".join(lines) + "\n"


async def create(lxc: LxcService, authid: str, vmid: int, params: dict[str, Any]) -> str:
    """Check everything, then run the creation as a ``vzcreate`` task; returns its UPID."""
    params = dict(params)
    start = bool(params.pop("start", 0))
    ostemplate = str(params.pop("ostemplate"))
    password = params.pop("password", None)
    ssh_keys = params.pop("ssh-public-keys", None)
    storage = str(params.pop("storage", None) or "local")
    for key in CREATE_ONLY:
        if key in ("pool", "restore") and params.get(key):
            raise ParamError.one(key, "not supported yet")
        params.pop(key, None)
    lxc.guests.check_free(vmid)
    rootfs = str(params.get("rootfs") or f"{storage}:{DEFAULT_ROOTFS_GIB}")
    if re.fullmatch(r"\d+(\.\d+)?", rootfs.split(",")[0]):
        rootfs = f"{storage}:{rootfs}"
    params["rootfs"] = rootfs
    configure.check_keys({k: str(v) for k, v in params.items()}, [], [], create=True)
    lxc.check_key_privs(authid, vmid, {k: str(v) for k, v in params.items()})
    values = lxc.prepare_values(params)
    plans = await disks.check_mountpoints(lxc, authid, vmid, values)
    tsid, tvol = _template_volume(lxc, authid, ostemplate)
    keys_text = _check_keys(str(ssh_keys)) if ssh_keys else None
    if password is not None and not str(password):
        raise ParamError.one("password", "empty password")

    async def work(tlog: TaskLog) -> None:
        async with lxc.guests.lock(vmid):
            await _build(lxc, vmid, values, plans, (tsid, tvol), password, keys_text, tlog)
        if start:
            async with lxc.guests.lock(vmid):
                await lifecycle.start(lxc, vmid, tlog)

    return await lxc.svc.tasks.start("vzcreate", str(vmid), authid, work)


async def _build(
    lxc: LxcService,
    vmid: int,
    values: dict[str, str],
    plans: list[disks.MpPlan],
    template: tuple[str, str],
    password: Any,
    ssh_keys: str | None,
    tlog: TaskLog,
) -> None:
    svc = lxc.svc
    lxc.guests.check_free(vmid)
    path = conf_path(svc.node, "lxc", vmid)
    unpriv = values.get("unprivileged") == "1"
    owner = lifecycle.root_owner(values)
    async with Rollback() as rollback:
        cfg = VmConfig(main={**values, "lock": "create"})
        await svc.store.create(path, render_config(cfg, LXC).encode(), writer=svc.node)

        async def drop_config() -> None:
            await svc.store.delete(path)

        rollback.add("remove config", drop_config)
        await disks.realize_mountpoints(lxc, vmid, plans, values, unpriv, tlog, rollback)
        archive = Path(template[1])
        if template[0]:
            plugin = await svc.storage.plugin(template[0])
            archive = Path(plugin.path(template[1]))
        ct = lxc.ct(vmid)
        ct.ensure()
        rootvol = str(values["rootfs"]).split(",")[0]
        try:
            await volumes.mount_image_tmp(svc, rootvol, ct.rootfs)
            tlog.log(f"extracting archive '{archive.name}'")
            members = await extract_template(archive, ct.rootfs, unprivileged=unpriv)
            tlog.log(f"extracted {len(members)} entries")
            if "ostype" not in values:
                values["ostype"] = detect_ostype(ct.rootfs)
                tlog.log(f"detected OS type '{values['ostype']}'")
            if password is not None:
                set_root_password(ct.rootfs, str(password), owner)
            if ssh_keys:
                write_ssh_keys(ct.rootfs, ssh_keys, owner)
        finally:
            await volumes.umount_all(ct.dir)
            ct.cleanup()
        cfg = VmConfig(main=dict(values))
        cfg.main.setdefault("arch", "amd64")
        entry = svc.store.get(path)
        await svc.store.write(
            path,
            render_config(cfg, LXC).encode(),
            expect_digest=None if entry is None else _digest(entry.data),
            writer=svc.node,
        )
        rollback.clear()
    tlog.log(f"created CT {vmid} at {time.strftime('%Y-%m-%d %H:%M:%S')}")


def _digest(data: bytes) -> str:
    from pyxis.store.base import digest

    return digest(data)


def detect_ostype(rootfs: Path) -> str:
    """The upstream ``ostype`` of an extracted root file system."""
    checks = [
        ("etc/debian_version", "debian"),
        ("etc/devuan_version", "devuan"),
        ("etc/alpine-release", "alpine"),
        ("etc/arch-release", "archlinux"),
        ("etc/fedora-release", "fedora"),
        ("etc/centos-release", "centos"),
        ("etc/gentoo-release", "gentoo"),
        ("etc/SUSE-brand", "opensuse"),
    ]
    with contextlib.suppress(OSError):
        if "ubuntu" in (rootfs / "etc/lsb-release").read_text().lower():
            return "ubuntu"
    for rel, name in checks:
        if (rootfs / rel).is_file() and not (rootfs / rel).is_symlink():
            return name
    return "unmanaged"


def _safe_target(rootfs: Path, rel: str) -> Path:
    """``rootfs/rel`` after checking that no component below the root is a symlink."""
    cur = rootfs
    for part in rel.split("/"):
        cur = cur / part
        if cur.is_symlink():
            raise PyxisError(f"refusing to write '/{rel}': '{part}' is a symlink in the template")
    return cur


def set_root_password(rootfs: Path, password: str, owner: tuple[int, int]) -> None:
    """Put root's password hash into ``/etc/shadow`` (created when the root has none)."""
    hashed = password if is_crypted(password) else sha512_crypt(password)
    shadow = _safe_target(rootfs, "etc/shadow")
    days = int(time.time() // 86400)
    lines = shadow.read_text().splitlines() if shadow.is_file() else []
    out, found = [], False
    for line in lines:
        fields = line.split(":")
        if fields[0] == "root" and len(fields) > 2:
            fields[1], fields[2] = hashed, str(days)
            line, found = ":".join(fields), True
        out.append(line)
    if not found:
        out.insert(0, f"root:{hashed}:{days}:0:99999:7:::")
    lifecycle.write_setup_files(rootfs, {"etc/shadow": "\n".join(out) + "\n"}, owner)
    os.chmod(shadow, 0o640)


def write_ssh_keys(rootfs: Path, keys: str, owner: tuple[int, int]) -> None:
    """Append the keys to ``/root/.ssh/authorized_keys``."""
    target = _safe_target(rootfs, "root/.ssh/authorized_keys")
    old = target.read_text() if target.is_file() else ""
    text = old + ("" if not old or old.endswith("\n") else "\n") + keys
    lifecycle.write_setup_files(rootfs, {"root/.ssh/authorized_keys": text}, owner)
    os.chmod(target.parent, 0o700)
    os.chmod(target, 0o600)
