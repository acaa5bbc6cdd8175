"""What every guest operation shares: config location, locks, read-modify-write, rollback.

A guest's config lives at ``nodes/<node>/qemu-server/<vmid>.conf`` (VMs) or
``nodes/<node>/lxc/<vmid>.conf`` (containers); the node directory names the owner.
Operations follow the same phases: check arguments -> lock -> check prerequisites ->
execute.  ``lock`` serialises operations on one guest within this daemon (the config
store's digest check catches writers elsewhere); long operations also set the config's
``lock:`` key so that other nodes and a restarted daemon see them.  ``Rollback``
collects undo steps (free a volume just allocated, remove a file) that run in reverse
if the operation fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

from pyxis.errors import Conflict, NotFound, ParamError, PyxisError
from pyxis.store.virtual import vmlist_json

if TYPE_CHECKING:
    from pyxis.services import Services

log = logging.getLogger("pyxis.guests")
KIND_DIRS = {"qemu": "qemu-server", "lxc": "lxc"}
LOCK_TIMEOUT = 10.0


def conf_path(node: str, kind: str, vmid: int) -> str:
    return f"nodes/{node}/{KIND_DIRS[kind]}/{vmid}.conf"


class Rollback:
    """Undo steps run in reverse order when the protected block raises."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], Awaitable[object]]]] = []

    def add(self, what: str, undo: Callable[[], Awaitable[object]]) -> None:
        self._steps.append((what, undo))

    def clear(self) -> None:
        self._steps.clear()

    async def run(self) -> list[str]:
        """Run all undo steps; return descriptions of the ones that failed."""
        failed = []
        for what, undo in reversed(self._steps):
            try:
                await undo()
            except Exception as err:
                log.warning("rollback step '%s' failed: %s", what, err)
                failed.append(f"{what}: {err}")
        self._steps.clear()
        return failed

    async def __aenter__(self) -> Rollback:
        return self

    async def __aexit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc is not None:
            await self.run()


class CpuSampler:
    """CPU use of guests as a fraction of their CPUs, from two cumulative samples."""

    def __init__(self) -> None:
        self._samples: dict[int, tuple[float, float]] = {}

    def fraction(self, vmid: int, cpu_seconds: float, cpus: int) -> float:
        now = time.monotonic()
        prev = self._samples.get(vmid)
        self._samples[vmid] = (now, cpu_seconds)
        if prev is None or now - prev[0] <= 0:
            return 0.0
        return max(0.0, min(1.0, (cpu_seconds - prev[1]) / (now - prev[0]) / max(1, cpus)))


class GuestRegistry:
    """Where guests live and how to serialise work on one of them."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._locks: dict[int, asyncio.Lock] = {}

    def locate(self, vmid: int) -> tuple[str, str] | None:
        """(node, kind) of an existing guest anywhere in the cluster, or None."""
        info = vmlist_json(self.svc.store)["ids"].get(str(vmid))
        if info is None:
            return None
        return str(info["node"]), str(info["type"])

    def require(self, vmid: int, kind: str) -> str:
        """The config path of a guest of ``kind`` on this node; clear errors otherwise."""
        path = conf_path(self.svc.node, kind, vmid)
        if self.svc.store.get(path) is not None:
            return path  # the common case, without a scan of every guest (the store
            # refuses a second config with the same id, so this one is the guest)
        where = self.locate(vmid)
        if where is None or where[1] != kind:
            raise NotFound(f"Configuration file '{path}' does not exist")
        if where[0] != self.svc.node:
            raise PyxisError(
                f"guest {vmid} is on node '{where[0]}', not '{self.svc.node}'", status=400
            )
        return path

    def local_vmids(self, kind: str) -> list[int]:
        """Ids of this node's guests of ``kind``, sorted."""
        names = self.svc.store.listdir(f"nodes/{self.svc.node}/{KIND_DIRS[kind]}")
        return sorted(int(n[:-5]) for n in names if n.endswith(".conf") and n[:-5].isdigit())

    async def owned_volumes(self, vmid: int, content: set[str]) -> set[str]:
        """Volumes of guest ``vmid`` of the given content types on this node's storages
        (for ``destroy-unreferenced-disks``)."""
        out: set[str] = set()
        scfg = self.svc.storage.config()
        for sid in scfg.order:
            section = scfg.ids[sid]
            if not self.svc.storage.enabled_here(section):
                continue
            if not content & set(section.get("content") or set()):
                continue
            plugin = await self.svc.storage.plugin(sid)
            for vol in await plugin.list_volumes(content, vmid):
                out.add(str(vol["volid"]))
        return out

    def check_free(self, vmid: int) -> None:
        where = self.locate(vmid)
        if where is not None:
            raise ParamError.one("vmid", f"VM {vmid} already exists on node '{where[0]}'")

    @contextlib.asynccontextmanager
    async def lock(self, vmid: int, timeout: float = LOCK_TIMEOUT) -> AsyncIterator[None]:
        lk = self._locks.setdefault(vmid, asyncio.Lock())
        try:
            await asyncio.wait_for(lk.acquire(), timeout)
        except TimeoutError as err:
            raise Conflict(f"can't lock guest {vmid} - got timeout") from err
        try:
            yield
        finally:
            lk.release()
