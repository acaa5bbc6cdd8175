"""QEMU process management: start daemonized, find, measure, stop and rediscover guests.

Independent of config parsing: callers hand in a ready argv (``argv.py`` builds it).
QEMU is started with its own ``-daemonize -pidfile``: the launcher process exits once the
guest is set up (sockets listening, pidfile written), the guest keeps running in its own
session reparented away from pyxisd, so it survives a daemon restart or crash.  Early
stderr (errors before daemonizing) goes to ``<run_dir>/qemu-server/<vmid>.log`` and its
tail is quoted in start errors; after daemonizing QEMU points its stdio at /dev/null.

A guest is running when its pidfile names a live (non-zombie) process whose command line
carries ``-pidfile <this pidfile>`` (or Proxmox's ``-id <vmid>``, an option of
Proxmox's patched QEMU only: stock QEMU rejects ``-id``), so a recycled pid is never taken
for the guest and nothing else is needed to rediscover guests after a restart.

The launcher runs through asyncio's subprocess API with an argv list (not ``util.run``)
because it needs the log file as stdout/stderr and a new session.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyxis.errors import Conflict, PyxisError
from pyxis.guests.cgroups import Cgroups, CgroupSpec
from pyxis.guests.qemu.qmp import Monitor, MonitorError

log = logging.getLogger(__name__)

_CLK_TCK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class RunPaths:
    """Runtime files of guest ``vmid`` under ``<run_dir>/qemu-server/``."""

    run_dir: Path
    vmid: int

    @property
    def dir(self) -> Path:
        return Path(self.run_dir) / "qemu-server"

    def _f(self, suffix: str) -> Path:
        return self.dir / f"{self.vmid}.{suffix}"

    @property
    def pidfile(self) -> Path:
        return self._f("pid")

    @property
    def qmp(self) -> Path:
        return self._f("qmp")

    @property
    def qga(self) -> Path:
        return self._f("qga")

    @property
    def vnc(self) -> Path:
        return self._f("vnc")

    @property
    def log(self) -> Path:
        return self._f("log")

    def serial(self, n: int) -> Path:
        return self._f(f"serial{n}")

    def cleanup(self) -> None:
        """Remove pidfile and sockets (the log stays for post-mortems)."""
        stale = [self.pidfile, self.qmp, self.qga, self.vnc, *self.dir.glob(f"{self.vmid}.serial*")]
        for p in stale:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


@dataclass(frozen=True)
class ProcStats:
    """A sample of a guest process; the caller derives CPU usage from two samples."""

    pid: int
    state: str
    cpu_seconds: float
    rss: int
    vsize: int
    threads: int
    start_time: float
    uptime: float


def _log_tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace").strip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _proc_state(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _owns(cmd: Sequence[str], vmid: int, paths: RunPaths) -> bool:
    pidfile = str(paths.pidfile)
    return any(
        (opt == "-pidfile" and val == pidfile) or (opt == "-id" and val == str(vmid))
        for opt, val in itertools.pairwise(cmd)
    )


def read_pidfile(paths: RunPaths) -> int | None:
    try:
        return int(paths.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None


def is_running(vmid: int, paths: RunPaths) -> int | None:
    """The pid of guest ``vmid`` if its QEMU is alive, else ``None``."""
    pid = read_pidfile(paths)
    if pid is None or _proc_state(pid) in (None, "Z", "X"):
        return None
    cmd = _cmdline(pid)
    return pid if cmd is not None and _owns(cmd, vmid, paths) else None


def list_running(run_dir: Path) -> dict[int, int]:
    """vmid -> pid of every guest running from ``run_dir`` (rediscovery after a restart)."""
    found: dict[int, int] = {}
    for pidfile in sorted((Path(run_dir) / "qemu-server").glob("*.pid")):
        if not pidfile.stem.isdigit():
            continue
        vmid = int(pidfile.stem)
        pid = is_running(vmid, RunPaths(Path(run_dir), vmid))
        if pid is not None:
            found[vmid] = pid
    return found


async def start(
    vmid: int,
    argv: Sequence[str],
    paths: RunPaths,
    *,
    cgroup: CgroupSpec | None = None,
    cgroups: Cgroups | None = None,
    timeout: float = 30.0,
) -> int:
    """Launch QEMU daemonized and return the guest's pid.

    ``-daemonize`` and ``-pidfile`` are added unless ``argv`` has them.  With ``cgroup`` the
    process is moved into its cgroup right after the launcher returns; pass ``-S`` in argv
    so that the guest does not run before that (and ``cont`` it afterwards).
    """
    paths.dir.mkdir(parents=True, exist_ok=True)
    if is_running(vmid, paths) is not None:
        raise Conflict(f"VM {vmid} already running")
    paths.cleanup()
    full = [str(a) for a in argv]
    if "-daemonize" not in full:
        full.append("-daemonize")
    if "-pidfile" not in full:
        full += ["-pidfile", str(paths.pidfile)]
    with paths.log.open("wb") as logf:
        proc = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=logf,
            stderr=logf,
            start_new_session=True,
        )
        try:
            rc = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            rc = None
    tail = _log_tail(paths.log)
    detail = f": {tail}" if tail else ""
    if rc is None:
        raise PyxisError(f"start failed: QEMU did not come up within {timeout} s{detail}")
    if rc != 0:
        raise PyxisError(f"start failed: QEMU exited with exit code {rc}{detail}")
    pid = is_running(vmid, paths)
    if pid is None:
        raise PyxisError(f"start failed: QEMU for VM {vmid} is not running after start{detail}")
    if cgroup is not None:
        (cgroups or Cgroups()).place(pid, cgroup)
    return pid


async def wait_exit(pid: int, timeout: float, *, reaped: bool = False) -> bool:
    """Wait until ``pid`` exited (a zombie counts unless ``reaped``); False on timeout."""
    gone: tuple[str | None, ...] = (None,) if reaped else (None, "Z", "X")
    deadline = time.monotonic() + timeout
    while True:
        if _proc_state(pid) in gone:
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(0.01)


def _signal(pid: int, vmid: int, paths: RunPaths, sig: signal.Signals) -> None:
    # Re-check ownership right before signalling: the pid may have been recycled.
    if is_running(vmid, paths) == pid:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


async def stop(
    vmid: int,
    paths: RunPaths,
    timeout: float = 10.0,
    *,
    cgroup_name: str | None = None,
    cgroups: Cgroups | None = None,
) -> None:
    """Stop guest ``vmid``: QMP ``quit``, then SIGTERM, then SIGKILL; clean up files."""
    pid = is_running(vmid, paths)
    if pid is not None:
        quit_sent = False
        # QEMU creates its QMP socket before daemonizing: no socket, no monitor to wait for.
        if paths.qmp.exists():
            try:
                async with Monitor(paths.qmp, connect_timeout=min(3.0, timeout)) as mon:
                    await mon.quit()
                quit_sent = True
            except MonitorError as err:
                log.info("VM %d: QMP quit failed (%s); sending SIGTERM", vmid, err)
        if not (quit_sent and await wait_exit(pid, timeout)):
            _signal(pid, vmid, paths, signal.SIGTERM)
            if not await wait_exit(pid, timeout):
                log.warning("VM %d: still running after SIGTERM; sending SIGKILL", vmid)
                _signal(pid, vmid, paths, signal.SIGKILL)
                if not await wait_exit(pid, 5.0):
                    raise PyxisError(f"VM {vmid} (pid {pid}) does not exit after SIGKILL")
    paths.cleanup()
    if cgroup_name is not None:
        await _remove_cgroup(cgroups or Cgroups(), cgroup_name, pid)


_BACKGROUND: set[asyncio.Task[None]] = set()


def remove_cgroup_later(name: str, pid: int | None, cgroups: Cgroups | None = None) -> None:
    """Remove a stopped guest's cgroup in the background (the stop need not wait for the
    exited QEMU to be reaped)."""
    task = asyncio.get_running_loop().create_task(_remove_cgroup(cgroups or Cgroups(), name, pid))
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


async def _remove_cgroup(cgroups: Cgroups, name: str, pid: int | None) -> None:
    # An exited QEMU stays in its cgroup until init reaps it (the build machine's init
    # takes ~1.8 s; systemd reaps at once), so a busy cgroup is retried for a while.
    if pid is not None:
        await wait_exit(pid, 5.0, reaped=True)
    for _ in range(50):
        if cgroups.remove(name, warn=False):
            return
        await asyncio.sleep(0.1)
    cgroups.remove(name)


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    return 0.0


def proc_stats(pid: int) -> ProcStats | None:
    """CPU time, memory and age of ``pid`` from /proc; ``None`` if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after "comm" (which may contain spaces); index 0 is field 3 of proc(5).
    f = stat.rsplit(")", 1)[1].split()
    start_time = _boot_time() + int(f[19]) / _CLK_TCK
    return ProcStats(
        pid=pid,
        state=f[0],
        cpu_seconds=(int(f[11]) + int(f[12])) / _CLK_TCK,
        rss=int(f[21]) * _PAGE,
        vsize=int(f[20]),
        threads=int(f[17]),
        start_time=start_time,
        uptime=max(0.0, time.time() - start_time),
    )
