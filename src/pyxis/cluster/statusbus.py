"""Status exchange between nodes: every daemon multicasts its node, guest and storage
status over the ``pyxis-status`` CPG group, and keeps the newest report of every node.

This is a key-value exchange, not replicated state: a report replaces the previous one
of its node, nothing is acknowledged, and a lost message is repaired by the next one.
A node reports right after it joins, on every membership change (so a newcomer learns
everyone's state at once) and then every stats interval.  A report records when it
arrived (local monotonic clock); one older than :data:`STALE_FACTOR` intervals no longer
counts as live.  Reports are zlib-compressed JSON with a version tag.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.errors import PyxisError
from pyxis.metrics.collector import interval_from_env

if TYPE_CHECKING:
    from pyxis.cluster.view import ClusterView
    from pyxis.services import Services

log = logging.getLogger("pyxis.cluster.statusbus")

MAGIC = b"PXS1"
STALE_FACTOR = 3.0
STALE_MIN = 15.0


@dataclass
class NodeReport:
    """The newest status a node sent: its node entry, guests and storages."""

    node: str
    nodeid: int
    seq: int
    sent: float
    received: float
    status: dict[str, Any] = field(default_factory=dict)
    guests: dict[int, dict[str, Any]] = field(default_factory=dict)
    storages: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


def encode(report: dict[str, Any]) -> bytes:
    return MAGIC + zlib.compress(json.dumps(report, separators=(",", ":")).encode(), 6)


MAX_REPORT = 8 * 1024 * 1024  # decompressed bytes: thousands of guests fit


def decode(data: bytes) -> dict[str, Any] | None:
    """The report in ``data``, or None when it is not one (wrong tag, corrupt, bad shape,
    too large once decompressed, non-finite or mistyped numbers)."""
    if not data.startswith(MAGIC):
        return None
    try:
        z = zlib.decompressobj()
        raw = z.decompress(data[len(MAGIC) :], MAX_REPORT)
        if z.unconsumed_tail:
            return None
        doc = json.loads(raw)
    except (zlib.error, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("node"), str):
        return None
    if not isinstance(doc.get("seq"), int) or not isinstance(doc.get("status"), dict):
        return None
    if not isinstance(doc.get("guests"), list) or not isinstance(doc.get("storages"), list):
        return None
    sent = doc.get("sent", 0)
    if not isinstance(sent, int | float) or not math.isfinite(sent):
        return None
    if not isinstance(doc.get("tasks", []), list):
        return None
    return doc


def _task_ok(task: Any) -> bool:
    return (
        isinstance(task, dict)
        and isinstance(task.get("upid"), str)
        and isinstance(task.get("starttime", 0), int)
    )


class StatusBus:
    """Reports in, reports out; see the module docstring."""

    def __init__(
        self,
        svc: Services,
        view: ClusterView,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.svc = svc
        self.view = view
        self.interval = interval if interval is not None else interval_from_env()
        self.clock = clock
        self.reports: dict[str, NodeReport] = {}
        self._seq = 0
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # -- receiving ----------------------------------------------------------------------
    def receive(self, nodeid: int, data: bytes) -> None:
        """Take a delivered message (the sender's own reports included)."""
        doc = decode(data)
        if doc is None:
            log.debug("ignoring a malformed status message from node id %d", nodeid)
            return
        name = doc["node"]
        known = self.view.name_of(nodeid)
        if known != name:  # also: a node id that corosync.conf does not know
            log.warning("node id %d sent a report for '%s'; ignored", nodeid, name)
            return
        old = self.reports.get(name)
        # a restarted daemon starts counting again: a lower seq from a later send wins
        if old is not None and doc["seq"] <= old.seq and doc.get("sent", 0) <= old.sent:
            return
        guests: dict[int, dict[str, Any]] = {}
        for g in doc["guests"]:
            if isinstance(g, dict) and isinstance(g.get("vmid"), int):
                guests[g["vmid"]] = g
        self.reports[name] = NodeReport(
            node=name,
            nodeid=nodeid,
            seq=doc["seq"],
            sent=float(doc.get("sent", 0)),
            received=self.clock(),
            status=doc["status"],
            guests=guests,
            storages=[s for s in doc["storages"] if isinstance(s, dict)],
            tasks=[t for t in doc.get("tasks", []) if _task_ok(t)],
        )

    def stale_after(self) -> float:
        return max(self.interval * STALE_FACTOR, STALE_MIN)

    def live(self, node: str) -> NodeReport | None:
        """The node's report if the node is online and the report recent, else None."""
        rep = self.reports.get(node)
        if rep is None or not self.view.is_online(node):
            return None
        if self.clock() - rep.received > self.stale_after():
            return None
        return rep

    def last(self, node: str) -> NodeReport | None:
        """The node's newest report, however old (for offline nodes' last known state)."""
        return self.reports.get(node)

    # -- sending ------------------------------------------------------------------------
    async def local_report(self) -> dict[str, Any]:
        me = self.svc.node
        node = next(iter(self.svc.node_resources()), {})
        guests = [g for g in self.svc.guest_resources() if g.get("node") == me]
        storages = [s for s in await self.svc.storage_resources() if s.get("node") == me]
        from pyxis.api.cluster_tasks import local_task_list

        self._seq += 1
        return {
            "node": me,
            "seq": self._seq,
            "sent": time.time(),
            "status": node,
            "guests": guests,
            "storages": storages,
            "tasks": local_task_list(self.svc),
        }

    async def publish(self) -> None:
        """Multicast this node's report once (errors are logged, not raised)."""
        link = self.view.link
        if link is None or not link.connected:
            return
        try:
            await link.send(encode(await self.local_report()))
        except PyxisError as err:
            log.info("status report not sent: %s", err.message)

    def membership_changed(self) -> None:
        """Send a report soon: a node joined (it needs ours) or we reconnected."""
        self._kick.set()

    async def start(self) -> None:
        if self._task is None:
            self._kick.set()  # report right after start
            self._task = asyncio.create_task(self._run(), name="status-bus")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.interval):
                    await self._kick.wait()
            self._kick.clear()
            try:
                await self.publish()
            except Exception:  # keep reporting whatever one round hit
                log.exception("status report failed")
