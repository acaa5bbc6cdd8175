"""Mounting the config store view (:mod:`pyxis.cfs.ops`) for a running pyxisd.

``pyxisd`` mounts it at ``/etc/pyxis`` when its root is ``/`` (``--cfs-mount PATH``
chooses another place, ``--cfs-mount none`` turns it off; the testbed mounts each
node's at ``<root>/<node>/etc/pyxis``).  The view is optional: without ``/dev/fuse``,
``fusermount3`` or the ``pyfuse3`` module the daemon logs why and runs without it.
A mount left behind by a daemon that was killed ("Transport endpoint is not
connected") is detached before mounting again.  pyfuse3 serves one mount per process,
on the daemon's event loop.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.cfs.sources import Sources
from pyxis.cluster import corosync_conf as cc
from pyxis.cluster.control import STORE_PATH
from pyxis.errors import PyxisError
from pyxis.store.base import ConfigStore
from pyxis.store.virtual import version_json, vmlist_json
from pyxis.util.run import run

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.cfs")
OPTIONS = ("fsname=pyxis", "subtype=pyxis", "default_permissions", "allow_other")
STOP_TIMEOUT = 10.0


def check_corosync_edit(store: ConfigStore, path: str, data: bytes) -> str | None:
    """Why a new ``corosync.conf`` is refused (None: fine); other paths pass."""
    if path != STORE_PATH:
        return None
    current = store.read(STORE_PATH)
    if current is None:
        return "this node is not in a cluster: create one with 'pvecm create'"
    try:
        new = cc.parse(data.decode())
    except UnicodeDecodeError:
        return "corosync.conf must be UTF-8 text"
    except PyxisError as err:
        return str(err)
    try:
        old = cc.parse(current.decode())
    except (UnicodeDecodeError, PyxisError):
        return None  # the stored copy is broken: any valid one may replace it
    if new.totem.cluster_name != old.totem.cluster_name:
        return f"the cluster name cannot change (is '{old.totem.cluster_name}')"
    if new.totem.config_version <= old.totem.config_version:
        return (
            f"totem.config_version must be raised above {old.totem.config_version} "
            "for the change to apply"
        )
    return None


def _json(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, indent=1, sort_keys=True) + "\n").encode()


def sources(svc: Services) -> Sources:
    """What a node's view shows (virtual files from its live state)."""
    return Sources(
        store=lambda: svc.store,
        node=svc.node,
        virtual={
            ".members": lambda: _json(svc.cluster.members_json()),
            ".vmlist": lambda: _json(vmlist_json(svc.store)),
            ".version": lambda: _json(version_json(svc.store)),
        },
        validate=check_corosync_edit,
        guarded=frozenset({STORE_PATH}),
    )


def unavailable() -> str | None:
    """Why this machine cannot mount the view, or None."""
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (Debian package fuse3)"
    try:
        import pyfuse3  # noqa: F401
    except ImportError as err:
        return f"the pyfuse3 module is missing ({err})"
    return None


async def detach_stale(mountpoint: Path) -> None:
    """Lazily unmount a FUSE mount whose daemon is gone."""
    try:
        os.stat(mountpoint)
    except OSError as err:
        if err.errno != errno.ENOTCONN:
            return
        log.warning("detaching the stale config store mount at %s", mountpoint)
        await run(["fusermount3", "-u", "-z", str(mountpoint)], check=False)


async def _wait_readable(fd: int) -> None:
    """pyfuse3's asyncio ``wait_readable``, minus its race at shutdown.

    Upstream's version resolves the future straight from the reader callback, which
    raises ``InvalidStateError`` (logged by the loop) when ``terminate()`` already failed
    the future and the descriptor turns readable before the reader is removed."""
    import pyfuse3.asyncio as shim

    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    waiting = shim._read_futures[fd]
    waiting.add(fut)

    def ready() -> None:
        if not fut.done():
            fut.set_result(None)

    try:
        loop.add_reader(fd, ready)
        try:
            await fut
        finally:
            loop.remove_reader(fd)
    finally:
        waiting.discard(fut)
        if not waiting:
            shim._read_futures.pop(fd, None)


def _notify_closing(fd: int) -> None:
    """pyfuse3's ``notify_closing`` for asyncio, skipping futures already resolved."""
    import pyfuse3.asyncio as shim

    for fut in shim._read_futures.get(fd, ()):
        if not fut.done():
            fut.set_exception(shim.ClosedResourceError())


class CfsMount:
    """One mounted view; :meth:`start` mounts and serves, :meth:`stop` unmounts."""

    def __init__(self, svc: Services, mountpoint: Path) -> None:
        self.svc = svc
        self.mountpoint = mountpoint
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> bool:
        why = unavailable()
        if why is not None:
            log.warning("not mounting the config store at %s: %s", self.mountpoint, why)
            return False
        import pyfuse3
        import pyfuse3.asyncio

        from pyxis.cfs.ops import StoreFS

        try:
            await detach_stale(self.mountpoint)
            self.mountpoint.mkdir(parents=True, exist_ok=True)
        except OSError as err:  # the view is optional: the daemon runs on without it
            log.warning("not mounting the config store at %s: %s", self.mountpoint, err)
            return False
        pyfuse3.asyncio.enable()
        pyfuse3.asyncio.wait_readable = _wait_readable  # type: ignore[assignment]
        pyfuse3.asyncio.notify_closing = _notify_closing  # type: ignore[assignment]
        try:
            pyfuse3.init(StoreFS(sources(self.svc)), str(self.mountpoint), set(OPTIONS))
        except Exception as err:
            log.warning("not mounting the config store at %s: %s", self.mountpoint, err)
            return False
        self._task = asyncio.create_task(self._serve(), name="cfs")
        log.info("config store mounted at %s", self.mountpoint)
        return True

    async def _serve(self) -> None:
        import pyfuse3

        try:
            await pyfuse3.main()
        except Exception:
            log.exception("the config store file system stopped")

    async def stop(self) -> None:
        if self._task is None:
            return
        import pyfuse3

        pyfuse3.terminate()
        task, self._task = self._task, None
        # Requests still running (a store write waits up to a minute) would reply
        # into a freed session: close only once every one of them is done.
        done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
        if not done:
            log.warning(
                "config store requests still running at exit: leaving %s mounted "
                "(the next start detaches it)",
                self.mountpoint,
            )
            return
        pyfuse3.close(unmount=True)
