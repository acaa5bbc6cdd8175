"""The store's transport over corosync: CPG group ``pyxis-store`` plus libquorum.

Deliveries and configuration changes come from ``cpg_dispatch`` run by an asyncio
reader on the CPG fd; after each dispatch the handler's ``on_flush`` runs (group
commit).  Sends retry ``CS_ERR_TRY_AGAIN`` with a short back-off while the reader
keeps dispatching.

The quorate flag comes from libquorum notifications, with one guard: CPG may report a
node gone (``NODEDOWN``) before libquorum reports the new quorum view, and a minority
must never report a stale "quorate" in its sync round.  So a node that CPG saw go down
makes this node non-quorate until a quorum notification of a later ring arrives
(whatever it says is then current).  Under-reporting quorum only delays writes (the
engine asks for a fresh round once quorum arrives); over-reporting would be unsafe.

Corosync counts the votes of corosync nodes, but a sync round is made of store
*processes*: a node whose corosync runs while its pyxisd is stopped still votes.  So the
flag also requires that the nodes with a member in the group hold quorum by themselves
(their votes, from votequorum, reach the quorum threshold).  A QDevice vote counts only
while every node of the corosync partition has a member in the group: qnetd arbitrates
between corosync partitions, not between processes inside one.  Without this, one
process whose peers' daemons were restarting could take an epoch of its own and later
overwrite writes that the others acknowledged.
"""

from __future__ import annotations

import asyncio
import logging

from pyxis.cluster.corosync._lib import CS_DISPATCH_ALL, CorosyncError
from pyxis.cluster.corosync.cpg import CpgClient, CpgConfChange, CpgMessage, CpgReason
from pyxis.cluster.corosync.quorum import Quorum, QuorumEvent, VoteFlag, Votequorum
from pyxis.store.replication.transport import Transport, TransportHandler

log = logging.getLogger(__name__)
GROUP = "pyxis-store"


class CpgTransport(Transport):
    """One member of CPG group ``group`` on the local corosync."""

    def __init__(self, group: str = GROUP, *, send_timeout: float = 30.0) -> None:
        self.group = group
        self.send_timeout = send_timeout
        self._cpg = CpgClient(on_message=self._on_message, on_confchg=self._on_confchg)
        self._quorum = Quorum(on_quorum=self._on_quorum)
        self._votes = Votequorum()
        self._group: set[int] = set()  # node ids with a member in the group
        self._process_quorate = False
        self._handler: TransportHandler | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fds: list[int] = []
        self._lib_quorate = False
        self._ring = 0
        self._view: set[int] = set()
        self._nodedown: dict[int, int] = {}  # node id -> quorum ring seq when CPG lost it
        self._reported: bool | None = None
        self._closed = False

    @property
    def quorate(self) -> bool:
        return (
            self._lib_quorate and self._process_quorate and not self._nodedown and not self._closed
        )

    def _count_process_votes(self) -> None:
        """Whether the group's nodes hold quorum by themselves (see the module doc)."""
        if not self._group:
            self._process_quorate = False
            return
        try:
            mine = self._votes.info(self.nodeid)
            votes = sum(self._votes.info(n).node_votes for n in self._group)
        except CorosyncError as err:
            log.warning("votequorum query failed, not quorate: %s", err)
            self._process_quorate = False
            return
        if VoteFlag.QDEVICE_CAST_VOTE in mine.flags and self._view <= self._group:
            votes += mine.qdevice_votes
        self._process_quorate = votes >= mine.quorum > 0

    async def start(self, handler: TransportHandler) -> None:
        self._handler = handler
        self._loop = asyncio.get_running_loop()
        self._quorum.connect()
        self._quorum.track()
        self._lib_quorate = self._quorum.quorate()
        self._votes.connect()
        self._cpg.connect()
        self.nodeid = self._cpg.local_nodeid()
        for client in (self._quorum, self._cpg):
            fd = client.fileno()
            self._fds.append(fd)
            self._loop.add_reader(fd, self._readable, client)
        self._cpg.join(self.group)

    def _readable(self, client: CpgClient | Quorum) -> None:
        try:
            client.dispatch(CS_DISPATCH_ALL)
        except CorosyncError as err:
            if err.retryable:
                return
            log.error("corosync %s dispatch failed: %s", type(client).__name__, err)
            self._stop_reading()
            self._lib_quorate = False
            self._report_quorum()
        if client is self._cpg and self._handler is not None and not self._closed:
            self._handler.on_flush()

    def _on_message(self, msg: CpgMessage) -> None:
        if self._handler is not None and not self._closed:
            self._handler.on_deliver(msg.nodeid, msg.data)

    def _on_confchg(self, ev: CpgConfChange) -> None:
        if self._handler is None or self._closed:
            return
        for m in ev.left:
            if m.reason == CpgReason.NODEDOWN and m.nodeid in self._view:
                self._nodedown[m.nodeid] = self._ring  # the quorum view is stale
        for m in ev.joined:
            self._nodedown.pop(m.nodeid, None)
        self._group = {m.nodeid for m in ev.members}
        self._count_process_votes()
        self._report_quorum()
        self._handler.on_confchg(tuple(sorted({m.nodeid for m in ev.members})))

    def _on_quorum(self, ev: QuorumEvent) -> None:
        self._lib_quorate = ev.quorate
        self._view = set(ev.members)
        if ev.ring_seq:
            self._ring = max(self._ring, ev.ring_seq)
        self._nodedown = {
            n: ring for n, ring in self._nodedown.items() if ring >= ev.ring_seq and n in ev.members
        }
        self._count_process_votes()
        self._report_quorum()

    def _report_quorum(self) -> None:
        q = self.quorate
        if q != self._reported and self._handler is not None:
            self._reported = q
            self._handler.on_quorum(q)

    async def send(self, data: bytes) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.send_timeout
        delay = 0.0005
        while True:
            try:
                self._cpg.mcast(data)
                return
            except CorosyncError as err:
                if not err.retryable or loop.time() > deadline or self._closed:
                    raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _stop_reading(self) -> None:
        if self._loop is not None:
            for fd in self._fds:
                self._loop.remove_reader(fd)
        self._fds = []

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_reading()
        for client in (self._cpg, self._quorum, self._votes):
            try:
                client.close()
            except CorosyncError as err:
                log.warning("closing corosync %s: %s", type(client).__name__, err)
