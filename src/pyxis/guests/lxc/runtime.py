"""Containers run by the real LXC tools: paths, start/stop/freeze, state, attach.

Every container of a node lives in one LXC *lxcpath* (``-P``): ``<lxcpath>/<vmid>/``
holds the rendered ``config``, the ``rootfs`` mount point, staged mount points
(``mnt/<key>``) and ``console.log``/``lxc.log``.  The lxcpath is machine-global
(``/run/pyxis-lxc/<node>``, with a hash of ``--root`` appended for roots other than
``/``) rather than below the daemon's private run dir: LXC demands that the container's
mapped root user can traverse the lxcpath and the rootfs path, which the 0700 run dir
(and a test's temporary root) forbids.  ``<run_dir>/lxc`` is a symlink to it so that
the CLIs (``pct enter``/``exec``) find it from ``PYXIS_ROOT`` alone.

``lxc-start -d`` daemonizes LXC's monitor, so containers outlive ``pyxisd``; after a
restart ``lxc-info`` with the same lxcpath finds them again.  Commands go through
``pyxis.util.run`` so that tests can swap the runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from pyxis.errors import CommandError, PyxisError
from pyxis.guests.cgroups import DEFAULT_BASE
from pyxis.paths import Paths
from pyxis.util.run import Result, run

LXC_BASE = Path("/run/pyxis-lxc")
START_TIMEOUT = 60.0
ERROR_LINES = 6


def lxcpath_for(paths: Paths, node: str) -> Path:
    """The machine-global lxcpath of the node ``node`` whose root is ``paths.root``."""
    if paths.root == Path("/"):
        return LXC_BASE / node
    token = hashlib.sha1(str(paths.root).encode(), usedforsecurity=False).hexdigest()[:8]
    return LXC_BASE / f"{node}-{token}"


def lxcpath_from_root(paths: Paths) -> Path:
    """The lxcpath a daemon with this root published (``<run_dir>/lxc`` symlink)."""
    link = paths.run_dir / "lxc"
    if not link.is_symlink():
        raise PyxisError(f"no container runtime directory at {link} (is pyxisd running?)")
    return Path(os.readlink(link))


@dataclass(frozen=True)
class CtPaths:
    """The runtime files of one container."""

    lxcpath: Path
    vmid: int

    @property
    def dir(self) -> Path:
        return self.lxcpath / str(self.vmid)

    @property
    def config(self) -> Path:
        return self.dir / "config"

    @property
    def rootfs(self) -> Path:
        return self.dir / "rootfs"

    @property
    def log(self) -> Path:
        return self.dir / "lxc.log"

    def staged(self, key: str) -> Path:
        """Where mount point ``key``'s volume is mounted before LXC binds it inside."""
        return self.dir / "mnt" / key

    def base(self) -> list[str]:
        return ["-n", str(self.vmid), "-P", str(self.lxcpath)]

    def ensure(self) -> None:
        # traversable by the mapped root of unprivileged containers, writable by root
        for d in (self.lxcpath.parent, self.lxcpath, self.dir):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)

    def cleanup(self) -> None:
        """Remove the container's runtime directory (nothing may be mounted there)."""
        if self.dir.is_dir():
            shutil.rmtree(self.dir, ignore_errors=True)


def publish(paths: Paths, lxcpath: Path) -> None:
    """Point ``<run_dir>/lxc`` at ``lxcpath`` (for the CLIs)."""
    lxcpath.mkdir(parents=True, exist_ok=True)
    lxcpath.parent.chmod(0o755)
    lxcpath.chmod(0o755)
    link = paths.run_dir / "lxc"
    if link.is_symlink() and os.readlink(link) == str(lxcpath):
        return
    with contextlib.suppress(FileNotFoundError):
        link.unlink()
    link.symlink_to(lxcpath)


# --- state -------------------------------------------------------------------------


@dataclass(frozen=True)
class Info:
    state: str  # RUNNING, STOPPED, FROZEN, STARTING, STOPPING, ...
    pid: int | None


async def info(ct: CtPaths) -> Info:
    """The container's LXC state and init pid (STOPPED when LXC does not know it)."""
    if not ct.config.is_file():
        return Info("STOPPED", None)
    res = await run(["lxc-info", *ct.base(), "-s", "-p", "-H"], check=False, timeout=10)
    lines = [ln.strip() for ln in res.stdout.splitlines() if ln.strip()]
    if res.returncode != 0 or not lines:
        return Info("STOPPED", None)
    state = lines[0].split()[-1]
    pid = int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None
    return Info(state, pid)


def cgroup_dir(name: str, base: Path = DEFAULT_BASE) -> Path:
    """The container's cgroup (``lxc.cgroup.dir.container``) in the hierarchy read for
    state: the unified tree on v2, the ``freezer`` controller on v1."""
    if (base / "cgroup.controllers").is_file():
        return base / "pyxis" / name
    return base / "freezer" / "pyxis" / name


def fast_info(name: str, base: Path = DEFAULT_BASE) -> Info:
    """State and init pid from the container's cgroup, without asking LXC.

    Cheap enough for listings and the status collector.  The init process is the one
    whose parent (LXC's monitor) is outside the cgroup; a frozen cgroup reads FROZEN.
    """
    top = cgroup_dir(name, base)
    pids: set[int] = set()
    try:
        for dirpath, _dirs, files in os.walk(top):
            if "cgroup.procs" in files:
                text = Path(dirpath, "cgroup.procs").read_text()
                pids.update(int(x) for x in text.split())
    except OSError:
        return Info("STOPPED", None)
    init = None
    for pid in sorted(pids):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid not in pids:
            init = pid
            break
    if init is None:
        return Info("STOPPED", None)
    state = "RUNNING"
    for fname in ("freezer.state", "cgroup.freeze"):
        with contextlib.suppress(OSError):
            if Path(top, fname).read_text().strip() in ("FROZEN", "1"):
                state = "FROZEN"
    return Info(state, init)


def _tail_errors(logfile: Path) -> str:
    try:
        lines = logfile.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    errs = [ln.split(" - ", 1)[-1] for ln in lines if " ERROR " in ln]
    return "; ".join(errs[-ERROR_LINES:])


async def start(ct: CtPaths, timeout: float = START_TIMEOUT) -> None:
    """``lxc-start -d``: returns once LXC reports the container RUNNING."""
    with contextlib.suppress(FileNotFoundError):
        ct.log.unlink()
    argv = ["lxc-start", *ct.base(), "-d", "-o", str(ct.log), "-l", "ERROR"]
    res = await run(argv, check=False, timeout=timeout)
    if res.returncode != 0:
        detail = _tail_errors(ct.log) or res.stderr.strip()
        raise PyxisError(f"startup for container '{ct.vmid}' failed: {detail}")


async def stop(ct: CtPaths, timeout: float | None = None, *, kill_after: bool = True) -> bool:
    """Stop the container: at once (``timeout`` None: ``lxc-stop -k``) or by sending the
    halt signal and waiting ``timeout`` seconds (then killing it when ``kill_after``).
    Returns False when a clean shutdown timed out and nothing was killed."""
    if timeout is None:
        argv = ["lxc-stop", *ct.base(), "-k"]
    else:
        argv = ["lxc-stop", *ct.base(), "-t", str(int(timeout))]
        if not kill_after:
            argv.append("--nokill")
    res = await run(argv, check=False, timeout=(timeout or 0) + 30)
    if res.returncode == 0:
        return True
    state = (await info(ct)).state
    if state == "STOPPED":
        return True
    if timeout is not None and not kill_after:
        return False
    raise CommandError(argv, res.returncode, res.stderr)


async def wait_state(ct: CtPaths, wanted: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if (await info(ct)).state == wanted:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.1)


async def freeze(ct: CtPaths) -> None:
    await run(["lxc-freeze", *ct.base()], timeout=30)


async def unfreeze(ct: CtPaths) -> None:
    await run(["lxc-unfreeze", *ct.base()], timeout=30)


def attach_argv(lxcpath: Path, vmid: int, command: list[str] | None = None) -> list[str]:
    """``lxc-attach`` into the container with a clean environment (as ``pct`` does)."""
    argv = [
        "lxc-attach",
        "-n",
        str(vmid),
        "-P",
        str(lxcpath),
        "--clear-env",
        "--set-var",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "--set-var",
        "HOME=/root",
        "--set-var",
        "TERM=linux",
    ]
    if command:
        argv += ["--", *command]
    return argv


async def attach_exec(
    ct: CtPaths, command: list[str], stdin: bytes | None, timeout: float
) -> Result:
    """Run ``command`` inside the container; its exit code comes back unchanged.

    Output goes to temporary files, not pipes, and the wait is for the process, not for
    end-of-file: a command that leaves a daemon behind (``setsid nc -l ... &``) would
    otherwise keep a pipe open (the event loop's subprocess pipes are inherited through
    ``lxc-attach``) and the call would hang until its timeout.
    """
    argv = attach_argv(ct.lxcpath, ct.vmid, command)
    with tempfile.TemporaryFile() as fin, tempfile.TemporaryFile() as fout, \
            tempfile.TemporaryFile() as ferr:  # fmt: skip
        fin.write(stdin or b"")
        fin.seek(0)
        proc = await asyncio.create_subprocess_exec(*argv, stdin=fin, stdout=fout, stderr=ferr)
        try:
            code = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError as err:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise PyxisError(f"command timed out after {int(timeout)} s", status=500) from err
        fout.seek(0)
        ferr.seek(0)
        out = fout.read().decode(errors="replace")
        errs = ferr.read().decode(errors="replace")
    return Result(argv, code, out, errs)
