"""Raw ``lxc.*`` keys a container config may carry, passed through to LXC as written.

Only ``root@pam`` may set them (the API checks who asks; ``is_root_only`` answers which
changes need it).  A key is accepted when it is on the allow-list below, exactly or by
prefix; keys that Pyxis generates itself are refused with a pointer to the config key
that controls them, and everything else is refused as unknown.  Values are single
lines: a line break would let a value add arbitrary LXC settings.
"""

from __future__ import annotations

RAW_EXACT = frozenset(
    {
        "lxc.apparmor.profile",
        "lxc.apparmor.allow_incomplete",
        "lxc.apparmor.allow_nesting",
        "lxc.apparmor.raw",
        "lxc.selinux.context",
        "lxc.selinux.context.keyring",
        "lxc.mount.entry",
        "lxc.mount.auto",
        "lxc.mount.fstab",
        "lxc.rootfs.options",
        "lxc.init.cmd",
        "lxc.init.uid",
        "lxc.init.gid",
        "lxc.init.cwd",
        "lxc.environment",
        "lxc.idmap",
        "lxc.cap.drop",
        "lxc.cap.keep",
        "lxc.seccomp.profile",
        "lxc.seccomp.allow_nesting",
        "lxc.seccomp.notify.proxy",
        "lxc.seccomp.notify.cookie",
        "lxc.signal.halt",
        "lxc.signal.reboot",
        "lxc.signal.stop",
        "lxc.start.auto",
        "lxc.start.delay",
        "lxc.start.order",
        "lxc.group",
        "lxc.pty.max",
        "lxc.tty.max",
        "lxc.tty.dir",
        "lxc.console.logfile",
        "lxc.console.path",
        "lxc.console.rotate",
        "lxc.console.size",
        "lxc.autodev",
        "lxc.autodev.tmpfs.size",
        "lxc.kmsg",
        "lxc.no_new_privs",
        "lxc.ephemeral",
        "lxc.log.level",
        "lxc.log.file",
        "lxc.log.syslog",
        "lxc.monitor.unshare",
        "lxc.monitor.signal.pdeath",
        "lxc.namespace.clone",
        "lxc.namespace.keep",
        "lxc.time.offset.boot",
        "lxc.time.offset.monotonic",
        "lxc.hook.pre-start",
        "lxc.hook.pre-mount",
        "lxc.hook.mount",
        "lxc.hook.autodev",
        "lxc.hook.start",
        "lxc.hook.stop",
        "lxc.hook.post-stop",
        "lxc.hook.start-host",
        "lxc.hook.version",
        "lxc.cgroup.relative",
        "lxc.cgroup.dir",
    }
)
RAW_PREFIXES = (
    "lxc.cgroup.",
    "lxc.cgroup2.",
    "lxc.prlimit.",
    "lxc.sysctl.",
    "lxc.proc.",
    "lxc.namespace.share.",
    "lxc.environment.",
)
# Generated from the container's own keys: setting them raw would fight the generator.
RAW_GENERATED = {
    "lxc.uts.name": "use the 'hostname' option",
    "lxc.utsname": "use the 'hostname' option",
    "lxc.arch": "use the 'arch' option",
    "lxc.rootfs.path": "it is generated from 'rootfs'",
    "lxc.rootfs": "it is generated from 'rootfs'",
    "lxc.net": "use the 'net[n]' options",
    "lxc.network": "use the 'net[n]' options",
    "lxc.seccomp": "not supported by LXC 5, use 'lxc.seccomp.profile'",
    "lxc.include": "including other files is not allowed",
}


def check_raw_key(key: str, value: str) -> str:
    """Return ``value`` if ``key: value`` may be stored; ValueError saying why not."""
    if "\n" in value or "\r" in value or "\0" in value:
        raise ValueError(f"{key}: value may not contain line breaks or NUL")
    for name, why in RAW_GENERATED.items():
        if key == name or key.startswith(name + "."):
            raise ValueError(f"{key}: not allowed, {why}")
    if key in RAW_EXACT or key.startswith(RAW_PREFIXES):
        return value
    raise ValueError(f"{key}: unknown or unsupported raw LXC key")


def is_raw_key(key: str) -> bool:
    """True for any ``lxc.*`` key (allowed or not)."""
    return key.startswith("lxc.")
