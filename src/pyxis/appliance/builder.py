"""Build a tiny bootable test guest from Debian packages, cached outside the repository.

The guest is Debian's current ``linux-image-amd64`` kernel, a busybox initramfs carrying
the virtio/SCSI/CD/ACPI-button modules the kernel has as modules, and Debian's
``qemu-guest-agent`` with the shared libraries it links against (taken from the
downloaded library packages, dynamic loader included).  Its ``/init`` prints
``PYXIS-GUEST-READY`` on ``ttyS0`` once the agent and the ACPI power-button handler run,
then keeps a root shell on ``ttyS0``.  Four artifacts come out: ``vmlinuz``,
``initrd.img`` (gzip'd newc cpio), ``guest.iso`` (isolinux, also isohybrid) and
``disk.img`` (raw: syslinux MBR plus one FAT16 partition holding syslinux, kernel and
initrd; made with mtools, no mounts).

Outputs live in ``${XDG_CACHE_HOME:-~/.cache}/pyxis/guest-image/<key>/``, where the key
hashes this file and the exact versions of every package that goes into the image or
builds it, so CI reuses one build until Debian ships a new kernel, busybox or agent.
A build happens in a temporary sibling directory renamed into place, so concurrent
builders never see a half-written image.

Usage: ``pyxis appliance build [--out CACHE_ROOT] [--force]`` prints the
artifact paths as JSON.  Needs root only when host tools are missing (it then
``apt-get install``s them, as ``scripts/setup-host`` does).
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

MARKER = "PYXIS-GUEST-READY"
AGENT_PORT = "org.qemu.guest_agent.0"
KERNEL_CMDLINE = "console=ttyS0"
KERNEL_META = "linux-image-amd64"
GUEST_PACKAGES = ("busybox-static", "qemu-guest-agent")
AGENT_BINARY = "usr/sbin/qemu-ga"
MULTIARCH = "lib/x86_64-linux-gnu"
LOADER = "ld-linux-x86-64.so.2"

# Host tools that build the image (their versions are part of the cache key) and the one
# that boots it in tests (not part of the key).  Also listed in scripts/setup-host.
BUILD_PACKAGES = ("cpio", "kmod", "syslinux", "syslinux-common", "isolinux", "mtools",
                  "dosfstools", "xorriso")  # fmt: skip
BOOT_PACKAGES = ("qemu-system-x86",)
SYSLINUX_BIOS = Path("/usr/lib/syslinux/modules/bios")
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
ISOLINUX = Path("/usr/lib/ISOLINUX")

# Kernel modules the guest loads when they are not built in; their modules.dep closure
# comes along.  evdev + button give acpid the power button as /dev/input/event*.
GUEST_MODULES = (
    "virtio_pci", "virtio_blk", "virtio_net", "virtio_scsi", "virtio_console",
    "ata_piix", "ahci", "sd_mod", "sr_mod", "cdrom", "isofs", "ext4", "button", "evdev",
)  # fmt: skip

DISK_PART_START = 2048  # sectors: the partition starts at 1 MiB
SECTOR = 512
MIB = 1024 * 1024

INIT_SCRIPT = r"""#!/bin/sh
# Pyxis test guest init (busybox sh, PID 1).
export PATH=/sbin:/usr/sbin:/bin:/usr/bin
mkdir -p /proc /sys /dev /run /tmp /root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
ln -s /run /var/run 2>/dev/null
hostname pyxis-guest
ifconfig lo 127.0.0.1 up

for m in $(cat /etc/guest-modules); do modprobe "$m" 2>/dev/null; done

# No udev: make the by-name links that virtio-serial ports get on a normal distribution.
# Ports appear shortly after the driver binds, so wait a little when the device exists.
mkdir -p /dev/virtio-ports
if grep -qx 0x0003 /sys/bus/virtio/devices/*/device 2>/dev/null; then
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
        [ -n "$(ls /sys/class/virtio-ports 2>/dev/null)" ] && break
        sleep 0.1
    done
fi
for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] && ln -sf "/dev/${p##*/}" "/dev/virtio-ports/$(cat "$p/name")"
done

acpid -c /etc/acpi -l /run/acpid.log

if [ -e /sys/class/net/eth0 ]; then
    # In the background from the start: a guest without a DHCP server must not wait.
    udhcpc -f -i eth0 -s /etc/udhcpc.script -t 5 -T 1 -A 10 -p /run/udhcpc.pid \
        >/dev/null 2>&1 &
fi

AGENT=/dev/virtio-ports/@AGENT_PORT@
if [ -e "$AGENT" ]; then
    qemu-ga -d -m virtio-serial -p "$AGENT" -f /run/qemu-ga.pid -t /run
fi

TTY=/dev/ttyS0
[ -c "$TTY" ] || TTY=/dev/console
echo "PYXIS-CMDLINE: $(cat /proc/cmdline)" >"$TTY"
echo "@MARKER@" >"$TTY"

while true; do
    setsid -c sh -l <"$TTY" >"$TTY" 2>&1
    sleep 1
done
"""

# busybox acpid maps the power button (evdev KEY_POWER) to /etc/acpi/PWRF/00000080.
ACPI_POWER_SCRIPT = """#!/bin/sh
echo 'pyxis-guest: ACPI power button, powering off' >/dev/console
sync
poweroff -f
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# Minimal udhcpc hook: configure the address, default route and resolver.
case "$1" in
    deconfig) ifconfig "$interface" 0.0.0.0 up ;;
    bound|renew)
        ifconfig "$interface" "$ip" ${subnet:+netmask "$subnet"} up
        for r in $router; do route add default gw "$r" dev "$interface"; break; done
        : >/etc/resolv.conf
        for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
        ;;
esac
exit 0
"""

BOOT_LABEL = "\n".join(
    [
        "serial 0 115200",
        "default pyxis",
        "prompt 0",
        "timeout 0",
        "label pyxis",
        "  kernel /vmlinuz",
        f"  append initrd=/initrd.img {KERNEL_CMDLINE}",
        "",
    ]
)


class BuildError(Exception):
    """The guest image cannot be built on this host (missing tool, package, module)."""


@dataclass(frozen=True)
class GuestImage:
    """Paths of one built (or reused) guest image and what it was built from."""

    directory: Path
    kernel: Path
    initrd: Path
    iso: Path
    disk: Path
    key: str
    versions: dict[str, str] = field(default_factory=dict)
    reused: bool = False

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        return {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}


def run(argv: Sequence[str | Path], cwd: Path | None = None) -> str:
    """Run one command, returning stdout; a failure raises ``BuildError`` with stderr."""
    # depmod, mkfs.vfat live in sbin, which a non-root user's PATH may lack.
    path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
    exe = shutil.which(str(argv[0]), path=path) or str(argv[0])
    try:
        proc = subprocess.run(
            [exe, *map(str, argv[1:])], cwd=cwd, capture_output=True, text=True, check=False
        )
    except FileNotFoundError as err:
        raise BuildError(f"{argv[0]} not found: install it (scripts/setup-host)") from err
    if proc.returncode != 0:
        raise BuildError(f"{' '.join(map(str, argv))} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout


def default_cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pyxis" / "guest-image"


# -- host preparation and package resolution ---------------------------------------------


def installed_versions(packages: Iterable[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for pkg in packages:
        proc = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\t${Version}", pkg],
            capture_output=True,
            text=True,
            check=False,
        )
        status, _, version = proc.stdout.partition("\t")
        out[pkg] = version if status.endswith("installed") and version else None
    return out


def ensure_host_packages(packages: Sequence[str] = BUILD_PACKAGES) -> None:
    """Install missing host packages with apt-get (root only), like scripts/setup-host."""
    missing = [p for p, v in installed_versions(packages).items() if v is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise BuildError(f"missing host packages {missing}: run scripts/setup-host as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    ensure_apt_lists()
    argv = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BuildError(f"apt-get install {missing} failed: {proc.stderr.strip()[-2000:]}")


def candidate_versions(packages: Iterable[str]) -> dict[str, str | None]:
    """``apt-cache policy`` candidates, by package (None when apt knows no candidate)."""
    names = sorted(set(packages))
    out: dict[str, str | None] = dict.fromkeys(names)
    current: str | None = None
    for line in run(["apt-cache", "policy", *names]).splitlines():
        if line and not line.startswith(" ") and line.endswith(":"):
            current = line[:-1].split(":")[0]
        elif current and line.strip().startswith("Candidate:"):
            version = line.split(":", 1)[1].strip()
            out[current] = None if version == "(none)" else version
    return out


def ensure_apt_lists() -> None:
    """Run ``apt-get update`` once when apt has no package lists at all."""
    if any(Path("/var/lib/apt/lists").glob("*_Packages*")):
        return
    if os.geteuid() != 0:
        raise BuildError("apt has no package lists: run apt-get update as root")
    run(["apt-get", "update", "-qq"])


def dependency_graph(roots: Sequence[str]) -> dict[str, list[str]]:
    """Hard dependencies (Depends/PreDepends, first alternative) of ``roots``, recursively.

    One ``apt-cache`` call: every call re-reads the package lists (a second or two where
    apt's binary cache is disabled, as in container images).
    """
    argv = ["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests",
            "--no-conflicts", "--no-breaks", "--no-replaces", "--no-enhances", *roots]  # fmt: skip
    graph: dict[str, list[str]] = {}
    current: str | None = None
    alternative = False
    for line in run(argv).splitlines():
        if not line.startswith(" "):
            current = line.strip()
            graph.setdefault(current, [])
            alternative = False
            continue
        m = re.match(r"\s(\|?)\s*(?:Pre)?Depends: (\S+)", line)
        if m and current is not None:
            if not alternative and not m.group(2).startswith("<"):
                graph[current].append(m.group(2).split(":")[0])
            alternative = m.group(1) == "|"
    return graph


def library_closure(graph: dict[str, list[str]], root: str) -> list[str]:
    """``root`` plus its transitive ``lib*`` dependencies (the shared-library packages)."""
    seen = {root}
    frontier = [root]
    while frontier:
        pkg = frontier.pop()
        for dep in graph.get(pkg, []):
            if dep.startswith("lib") and dep not in seen:
                seen.add(dep)
                frontier.append(dep)
    return sorted(seen)


def kernel_package(graph: dict[str, list[str]]) -> str:
    """The versioned kernel package that ``linux-image-amd64`` currently depends on."""
    for dep in graph.get(KERNEL_META, []):
        if dep.startswith("linux-image-"):
            return dep
    raise BuildError(f"apt-cache depends {KERNEL_META} names no linux-image package")


def resolve_inputs() -> dict[str, str]:
    """Exact versions of every package in the image (guest) and every build tool (host)."""
    ensure_apt_lists()
    graph = dependency_graph([KERNEL_META, *GUEST_PACKAGES])
    busybox, agent = GUEST_PACKAGES
    guest = [kernel_package(graph), busybox, *library_closure(graph, agent)]
    versions: dict[str, str] = {}
    for pkg, ver in candidate_versions(guest).items():
        if ver is None:
            raise BuildError(f"apt has no candidate for {pkg}")
        versions[pkg] = ver
    for pkg, ver in installed_versions(BUILD_PACKAGES).items():
        versions[f"host:{pkg}"] = ver or "missing"
    return versions


def cache_key(versions: dict[str, str]) -> str:
    h = hashlib.sha256(Path(__file__).read_bytes())
    h.update(json.dumps(versions, sort_keys=True).encode())
    return h.hexdigest()[:16]


# -- building ------------------------------------------------------------------------------


def download(versions: dict[str, str], dest: Path) -> dict[str, Path]:
    """``apt-get download pkg=version`` for exactly the guest packages; name -> .deb."""
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {p: v for p, v in versions.items() if not p.startswith("host:")}
    argv = ["apt-get", "download", "-qq"]
    if os.geteuid() == 0:
        argv += ["-o", "APT::Sandbox::User=root"]  # the temp dir is not _apt's to read
    run([*argv, *(f"{p}={v}" for p, v in sorted(wanted.items()))], cwd=dest)
    debs: dict[str, Path] = {}
    for deb in dest.glob("*.deb"):
        debs[deb.name.split("_", 1)[0]] = deb
    if missing := sorted(set(wanted) - set(debs)):
        raise BuildError(f"apt-get download did not fetch {missing}")
    return debs


def module_name(path: str) -> str:
    base = path.rsplit("/", 1)[-1]
    return re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base).replace("-", "_")


def select_modules(moddir: Path, wanted: Sequence[str]) -> tuple[list[str], list[str]]:
    """(module file paths to ship, wanted names that are built in), via modules.dep."""
    builtin = {module_name(x) for x in (moddir / "modules.builtin").read_text().split()}
    deps: dict[str, tuple[str, list[str]]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        path, _, rest = line.partition(":")
        deps[module_name(path)] = (path, rest.split())
    files: set[str] = set()
    builtins: list[str] = []
    for name in wanted:
        key = name.replace("-", "_")
        if key in builtin:
            builtins.append(name)
            continue
        if key not in deps:
            raise BuildError(f"kernel module {name} is neither built in nor in modules.dep")
        path, needs = deps[key]
        files.add(path)
        files.update(needs)
    return sorted(files), builtins


def add_kernel(kroot: Path, root: Path) -> tuple[Path, list[str]]:
    """Ship the wanted modules into ``root``; return the vmlinuz and the modules to load."""
    kernels = sorted((kroot / "boot").glob("vmlinuz-*"))
    if len(kernels) != 1:
        raise BuildError(f"expected one boot/vmlinuz-* in the kernel package, got {kernels}")
    kver = kernels[0].name.removeprefix("vmlinuz-")
    src = kroot / "lib" / "modules" / kver
    run(["depmod", "-b", kroot, kver])  # the package ships no modules.dep (postinst makes it)
    files, builtins = select_modules(src, GUEST_MODULES)
    dst = root / "lib" / "modules" / kver
    for rel in files:
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src / rel, dst / rel)
    for name in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    run(["depmod", "-b", root, kver])
    load = [n for n in GUEST_MODULES if n not in builtins]
    return kernels[0], load


def add_busybox(bbroot: Path, root: Path) -> None:
    busybox = root / "bin" / "busybox"
    busybox.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bbroot / "bin" / "busybox", busybox)
    for applet in run([busybox, "--list-full"]).split():
        link = root / applet
        if link == busybox or link.exists():
            continue
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to("/bin/busybox")


def add_agent(sysroot: Path, root: Path) -> None:
    """Copy qemu-ga and every library it needs (resolved inside ``sysroot``) into ``root``."""
    binary = sysroot / AGENT_BINARY
    loader = sysroot / MULTIARCH / LOADER
    if not binary.exists() or not loader.exists():
        raise BuildError("qemu-ga or the dynamic loader is missing from the packages")
    libdirs = [sysroot / MULTIARCH, sysroot / "usr" / MULTIARCH]
    listing = run([loader, "--library-path", ":".join(map(str, libdirs)), "--list", binary])
    libs: list[Path] = []
    for line in listing.splitlines():
        name, arrow, rest = line.strip().partition(" => ")
        if not arrow:
            continue
        path = Path(rest.split(" (", 1)[0])
        if "not found" in rest or not path.resolve().is_relative_to(sysroot.resolve()):
            raise BuildError(f"qemu-ga needs {name}, not in the downloaded packages: {rest}")
        libs.append(path)
    (root / "usr" / "sbin").mkdir(parents=True, exist_ok=True)
    shutil.copy2(binary, root / AGENT_BINARY)
    target = root / MULTIARCH
    target.mkdir(parents=True, exist_ok=True)
    for lib in [*libs, loader]:
        shutil.copy(lib, target / lib.name)  # follows the soname symlink to the real file
    (root / "lib64").mkdir(exist_ok=True)
    (root / "lib64" / LOADER).symlink_to(f"/{MULTIARCH}/{LOADER}")


def write_file(path: Path, text: str, mode: int = 0o644) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def make_initrd(root: Path, out: Path) -> None:
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    proc = subprocess.run(
        ["cpio", "-o", "-H", "newc", "-R", "0:0", "--reproducible", "--quiet"],
        cwd=root,
        input=("\n".join([".", *names]) + "\n").encode(),
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BuildError(f"cpio failed: {proc.stderr.decode(errors='replace')}")
    with gzip.GzipFile(out, "wb", compresslevel=9, mtime=0) as gz:
        gz.write(proc.stdout)


def make_iso(kernel: Path, initrd: Path, work: Path, out: Path) -> None:
    tree = work / "iso"
    (tree / "isolinux").mkdir(parents=True)
    shutil.copy2(ISOLINUX / "isolinux.bin", tree / "isolinux" / "isolinux.bin")
    shutil.copy2(SYSLINUX_BIOS / "ldlinux.c32", tree / "isolinux" / "ldlinux.c32")
    write_file(tree / "isolinux" / "isolinux.cfg", BOOT_LABEL)
    shutil.copy2(kernel, tree / "vmlinuz")
    shutil.copy2(initrd, tree / "initrd.img")
    run(["xorriso", "-as", "mkisofs", "-quiet", "-o", out, "-R", "-J", "-V", "PYXIS_GUEST",
         "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
         "-boot-load-size", "4", "-boot-info-table",
         "-isohybrid-mbr", ISOLINUX / "isohdpfx.bin", tree])  # fmt: skip


def mbr_partition_table(start: int, sectors: int, ptype: int) -> bytes:
    """One bootable LBA partition entry plus three empty ones and the 0x55AA signature."""
    chs_max = b"\xfe\xff\xff"  # "use LBA" CHS placeholder
    entry = b"\x80" + chs_max + bytes([ptype]) + chs_max + struct.pack("<II", start, sectors)
    return entry + bytes(48) + b"\x55\xaa"


def make_disk(kernel: Path, initrd: Path, work: Path, out: Path) -> None:
    """Raw disk: syslinux MBR, one FAT16 partition at 1 MiB made and filled by mtools."""
    payload = kernel.stat().st_size + initrd.stat().st_size
    part_bytes = max(32 * MIB, (payload // MIB + 9) * MIB)
    part = work / "part.img"
    with part.open("wb") as f:
        f.truncate(part_bytes)
    run(["mkfs.vfat", "-F", "16", "-n", "PYXISBOOT", "-i", "50595849",
         "-h", str(DISK_PART_START), part])  # fmt: skip
    run(["syslinux", "--install", part])
    write_file(work / "syslinux.cfg", BOOT_LABEL)
    files = {"vmlinuz": kernel, "initrd.img": initrd, "syslinux.cfg": work / "syslinux.cfg"}
    for name, src in files.items():
        run(["mcopy", "-o", "-i", part, src, f"::/{name}"])
    mbr = SYSLINUX_MBR.read_bytes()[:440]
    table = mbr_partition_table(DISK_PART_START, part_bytes // SECTOR, 0x0E)
    header = mbr.ljust(440, b"\0") + bytes(6) + table
    with out.open("wb") as f, part.open("rb") as p:
        f.write(header)
        f.seek(DISK_PART_START * SECTOR)
        while chunk := p.read(MIB):
            if chunk.count(0) == len(chunk):
                f.seek(len(chunk), os.SEEK_CUR)  # keep the empty space sparse
            else:
                f.write(chunk)
        f.truncate(f.tell())


def build_into(versions: dict[str, str], work: Path, out: Path) -> None:
    """Download, assemble and write the four artifacts into ``out``."""
    debs = download(versions, work / "debs")
    kroot, bbroot, sysroot, root = (work / n for n in ("kernel", "busybox", "sysroot", "root"))
    kpkg = next(p for p in debs if p.startswith("linux-image-"))
    run(["dpkg-deb", "-x", debs[kpkg], kroot])
    run(["dpkg-deb", "-x", debs[GUEST_PACKAGES[0]], bbroot])
    for pkg, deb in debs.items():
        if pkg != kpkg and pkg != GUEST_PACKAGES[0]:
            run(["dpkg-deb", "-x", deb, sysroot])
    root.mkdir()
    for d in ("proc", "sys", "dev", "run", "tmp", "root", "var", "etc"):
        (root / d).mkdir(exist_ok=True)
    vmlinuz, load = add_kernel(kroot, root)
    add_busybox(bbroot, root)
    add_agent(sysroot, root)
    init = INIT_SCRIPT.replace("@MARKER@", MARKER).replace("@AGENT_PORT@", AGENT_PORT)
    write_file(root / "init", init, 0o755)
    write_file(root / "etc" / "guest-modules", "\n".join(load) + "\n")
    write_file(root / "etc" / "acpi" / "PWRF" / "00000080", ACPI_POWER_SCRIPT, 0o755)
    write_file(root / "etc" / "udhcpc.script", UDHCPC_SCRIPT, 0o755)
    write_file(root / "etc" / "passwd", "root:x:0:0:root:/root:/bin/sh\n")
    write_file(root / "etc" / "group", "root:x:0:\n")
    write_file(root / "etc" / "profile", "export PS1='pyxis-guest# '\n")
    shutil.copy2(vmlinuz, out / "vmlinuz")
    make_initrd(root, out / "initrd.img")
    make_iso(out / "vmlinuz", out / "initrd.img", work, out / "guest.iso")
    make_disk(out / "vmlinuz", out / "initrd.img", work, out / "disk.img")


def image_at(directory: Path, key: str, versions: dict[str, str], reused: bool) -> GuestImage:
    return GuestImage(
        directory=directory,
        kernel=directory / "vmlinuz",
        initrd=directory / "initrd.img",
        iso=directory / "guest.iso",
        disk=directory / "disk.img",
        key=key,
        versions=versions,
        reused=reused,
    )


def build(cache_root: Path | None = None, *, force: bool = False) -> GuestImage:
    """Return the cached guest image for the current inputs, building it if needed."""
    ensure_host_packages(BUILD_PACKAGES)
    versions = resolve_inputs()
    key = cache_key(versions)
    root = cache_root or default_cache_root()
    final = root / key
    if (final / "manifest.json").exists() and not force:
        return image_at(final, key, versions, reused=True)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".build-{key}-", dir=root))
    try:
        out = staging / "out"
        out.mkdir()
        build_into(versions, staging / "work", out)
        manifest = {"key": key, "versions": versions, "marker": MARKER,
                    "cmdline": KERNEL_CMDLINE}  # fmt: skip
        write_file(out / "manifest.json", json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if force and final.exists():
            shutil.rmtree(final)
        try:
            out.rename(final)
        except OSError:
            # Another builder renamed its complete copy into place first: use that one.
            if not (final / "manifest.json").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return image_at(final, key, versions, reused=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="cache root (default: %(default)s)",
                        default=default_cache_root())  # fmt: skip
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    args = parser.parse_args(argv)
    try:
        image = build(args.out, force=args.force)
    except BuildError as err:
        print(f"guest_image: {err}", file=sys.stderr)
        return 1
    json.dump(image.as_json(), sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
