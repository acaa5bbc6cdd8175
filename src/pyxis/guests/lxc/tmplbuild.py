"""Build container template archives locally from Debian packages.

``busybox``: a minimal root file system around Debian's ``busybox-static`` (one binary
plus relative symlinks for its applets), busybox ``init`` with an ``inittab`` that runs
``/etc/init.d/rcS`` (host name, then the network from ``/etc/pyxis/net.sh`` or
``ifup -a``) and keeps gettys on the console and ``tty1``; ``root`` has a locked
password until the container is created with one.  ``debian-12-standard``:
``debootstrap --variant=minbase`` of bookworm from the host's configured Debian mirror
plus systemd, ifupdown and openssh-server (minutes).  Both are packed with GNU tar +
zstd, owners forced to 0, sorted and with fixed times so that equal inputs give equal
archives.  External commands run through ``pyxis.util.run``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from pyxis.errors import PyxisError
from pyxis.util.run import run

Log = Callable[[str], None]
BUSYBOX_PACKAGE = "busybox-static"
DEBIAN_SUITE = "bookworm"
DEBIAN_INCLUDE = (
    "systemd-sysv",
    "ifupdown",
    "isc-dhcp-client",
    "openssh-server",
    "iproute2",
    "iputils-ping",
    "ca-certificates",
    "locales",
)
SOURCES = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))

INITTAB = """\
# busybox init, written by the Pyxis template builder
::sysinit:/etc/init.d/rcS
console::respawn:/sbin/getty -L 38400 console
tty1::respawn:/sbin/getty 38400 tty1
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/umount -a -r
"""
RCS = """\
#!/bin/sh
# Start-up for the Pyxis busybox template: host name and network, nothing else.
mkdir -p /run /tmp /var/log /run/network
[ -s /etc/hostname ] && hostname -F /etc/hostname
if [ -x /etc/pyxis/net.sh ]; then
    /etc/pyxis/net.sh
else
    ifup -a
fi
"""
FILES: dict[str, tuple[str, int]] = {
    "etc/inittab": (INITTAB, 0o644),
    "etc/init.d/rcS": (RCS, 0o755),
    "etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
        0o644,
    ),
    "etc/group": ("root:x:0:\nnogroup:x:65534:\n", 0o644),
    "etc/shadow": ("root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", 0o600),
    "etc/hostname": ("busybox\n", 0o644),
    "etc/hosts": ("127.0.0.1 localhost\n::1 localhost\n", 0o644),
    "etc/network/interfaces": ("auto lo\niface lo inet loopback\n", 0o644),
    "etc/shells": ("/bin/sh\n/bin/ash\n", 0o644),
    "etc/pyxis-busybox": ("busybox template built by Pyxis\n", 0o644),
}
DIRS = {
    "dev": 0o755,
    "proc": 0o555,
    "sys": 0o555,
    "tmp": 0o1777,
    "root": 0o700,
    "run": 0o755,
    "mnt": 0o755,
    "home": 0o755,
    "var/log": 0o755,
    "etc/pyxis": 0o755,
    "etc/network/if-up.d": 0o755,
    "etc/network/if-down.d": 0o755,
    "etc/network/if-pre-up.d": 0o755,
    "etc/network/if-post-down.d": 0o755,
}


class BuildError(PyxisError):
    """A template could not be built."""


async def installed_version(package: str) -> str | None:
    """The installed version of a Debian package, None if it is not installed."""
    res = await run(["dpkg-query", "-W", "-f=${Status}\t${Version}", package], check=False)
    status, _, version = res.stdout.partition("\t")
    return version if res.returncode == 0 and status.endswith("installed") and version else None


async def candidate_version(package: str) -> str | None:
    """apt's candidate version of ``package`` (None when apt knows none)."""
    res = await run(["apt-cache", "policy", package], check=False)
    m = re.search(r"Candidate:\s*(\S+)", res.stdout)
    return m.group(1) if m and m.group(1) != "(none)" else None


async def _busybox_binary(work: Path, log: Log) -> Path:
    """Debian's static busybox: downloaded and unpacked; the host's installed copy of
    the same package when the download is not possible."""
    debs = work / "debs"
    debs.mkdir()
    argv = ["apt-get", "download", "-qq"]
    if os.geteuid() == 0:
        argv += ["-o", "APT::Sandbox::User=root"]
    res = await run(
        ["sh", "-c", 'cd "$1" && shift && exec "$@"', "sh", str(debs), *argv, BUSYBOX_PACKAGE],
        check=False,
    )
    found = sorted(debs.glob(f"{BUSYBOX_PACKAGE}_*.deb"))
    if found:
        log(f"unpacking {found[0].name}")
        await run(["dpkg-deb", "-x", str(found[0]), str(work / "pkg")])
        binary = work / "pkg" / "bin" / "busybox"
        if binary.is_file():
            return binary
    if await installed_version(BUSYBOX_PACKAGE):
        log(f"apt-get download failed ({res.stderr.strip()[:200]}); using the installed package")
        return Path("/bin/busybox")
    raise BuildError(f"cannot get {BUSYBOX_PACKAGE}: {res.stderr.strip()[:500]}")


def _relative(link: str, target: str) -> str:
    return os.path.relpath(target, os.path.dirname(link))


async def populate_busybox(root: Path, log: Log) -> None:
    """Lay out the busybox root file system in the empty directory ``root``."""
    work = root.parent / "bb-work"
    work.mkdir()
    try:
        binary = await _busybox_binary(work, log)
        dest = root / "bin" / "busybox"
        dest.parent.mkdir(parents=True)
        shutil.copy2(binary, dest)
        dest.chmod(0o755)
        applets = (await run([str(dest), "--list-full"])).stdout.split()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for applet in applets:
        if not re.fullmatch(r"[a-z0-9_./\[-]+", applet) or ".." in applet.split("/"):
            continue
        link = root / applet
        if link.exists() or link.is_symlink():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(_relative(f"/{applet}", "/bin/busybox"))
    for rel, mode in DIRS.items():
        (root / rel).mkdir(parents=True, exist_ok=True)
        (root / rel).chmod(mode)
    (root / "var" / "run").symlink_to("../run")
    for rel, (text, mode) in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
    log(f"busybox root file system with {len(applets)} applets")


def debian_mirror() -> str:
    """The host's configured Debian mirror (deb822 or one-line sources)."""
    for src in SOURCES:
        if not src.is_file():
            continue
        for m in re.finditer(
            r"^\s*(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", src.read_text(), re.MULTILINE
        ):
            uri = m.group(1)
            if uri.rstrip("/").endswith("/debian"):
                return uri
    raise BuildError("no Debian mirror configured in the apt sources")


async def populate_debian(root: Path, log: Log) -> None:
    """``debootstrap`` Debian 12 into the empty directory ``root`` (minutes)."""
    mirror = debian_mirror()
    log(f"debootstrap {DEBIAN_SUITE} from {mirror}")
    await run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={','.join(DEBIAN_INCLUDE)}",
            DEBIAN_SUITE,
            str(root),
            mirror,
        ],
        timeout=3600,
    )
    # per-container state is created on first boot, not shipped in the template
    for rel in ("etc/machine-id", "var/lib/dbus/machine-id"):
        path = root / rel
        if path.is_file() and not path.is_symlink():
            path.write_text("")
    for key in (root / "etc" / "ssh").glob("ssh_host_*"):
        key.unlink()
    shutil.rmtree(root / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    for lists in (root / "var" / "lib" / "apt" / "lists").glob("*_Packages"):
        lists.unlink()
    (root / "etc" / "hostname").write_text("debian\n")


async def pack(root: Path, archive: Path, *, normalise: bool) -> None:
    """Write ``root`` as a zstd tar archive, members sorted; ``normalise`` also makes
    every member root-owned with a fixed time (for trees built without real owners)."""
    fixed = ["--owner=0", "--group=0", "--mtime=@0"] if normalise else []
    await run(
        [
            "tar",
            "--zstd",
            "-c",
            "-f",
            str(archive),
            "-C",
            str(root),
            "--sort=name",
            "--numeric-owner",
            *fixed,
            "--xattrs",
            ".",
        ],
        timeout=3600,
    )
