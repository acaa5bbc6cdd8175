"""Render a container's config (``lxc/<vmid>.conf``) into the ``config`` file LXC reads.

Pure: everything about the host arrives as ``NodeFacts`` (where the root file system
and each mount point sit on the host, the cgroup layout, whether AppArmor works, which
seccomp policy file exists, the id map, hook scripts).  ``build_lxc_conf`` produces the
model, an ordered list of ``(key, value)`` pairs, and ``render_lines`` serialises it;
``render_lxc_conf`` does both.  Every config value is validated through
``keys.parse_value`` first, and the serialiser refuses line breaks and NUL as a second
line of defence: a value can never add a line of its own to the output.

Container features map as follows: ``nesting`` allows nested AppArmor and gives the
container ``/proc`` and ``/sys`` under ``/dev/.lxc`` (what LXC's own nesting include
does); ``fuse`` binds ``/dev/fuse`` and allows its device; ``keyctl`` picks the seccomp
policy that permits the keyring syscalls; ``force_rw_sys`` mounts ``/sys`` read-write;
``mount`` allows the named file system types in the AppArmor profile.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pyxis.guests.lxc import keys

Entry = tuple[str, str]
IdMapEntry = tuple[Literal["u", "g"], int, int, int]

# container id 0 maps to host id 100000, 65536 ids, for users and groups (as upstream)
DEFAULT_IDMAP: tuple[IdMapEntry, ...] = (("u", 0, 100000, 65536), ("g", 0, 100000, 65536))
CPU_PERIOD_US = 100000
MIB = 1024 * 1024
# capabilities no container needs and a privileged one could misuse
DROP_CAPS = "mac_admin mac_override sys_time sys_module sys_rawio"
FUSE_DEVICE = "c 10:229 rwm"


@dataclass(frozen=True)
class Device:
    """A host device node handed to the container (``dev[n]``), from ``stat``."""

    kind: Literal["c", "b"]
    major: int
    minor: int


@dataclass(frozen=True)
class NodeFacts:
    """What the renderer needs to know about the host, gathered by the caller.

    ``mount_paths`` maps ``mpN`` to the host directory to bind (a bind mount's source,
    or where the caller mounted the volume).  ``hooks`` maps an LXC hook name
    (``pre-start``, ``mount``, ``start-host``, ``stop``, ``post-stop`` ...) to a
    script.  ``seccomp_profile`` is the policy for containers without ``keyctl``,
    ``seccomp_profile_keyctl`` the one with it; each only when the file exists.
    ``devices`` describes each ``dev[n]`` path.  ``includes`` are LXC include files to
    load first (the distribution's common config, when present).
    """

    vmid: int
    rootfs_path: str
    lxc_path: str = "/var/lib/lxc"
    mount_paths: Mapping[str, str] = field(default_factory=dict)
    cgroup: Literal["v1", "v2"] = "v2"
    apparmor: bool = False
    seccomp_profile: str | None = None
    seccomp_profile_keyctl: str | None = None
    idmap: Sequence[IdMapEntry] = DEFAULT_IDMAP
    hooks: Mapping[str, str] = field(default_factory=dict)
    devices: Mapping[str, Device] = field(default_factory=dict)
    includes: Sequence[str] = ()
    cpuset: str | None = None


class RenderError(ValueError):
    """The container config cannot be turned into an LXC config."""


def _check(key: str, value: str) -> None:
    if any(c in value for c in "\n\r\0") or any(c in key for c in "\n\r\0 =") or not key:
        raise RenderError(f"{key!r}: LXC config values may not contain line breaks or NUL")


def render_lines(entries: Sequence[Entry]) -> str:
    """Serialise ``entries`` as ``key = value`` lines; refuses line breaks and NUL."""
    out: list[str] = []
    for key, value in entries:
        _check(key, value)
        out.append(f"{key} = {value}\n")
    return "".join(out)


def fstab_escape(path: str) -> str:
    """A path as an fstab field: space, tab, newline and backslash as octal escapes."""
    return "".join(f"\\{ord(c):03o}" if c in " \t\n\\" else c for c in path)


def _cgroup(facts: NodeFacts, v2: str, v1: str, value: str) -> Entry:
    return (f"lxc.cgroup2.{v2}", value) if facts.cgroup == "v2" else (f"lxc.cgroup.{v1}", value)


def _limits(conf: Mapping[str, str], facts: NodeFacts) -> list[Entry]:
    memory = int(keys.parse_value("memory", conf.get("memory", "512")))
    swap = int(keys.parse_value("swap", conf.get("swap", "512")))
    out: list[Entry] = []
    if facts.cgroup == "v2":
        out += [
            ("lxc.cgroup2.memory.max", str(memory * MIB)),
            ("lxc.cgroup2.memory.swap.max", str(swap * MIB)),
        ]
    else:
        # v1 counts swap together with memory
        out += [
            ("lxc.cgroup.memory.limit_in_bytes", str(memory * MIB)),
            ("lxc.cgroup.memory.memsw.limit_in_bytes", str((memory + swap) * MIB)),
        ]
    cpulimit = float(keys.parse_value("cpulimit", conf.get("cpulimit", "0")))
    if cpulimit > 0:
        quota = int(cpulimit * CPU_PERIOD_US)
        if facts.cgroup == "v2":
            out.append(("lxc.cgroup2.cpu.max", f"{quota} {CPU_PERIOD_US}"))
        else:
            out += [
                ("lxc.cgroup.cpu.cfs_period_us", str(CPU_PERIOD_US)),
                ("lxc.cgroup.cpu.cfs_quota_us", str(quota)),
            ]
    if "cpuunits" in conf:
        units = int(keys.parse_value("cpuunits", conf["cpuunits"]))
        if facts.cgroup == "v2":
            out.append(("lxc.cgroup2.cpu.weight", str(max(1, min(10000, units)))))
        else:
            out.append(("lxc.cgroup.cpu.shares", str(max(2, min(262144, units)))))
    if facts.cpuset:
        out.append(_cgroup(facts, "cpuset.cpus", "cpuset.cpus", facts.cpuset))
    return out


def _security(conf: Mapping[str, str], facts: NodeFacts, unpriv: bool) -> list[Entry]:
    feats = keys.parse_features(conf)
    out: list[Entry] = []
    if facts.apparmor:
        out.append(("lxc.apparmor.profile", "generated"))
        if feats.get("nesting"):
            out.append(("lxc.apparmor.allow_nesting", "1"))
        for fstype in feats["mount"]:
            out.append(("lxc.apparmor.raw", f"mount fstype={fstype},"))
    else:
        out.append(("lxc.apparmor.profile", "unconfined"))
    profile = facts.seccomp_profile_keyctl if feats.get("keyctl") else facts.seccomp_profile
    if profile:
        out.append(("lxc.seccomp.profile", profile))
    if not unpriv:
        out.append(("lxc.cap.drop", DROP_CAPS))
    sys_mode = "rw" if feats.get("force_rw_sys") else "mixed"
    out.append(("lxc.mount.auto", f"proc:mixed sys:{sys_mode} cgroup:mixed"))
    if feats.get("nesting"):
        out += [
            ("lxc.mount.entry", "proc dev/.lxc/proc proc create=dir,optional 0 0"),
            ("lxc.mount.entry", "sys dev/.lxc/sys sysfs create=dir,optional 0 0"),
        ]
    if feats.get("fuse"):
        out.append(_cgroup(facts, "devices.allow", "devices.allow", FUSE_DEVICE))
        out.append(("lxc.mount.entry", "/dev/fuse dev/fuse none bind,create=file,optional 0 0"))
    if unpriv:
        for kind, ct_id, host_id, count in facts.idmap:
            out.append(("lxc.idmap", f"{kind} {int(ct_id)} {int(host_id)} {int(count)}"))
    return out


def _console(conf: Mapping[str, str]) -> list[Entry]:
    tty = int(keys.parse_value("tty", conf.get("tty", "2")))
    out: list[Entry] = [("lxc.tty.max", str(tty)), ("lxc.pty.max", "1024")]
    if not int(keys.parse_value("console", conf.get("console", "1"))):
        out.append(("lxc.console.path", "none"))
    return out


def net_entries(conf: Mapping[str, str], vmid: int) -> list[Entry]:
    """``lxc.net.N.*`` lines for every ``netN`` (a veth pair ``veth<vmid>i<N>``)."""
    out: list[Entry] = []
    idx = sorted(
        int(k[3:]) for k in conf if k.startswith("net") and k[3:].isdigit() and keys.key_schema(k)
    )
    for n in idx:
        try:
            net = keys.parse_net(conf[f"net{n}"])
        except ValueError as err:
            raise RenderError(f"net{n}: {err}") from err
        p = f"lxc.net.{n}"
        out += [(f"{p}.type", "veth"), (f"{p}.veth.pair", f"veth{vmid}i{n}")]
        if "hwaddr" in net:
            out.append((f"{p}.hwaddr", str(net["hwaddr"])))
        out.append((f"{p}.name", str(net["name"])))
        if "bridge" in net:
            out.append((f"{p}.link", str(net["bridge"])))
        if not net.get("link_down"):
            out.append((f"{p}.flags", "up"))
        if "mtu" in net:
            out.append((f"{p}.mtu", str(net["mtu"])))
        if "tag" in net:
            out.append((f"{p}.veth.vlan.id", str(net["tag"])))
        for trunk in str(net.get("trunks", "")).split(";"):
            if trunk:
                out.append((f"{p}.veth.vlan.tagged.id", trunk))
    return out


def mount_entries(conf: Mapping[str, str], facts: NodeFacts) -> list[Entry]:
    """``lxc.mount.entry`` lines: mount points (bound from their host path, parents
    first) and passed-through devices."""
    out: list[Entry] = []
    for mp in keys.mountpoints(conf):
        if mp.key == "rootfs":
            continue
        src = facts.mount_paths.get(mp.key)
        if src is None:
            raise RenderError(f"{mp.key}: no host path for the mount point")
        opts = ["rbind", "create=dir"]
        if mp.readonly:
            opts.append("ro")
        opts += [o for o in str(mp.opts.get("mountoptions", "")).split(";") if o]
        target = fstab_escape(mp.path.lstrip("/"))
        out.append(("lxc.mount.entry", f"{fstab_escape(src)} {target} none {','.join(opts)} 0 0"))
    for key in sorted(
        (k for k in conf if k.startswith("dev") and k[3:].isdigit()), key=lambda k: int(k[3:])
    ):
        dev = keys.parse_value(key, conf[key])
        path = str(dev.get("path", ""))
        info = facts.devices.get(path)
        if not path or info is None:
            raise RenderError(f"{key}: unknown device '{path}'")
        access = "rm" if dev.get("deny-write") else "rwm"
        out.append(
            _cgroup(
                facts,
                "devices.allow",
                "devices.allow",
                f"{info.kind} {info.major}:{info.minor} {access}",
            )
        )
        target = fstab_escape(path.lstrip("/"))
        out.append(("lxc.mount.entry", f"{fstab_escape(path)} {target} none bind,create=file 0 0"))
    return out


def _init(conf: Mapping[str, str]) -> list[Entry]:
    out: list[Entry] = []
    if "entrypoint" in conf:
        out.append(("lxc.init.cmd", str(keys.parse_value("entrypoint", conf["entrypoint"]))))
    if "env" in conf:
        for item in str(keys.parse_value("env", conf["env"])).split("\0"):
            if item:
                out.append(("lxc.environment", item))
    return out


def validate_conf(conf: Mapping[str, str]) -> None:
    """Every key known and every value valid; RenderError naming the first bad one."""
    for key, value in conf.items():
        if keys.key_schema(key) is None:
            raise RenderError(f"{key}: unknown configuration key")
        try:
            keys.parse_value(key, value)
        except ValueError as err:
            raise RenderError(str(err)) from err


def build_lxc_conf(
    conf: Mapping[str, str], facts: NodeFacts, raw: Sequence[Entry] = ()
) -> list[Entry]:
    """The LXC config model of a container: ``(key, value)`` pairs in file order.

    ``conf`` is the main section of ``lxc/<vmid>.conf`` (raw ``lxc.*`` keys in it are
    appended in order); ``raw`` adds further raw pairs (repeated keys such as several
    ``lxc.mount.entry`` lines).
    """
    validate_conf(conf)
    for key, value in raw:
        try:
            keys.check_raw_key(key, value)
        except ValueError as err:
            raise RenderError(str(err)) from err
    unpriv = bool(int(keys.parse_value("unprivileged", conf.get("unprivileged", "0"))))
    rootfs = keys.parse_mountpoint("rootfs", conf["rootfs"]) if "rootfs" in conf else None
    out: list[Entry] = [("lxc.include", path) for path in facts.includes]
    out += [
        ("lxc.arch", str(conf.get("arch", "amd64"))),
        ("lxc.uts.name", str(conf.get("hostname") or f"CT{facts.vmid}")),
        ("lxc.rootfs.path", facts.rootfs_path),
    ]
    if rootfs is not None and rootfs.readonly:
        out.append(("lxc.rootfs.options", "ro"))
    out += [("lxc.autodev", "1")]
    out += _console(conf)
    out += _security(conf, facts, unpriv)
    out += _limits(conf, facts)
    out += net_entries(conf, facts.vmid)
    out += mount_entries(conf, facts)
    out += _init(conf)
    for name, script in sorted(facts.hooks.items()):
        out.append((f"lxc.hook.{name}", script))
    out += [(k, v) for k, v in conf.items() if keys.is_raw_key(k)]
    out += list(raw)
    return out


def render_lxc_conf(conf: Mapping[str, str], facts: NodeFacts, raw: Sequence[Entry] = ()) -> str:
    """The text of the LXC ``config`` file for ``conf`` on a host described by ``facts``."""
    return render_lines(build_lxc_conf(conf, facts, raw))


def config_path(facts: NodeFacts) -> str:
    """Where LXC expects the file: ``<lxc_path>/<vmid>/config``."""
    return f"{facts.lxc_path.rstrip('/')}/{facts.vmid}/config"
