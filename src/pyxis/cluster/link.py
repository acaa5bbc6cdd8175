"""The node's live link to corosync: who runs ``pyxisd``, is the partition quorate, and
a multicast channel for the status exchange.

:class:`CorosyncLink` joins the CPG group ``pyxis-status`` (one process per node: the
daemon) and tracks libquorum's quorate flag.  A node counts as online while its daemon
is a member of that group: corosync drops a member when its process exits (at once) or
when its node leaves the membership (after the totem token timeout), which is exactly
when its API stops being reachable.  Messages of the group feed the status bus.  When
corosync goes away (restart, crash) the link closes its handles, reports "not
connected" and reconnects with exponential back-off.

:class:`StaticLink` is the fake shipped beside it: every configured node online, the
partition quorate, multicasts looped back to the sender only.  Tests and the two-daemon
system test select it with ``PYXIS_CLUSTER_LINK=static``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterable
from typing import Protocol

from pyxis.cluster.corosync._lib import CorosyncError, CsError
from pyxis.cluster.corosync.cpg import CpgClient, CpgConfChange, CpgGuarantee, CpgMessage
from pyxis.cluster.corosync.quorum import Quorum, QuorumEvent

log = logging.getLogger("pyxis.cluster.link")

STATUS_GROUP = "pyxis-status"
BACKOFF_MIN = 0.2
BACKOFF_MAX = 5.0
LINK_ENV = "PYXIS_CLUSTER_LINK"

MessageFn = Callable[[int, bytes], None]
ChangeFn = Callable[[], None]


class Link(Protocol):
    """What the cluster view needs from corosync (real or fake)."""

    connected: bool
    quorate: bool
    local_nodeid: int | None
    members: frozenset[int]
    on_message: MessageFn | None
    on_change: ChangeFn | None

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, data: bytes) -> None: ...


class _Cpg(CpgClient):
    """A CPG client that reports a failed event-loop dispatch (corosync went away)."""

    def __init__(self, lost: Callable[[], None], **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self._lost = lost

    def on_dispatch_error(self, err: CorosyncError) -> None:
        log.warning("corosync CPG connection lost: %s", err)
        self._lost()


class _Quorum(Quorum):
    def __init__(self, lost: Callable[[], None], on_quorum: Callable[[QuorumEvent], None]) -> None:
        super().__init__(on_quorum)
        self._lost = lost

    def on_dispatch_error(self, err: CorosyncError) -> None:
        log.warning("corosync quorum connection lost: %s", err)
        self._lost()


class CorosyncLink:
    """CPG group membership + libquorum, reconnecting while corosync is away."""

    def __init__(self, group: str = STATUS_GROUP) -> None:
        self.group = group
        self.connected = False
        self.quorate = False
        self.local_nodeid: int | None = None
        self.members: frozenset[int] = frozenset()
        self.on_message: MessageFn | None = None
        self.on_change: ChangeFn | None = None
        self._cpg: _Cpg | None = None
        self._quorum: _Quorum | None = None
        self._lost = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="corosync-link")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._disconnect()

    async def send(self, data: bytes) -> None:
        cpg = self._cpg
        if cpg is None or not self.connected:
            raise CorosyncError(
                "cpg_mcast_joined", CsError.CS_ERR_BAD_HANDLE, "not connected to corosync"
            )
        await cpg.send(data, CpgGuarantee.AGREED, timeout=2.0)

    # -- connection state machine -------------------------------------------------------
    async def _run(self) -> None:
        delay = BACKOFF_MIN
        while True:
            self._lost.clear()
            try:
                self._connect()
            except CorosyncError as err:
                self._disconnect()
                log.info("corosync not reachable (%s); retrying in %.1fs", err, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_MIN
            log.info("joined corosync group %s as node %s", self.group, self.local_nodeid)
            self._changed()
            await self._lost.wait()
            self._disconnect()
            self._changed()

    def _connect(self) -> None:
        lost = self._lost.set
        quorum = _Quorum(lost, self._on_quorum)
        self._quorum = quorum
        quorum.connect()
        self.quorate = quorum.quorate()
        quorum.track()
        quorum.attach()
        cpg = _Cpg(lost, on_message=self._on_cpg_message, on_confchg=self._on_confchg)
        self._cpg = cpg
        cpg.connect()
        self.local_nodeid = cpg.local_nodeid()
        cpg.join(self.group)
        cpg.attach()
        self.members = frozenset(m.nodeid for m in cpg.members()) | {self.local_nodeid}
        self.connected = True

    def _disconnect(self) -> None:
        self.connected = False
        self.quorate = False
        self.members = frozenset()
        for handle in (self._cpg, self._quorum):
            if handle is not None:
                with contextlib.suppress(CorosyncError):
                    handle.close()
        self._cpg = self._quorum = None

    # -- callbacks (run from the event loop's reader) ------------------------------------
    def _on_quorum(self, ev: QuorumEvent) -> None:
        if ev.quorate != self.quorate:
            self.quorate = ev.quorate
            self._changed()

    def _on_confchg(self, ev: CpgConfChange) -> None:
        nodes = frozenset(m.nodeid for m in ev.members)
        if self.local_nodeid is not None:
            nodes |= {self.local_nodeid}
        if nodes != self.members:
            self.members = nodes
            self._changed()

    def _on_cpg_message(self, msg: CpgMessage) -> None:
        if self.on_message is not None:
            self.on_message(msg.nodeid, msg.data)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


class StaticLink:
    """Fake link: the given node ids are members, the partition is quorate."""

    def __init__(self, local_nodeid: int, nodeids: Iterable[int]) -> None:
        self.connected = False
        self.quorate = False
        self.local_nodeid: int | None = local_nodeid
        self.members: frozenset[int] = frozenset()
        self._nodeids = frozenset(nodeids) | {local_nodeid}
        self.on_message: MessageFn | None = None
        self.on_change: ChangeFn | None = None

    async def start(self) -> None:
        self.connected, self.quorate, self.members = True, True, self._nodeids
        if self.on_change is not None:
            self.on_change()

    async def stop(self) -> None:
        self.connected, self.quorate, self.members = False, False, frozenset()

    async def send(self, data: bytes) -> None:
        if self.on_message is not None and self.local_nodeid is not None:
            self.on_message(self.local_nodeid, data)

    def set_members(self, nodeids: Iterable[int], *, quorate: bool = True) -> None:
        """Test hook: a membership change as corosync would report it."""
        self.members, self.quorate = frozenset(nodeids), quorate
        if self.on_change is not None:
            self.on_change()


def static_requested() -> bool:
    """Whether ``PYXIS_CLUSTER_LINK=static`` asks for the fake link."""
    return os.environ.get(LINK_ENV, "") == "static"
