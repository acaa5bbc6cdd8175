"""The node's corosync (and corosync-qdevice) processes and their node-local config files.

With root ``/`` the files are ``/etc/corosync/corosync.conf`` and ``/etc/corosync/authkey``
and systemd runs the daemons.  With any other ``--root`` (several nodes on one machine,
the testbed) the files live below the root, the local copy gets a per-node
``system { state_dir }``, log settings and normal (not real-time) scheduling at the
highest nice priority — several corosyncs on one machine share its cores, and real-time
ones busy passing the token would preempt everything else there, the other nodes'
daemons included (on two cores the replicated store's writes/s fell to a third) — and
the daemons are spawned detached inside a
private mount namespace whose tmpfs ``/run`` keeps instances apart; their pid files live
in the node's run directory and their output goes to ``<root>/var/log/pyxis/``.

:func:`watch_store` keeps the local copy following ``corosync.conf`` in the config
store: any node that adds a node, removes one or sets up a QDevice writes the store,
and every node rewrites its copy, reloads corosync and starts or stops corosync-qdevice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from pyxis.cluster import corosync_conf as cc
from pyxis.errors import PyxisError
from pyxis.paths import Paths
from pyxis.util.run import run
from pyxis.util.spawn import spawn_detached

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.cluster.control")

STORE_PATH = "corosync.conf"
START_TIMEOUT = 20.0
# Runs inside ``unshare -m``: "$0" is the program, the rest its arguments (no interpolation).
_PRIVATE_RUN = 'mount -t tmpfs tmpfs /run && mkdir -p "/run/$RUNDIR" && exec "$0" "$@"'

Spawner = Callable[[list[str], Path, dict[str, str]], int]
# children spawned by this process, polled so that a dead one is reaped, not a zombie
_children: dict[int, subprocess.Popen[bytes]] = {}


def _spawn(argv: list[str], logfile: Path, env: dict[str, str]) -> int:
    proc = spawn_detached(argv, logfile, env)
    _children[proc.pid] = proc
    return proc.pid


def _binary(name: str) -> str:
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise PyxisError(f"'{name}' is not installed")
    return found


def _comm(pid: int) -> str | None:
    """The command name of a live (not zombie) process, None when there is none."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None
    return None if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X") else comm


class CorosyncControl:
    """Files and processes of corosync for one node root."""

    def __init__(self, paths: Paths, spawner: Spawner | None = None) -> None:
        self.paths = paths
        self.system = paths.root == Path("/")
        self.etc = paths.root / "etc" / "corosync"
        self.spawner = spawner or _spawn

    @property
    def conf_path(self) -> Path:
        return self.etc / "corosync.conf"

    @property
    def authkey_path(self) -> Path:
        return self.etc / "authkey"

    @property
    def state_dir(self) -> Path:
        return self.paths.root / "var" / "lib" / "corosync"

    @property
    def log_dir(self) -> Path:
        return self.paths.root / "var" / "log" / "pyxis"

    def configured(self) -> bool:
        """Whether this node belongs to a cluster: its corosync.conf exists (as pmxcfs
        decides) and, on ``/``, the authkey too.

        On ``/`` the conf alone is not enough: Debian's corosync package ships a sample
        ``/etc/corosync/corosync.conf`` (cluster ``debian``, one node on 127.0.0.1) but
        no authkey, which ``pvecm create`` and ``add`` always write (upstream's create
        refuses an existing authkey for the same reason).  Below any other root only
        Pyxis writes the conf."""
        if self.system:
            return self.conf_path.exists() and self.authkey_path.exists()
        return self.conf_path.exists()

    def read_authkey(self) -> bytes:
        try:
            return self.authkey_path.read_bytes()
        except OSError as err:
            raise PyxisError(f"cannot read corosync authkey: {err.strerror}") from err

    # --- files -------------------------------------------------------------------
    def local_text(self, text: str) -> str:
        """The node-local copy of the store's ``text`` (own state dir, logs and priority
        off /; see the module docstring)."""
        if self.system:
            return text
        conf = cc.parse(text)
        conf.system["state_dir"] = str(self.state_dir)
        conf.system.update({"sched_rr": "no", "priority": "max"})
        conf.totem.extra["keyfile"] = str(self.authkey_path)
        conf.logging.update({"to_syslog": "no", "to_stderr": "yes", "timestamp": "on"})
        return cc.render(conf)

    def write_files(self, text: str, authkey: bytes | None = None) -> None:
        """Write the local corosync.conf (and authkey, mode 0400) atomically."""
        self.etc.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if authkey is not None:
            tmp = self.authkey_path.with_suffix(".new")
            tmp.unlink(missing_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
            with os.fdopen(fd, "wb") as fh:
                fh.write(authkey)
            os.replace(tmp, self.authkey_path)
        tmp = self.conf_path.with_suffix(".new")
        tmp.write_text(self.local_text(text))
        os.replace(tmp, self.conf_path)

    def remove_files(self) -> None:
        for p in (self.conf_path, self.authkey_path):
            p.unlink(missing_ok=True)

    # --- processes ---------------------------------------------------------------
    def _pidfile(self, name: str) -> Path:
        return self.paths.run_dir / f"{name}.pid"

    def pid(self, name: str) -> int | None:
        """Pid of our running ``name`` (corosync / corosync-qdevice), None if not running."""
        try:
            pid = int(self._pidfile(name).read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        comm = _comm(pid)
        # comm is cut to 15 characters ("corosync-qdevic"); right after the spawn the
        # process may still be the unshare or sh that execs the daemon
        ok = comm is not None and (name.startswith(comm) or comm in ("unshare", "sh"))
        return pid if ok else None

    def _spawn_private(self, name: str, args: list[str]) -> int:
        argv = ["unshare", "-m", "sh", "-c", _PRIVATE_RUN, _binary(name), *args]
        env = dict(os.environ, RUNDIR=name)
        pid = self.spawner(argv, self.log_dir / f"{name}.log", env)
        self.paths.run_dir.mkdir(parents=True, exist_ok=True)
        self._pidfile(name).write_text(f"{pid}\n")
        return pid

    async def ensure_running(self) -> None:
        """Start corosync unless it runs; wait until it answers on its IPC."""
        if self.system:
            await run(["systemctl", "enable", "--now", "corosync"], timeout=60)
        elif self.pid("corosync") is None:
            self._spawn_private("corosync", ["-f", "-c", str(self.conf_path)])
        await self.wait_ready()

    async def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        from pyxis.cluster.corosync._lib import CorosyncError
        from pyxis.cluster.corosync.cmap import Cmap

        deadline = time.monotonic() + timeout
        while True:
            try:
                with Cmap() as cmap:
                    assert isinstance(cmap, Cmap)
                    cmap.this_node_id()
                return
            except CorosyncError as err:
                if time.monotonic() > deadline:
                    raise PyxisError(f"corosync did not come up: {err}") from err
            if not self.system and self.pid("corosync") is None:
                raise PyxisError(f"corosync exited at start (see {self.log_dir / 'corosync.log'})")
            await asyncio.sleep(0.2)

    async def reload(self) -> None:
        """Make the running corosync re-read its config file."""
        await run(["corosync-cfgtool", "-R"], timeout=30)

    async def stop(self, name: str = "corosync") -> None:
        if self.system:
            await run(["systemctl", "disable", "--now", name], timeout=60, check=False)
            return
        pid = self.pid(name)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if _comm(pid) is None:
                break
            await asyncio.sleep(0.1)
        else:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self._pidfile(name).unlink(missing_ok=True)

    async def ensure_qdevice(self, wanted: bool) -> None:
        """Run corosync-qdevice exactly when the conf has a quorum device."""
        if not wanted:
            await self.stop("corosync-qdevice")
            return
        if self.system:
            await run(["systemctl", "enable", "--now", "corosync-qdevice"], timeout=60)
        elif self.pid("corosync-qdevice") is None:
            self._spawn_private("corosync-qdevice", ["-f"])

    async def apply(self, text: str) -> None:
        """Follow a new corosync.conf from the store: rewrite, reload, (un)set qdevice."""
        conf = cc.parse(text)
        wanted = conf.quorum.device is not None
        if not wanted:  # the device leaves before corosync forgets it
            await self.ensure_qdevice(False)
        self.write_files(text)
        await self.ensure_running()
        await self.reload()
        if wanted:
            await self.ensure_qdevice(True)


async def watch_store(svc: Services, control: CorosyncControl) -> None:
    """Apply every change of ``corosync.conf`` in the store (until cancelled)."""
    last = svc.store.read(STORE_PATH)
    while True:
        store = svc.store
        async for change in store.watch():
            if svc.store is not store:
                break
            if STORE_PATH not in (change.path, change.new_path):
                continue
            data = store.read(STORE_PATH)
            if data is None or data == last:
                continue
            last = data
            try:
                await control.apply(data.decode())
            except (PyxisError, OSError) as err:
                log.error("applying the new corosync.conf failed: %s", err)
        await asyncio.sleep(0.2)
