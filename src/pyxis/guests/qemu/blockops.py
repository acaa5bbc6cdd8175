"""Block work on a running VM through QMP: snapshots, mirror, resize.

QEMU does the byte moving; this module only names nodes and drives jobs.  A drive's
format node is ``drive-<key>`` as the command line builds it; after an online disk
move the copy's nodes are ``mv-drive-<key>`` (node names cannot be reused while the
old ones exist), and the next move switches back, so lookups try both.  With I/O
limits the device sits on ``throttle-drive-<key>``: commands that need a root node
(internal snapshots, mirror) use it, and a mirror then ``replaces`` the format node
under the filter so the limits stay in force.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, cast

from pyxis.errors import PyxisError
from pyxis.guests.qemu.qmp import Json, Monitor, MonitorError

MOVED = "mv-"
READY_TIMEOUT = 24 * 3600.0


async def named_nodes(mon: Monitor) -> dict[str, Json]:
    nodes = cast(list[Json], await mon.execute("query-named-block-nodes", {"flat": True}))
    return {str(n["node-name"]): n for n in nodes}


async def format_node(mon: Monitor, key: str) -> str:
    """The node name of drive ``key``'s image (format) node."""
    nodes = await named_nodes(mon)
    for name in (f"drive-{key}", f"{MOVED}drive-{key}"):
        if name in nodes:
            return name
    raise PyxisError(f"running VM has no block node for drive '{key}'")


async def root_node(mon: Monitor, key: str) -> tuple[str, str]:
    """(root node the device uses, format node) of drive ``key``."""
    fmt = await format_node(mon, key)
    throttle = f"throttle-drive-{key}"
    return (throttle if throttle in await named_nodes(mon) else fmt), fmt


# -- internal snapshots ---------------------------------------------------------------


async def snapshot_disks(mon: Monitor, keys: list[str], name: str) -> None:
    """Disk-only internal snapshot of ``keys``, atomic across them (one transaction)."""
    actions = []
    for key in keys:
        root, _ = await root_node(mon, key)
        actions.append(
            {"type": "blockdev-snapshot-internal-sync", "data": {"device": root, "name": name}}
        )
    await mon.execute("transaction", {"actions": actions})


async def save_state(mon: Monitor, keys: list[str], state_key: str, name: str) -> None:
    """Internal snapshot of ``keys`` plus the RAM/device state (stored in ``state_key``)."""
    nodes = [await format_node(mon, k) for k in keys]
    job = f"snapsave-{name}"
    await mon.snapshot_save(job, name, await format_node(mon, state_key), nodes)
    await mon.wait_job(job, timeout=READY_TIMEOUT)


async def load_state(mon: Monitor, keys: list[str], state_key: str, name: str) -> None:
    """Load a snapshot with state into a paused (``-S``) QEMU before its first ``cont``."""
    nodes = [await format_node(mon, k) for k in keys]
    job = f"snapload-{name}"
    await mon.snapshot_load(job, name, await format_node(mon, state_key), nodes)
    await mon.wait_job(job, timeout=READY_TIMEOUT)


async def delete_snapshot(mon: Monitor, keys: list[str], name: str) -> None:
    nodes = [await format_node(mon, k) for k in keys]
    job = f"snapdel-{name}"
    await mon.snapshot_delete(job, name, nodes)
    await mon.wait_job(job, timeout=READY_TIMEOUT)


# -- resize -----------------------------------------------------------------------------


async def resize(mon: Monitor, key: str, size: int) -> None:
    """Grow drive ``key`` to ``size`` bytes (QEMU grows the image file itself)."""
    await mon.block_resize(await format_node(mon, key), size)


# -- mirror -----------------------------------------------------------------------------


def _target_nodes(path: str, fmt: str, name: str, source: Json) -> tuple[Json, Json]:
    cache = source.get("cache") or {}
    opts: Json = {
        "cache": {"direct": bool(cache.get("direct")), "no-flush": bool(cache.get("no-flush"))}
    }
    zeroes = str(source.get("detect_zeroes") or "off")
    if zeroes == "unmap":
        opts["discard"] = "unmap"
    proto: Json = {
        "driver": "file",
        "filename": path,
        "node-name": f"{name}-file",
        "aio": "threads",
        **opts,
    }
    image: Json = {
        "driver": fmt,
        "node-name": name,
        "file": f"{name}-file",
        "detect-zeroes": zeroes,
        **opts,
    }
    return proto, image


async def _wait_ready(mon: Monitor, job: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = next((j for j in await mon.query_jobs() if j.get("id") == job), None)
        if info is None:
            raise PyxisError(f"mirror job '{job}' vanished")
        if info.get("status") == "ready":
            return
        if info.get("status") == "concluded":
            await mon.job_dismiss(job)
            raise PyxisError(f"mirror job '{job}' failed - {info.get('error', 'unknown error')}")
        if time.monotonic() >= deadline:
            raise PyxisError(f"mirror job '{job}' not ready within {int(timeout)} s")
        await asyncio.sleep(0.1)


async def _drop_nodes(mon: Monitor, name: str) -> None:
    for node in (name, f"{name}-file"):
        try:
            await mon.blockdev_del(node)
        except MonitorError as err:
            if err.error_class is None:
                raise


async def mirror(
    mon: Monitor,
    key: str,
    path: str,
    fmt: str,
    *,
    pivot: bool,
    speed: int = 0,
    log: Any = None,
    timeout: float = READY_TIMEOUT,
) -> None:
    """Copy drive ``key`` into the image at ``path`` (same virtual size, created by the
    caller) with a ``blockdev-mirror``.

    ``pivot`` switches the VM over to the copy (online disk move; the old image is
    closed afterwards); otherwise the copy is left as a point-in-time clone and the VM
    keeps its disk (clone of a running VM).
    """
    root, source = await root_node(mon, key)
    nodes = await named_nodes(mon)
    target = f"{MOVED}drive-{key}" if source == f"drive-{key}" else f"drive-{key}"
    proto, image = _target_nodes(path, fmt, target, nodes[source])
    await mon.blockdev_add(proto)
    try:
        await mon.blockdev_add(image)
    except BaseException:
        await mon.blockdev_del(f"{target}-file")
        raise
    job = f"mirror-{key}"
    extra: Json = {"auto-dismiss": False}
    if root != source:
        extra["replaces"] = source
    if speed:
        extra["speed"] = speed
    try:
        await mon.blockdev_mirror(job, root, target, sync="full", **extra)
        try:
            await _wait_ready(mon, job, timeout)
            if log:
                log.log(f"{key}: mirror ready, {'switching over' if pivot else 'finishing'}")
            if pivot:
                await mon.block_job_complete(job)
                await mon.wait_job(job, timeout=timeout)
            else:
                # cancelling a ready mirror ends it cleanly, leaving a consistent copy
                await mon.block_job_cancel(job)
                await _conclude(mon, job, timeout)
        except BaseException:
            await _abort_job(mon, job)
            raise
    except BaseException:
        await _drop_nodes(mon, target)
        raise
    await _drop_nodes(mon, source if pivot else target)


async def _conclude(mon: Monitor, job: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        info = next((j for j in await mon.query_jobs() if j.get("id") == job), None)
        if info is None:
            return
        if info.get("status") == "concluded":
            await mon.job_dismiss(job)
            return
        if time.monotonic() >= deadline:
            raise PyxisError(f"job '{job}' did not finish within {int(timeout)} s")
        await asyncio.sleep(0.05)


async def _abort_job(mon: Monitor, job: str) -> None:
    try:
        if any(j.get("id") == job for j in await mon.query_jobs()):
            await mon.block_job_cancel(job, force=True)
            await _conclude(mon, job, 60.0)
    except PyxisError:
        pass
