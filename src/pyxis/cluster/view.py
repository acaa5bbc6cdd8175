"""The cluster as this node sees it: configured nodes, who is online, quorum.

``svc.cluster`` is a :class:`ClusterView`.  In standalone mode (no ``corosync.conf`` in
the config store) it reports the local node alone, online.  In cluster mode the node
table (name, node id, ring0 address, votes), the cluster name and ``config_version``
come from ``corosync.conf`` in the store (re-parsed when its version changes), and the
live part comes from a :class:`~pyxis.cluster.link.Link`: a node is online while its
daemon is a member of the status group, and the quorate flag is corosync's.  The view
owns the status bus (remote nodes' status) and the proxy that forwards requests to
other nodes; :meth:`start` and :meth:`stop` run all three.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pyxis.cluster import corosync_conf as cc
from pyxis.cluster.link import CorosyncLink, Link, StaticLink, static_requested
from pyxis.store.virtual import ClusterInfo, MemberNode, members_json

if TYPE_CHECKING:
    from pyxis.cluster.proxy import Forwarder
    from pyxis.cluster.statusbus import StatusBus
    from pyxis.services import Services

log = logging.getLogger("pyxis.cluster.view")

COROSYNC_CONF = "corosync.conf"
DEFAULT_API_PORT = 8006
CONF_POLL = 1.0  # standalone: how often to look for corosync.conf in the store


@dataclass(frozen=True)
class ClusterNode:
    """One node of ``corosync.conf``'s nodelist."""

    name: str
    nodeid: int
    ip: str
    votes: int = 1


@dataclass(frozen=True)
class ClusterConfig:
    """What the view needs of ``corosync.conf``."""

    name: str
    config_version: int
    nodes: tuple[ClusterNode, ...]


def read_config(text: str) -> ClusterConfig:
    """Parse ``corosync.conf`` text (raises the parser's ``ConfError``)."""
    conf = cc.parse(text)
    nodes = tuple(
        ClusterNode(
            n.name, n.nodeid, n.rings.get(0) or next(iter(n.rings.values()), ""), n.quorum_votes
        )
        for n in sorted(conf.nodes, key=lambda n: n.nodeid)
    )
    return ClusterConfig(conf.totem.cluster_name, conf.totem.config_version, nodes)


class ClusterView:
    """Membership and quorum of the node's cluster (see the module docstring)."""

    def __init__(self, svc: Services, link: Link | None = None) -> None:
        self.svc = svc
        self.api_port = DEFAULT_API_PORT
        self._link = link
        self._conf: tuple[int, ClusterConfig | None] | None = None
        self._members_version = 1
        self._started = False
        self._bus: StatusBus | None = None
        self._forwarder: Forwarder | None = None
        self._waiter: asyncio.Task[None] | None = None

    # -- configuration ------------------------------------------------------------------
    def config(self) -> ClusterConfig | None:
        """The parsed ``corosync.conf`` of the store, None in standalone mode."""
        entry = self.svc.store.get(COROSYNC_CONF)
        if entry is None:
            return None
        if self._conf is None or self._conf[0] != entry.version:
            try:
                parsed: ClusterConfig | None = read_config(entry.data.decode())
            except (cc.ConfError, UnicodeDecodeError) as err:
                log.error("corosync.conf in the store does not parse: %s", err)
                # keep the last good view rather than dropping every other node
                parsed = self._conf[1] if self._conf else None
            self._conf = (entry.version, parsed)
        return self._conf[1]

    @property
    def clustered(self) -> bool:
        return self.config() is not None

    def nodes(self) -> list[ClusterNode]:
        """Every configured node (standalone: this node alone, id 0, as before)."""
        conf = self.config()
        if conf is None:
            return [ClusterNode(self.svc.node, 0, "127.0.0.1")]
        return list(conf.nodes)

    def node(self, name: str) -> ClusterNode | None:
        return next((n for n in self.nodes() if n.name == name), None)

    @property
    def local_nodeid(self) -> int | None:
        me = self.node(self.svc.node)
        return me.nodeid if me else None

    # -- live state ---------------------------------------------------------------------
    @property
    def link(self) -> Link | None:
        return self._link

    @property
    def connected(self) -> bool:
        return self._link is not None and self._link.connected

    @property
    def quorate(self) -> bool:
        if not self.clustered:
            return True
        return self._link is not None and self._link.connected and self._link.quorate

    def is_online(self, name: str) -> bool:
        if name == self.svc.node:
            return True
        node = self.node(name)
        if node is None or not self.clustered or not self.connected:
            return False
        assert self._link is not None
        return node.nodeid in self._link.members

    def name_of(self, nodeid: int) -> str | None:
        return next((n.name for n in self.nodes() if n.nodeid == nodeid), None)

    @property
    def members_version(self) -> int:
        return self._members_version

    def _on_change(self) -> None:
        self._members_version += 1
        if self._bus is not None:
            self._bus.membership_changed()

    # -- parts --------------------------------------------------------------------------
    @property
    def bus(self) -> StatusBus:
        if self._bus is None:
            from pyxis.cluster.statusbus import StatusBus

            self._bus = StatusBus(self.svc, self)
        return self._bus

    @property
    def forwarder(self) -> Forwarder:
        if self._forwarder is None:
            from pyxis.cluster.proxy import Forwarder

            self._forwarder = Forwarder(self.svc, self)
        return self._forwarder

    # -- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Connect to corosync (reconnecting in the background) and start the status bus.

        Idempotent.  In standalone mode it waits in the background for ``corosync.conf``
        to appear in the store (``pvecm create``/``add`` write it) and starts then."""
        if self._started:
            return
        if not self.clustered:
            if self._waiter is None:
                self._waiter = asyncio.create_task(self._start_when_clustered())
            return
        if self._link is None:
            self._link = self._make_link()
        self._link.on_change = self._on_change
        self._link.on_message = self.bus.receive
        self._started = True
        await self._link.start()
        await self.bus.start()

    async def _start_when_clustered(self) -> None:
        while not self.clustered:
            await asyncio.sleep(CONF_POLL)
        self._waiter = None
        await self.start()

    async def stop(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await waiter
        if self._forwarder is not None:
            await self._forwarder.close()
        if not self._started:
            return
        self._started = False
        await self.bus.stop()
        if self._link is not None:
            await self._link.stop()

    def _make_link(self) -> Link:
        if static_requested():
            me = self.local_nodeid or 0
            return StaticLink(me, (n.nodeid for n in self.nodes()))
        return CorosyncLink()

    # -- reports ------------------------------------------------------------------------
    def members_info(self) -> ClusterInfo | None:
        """The ``.members`` view of the cluster (None in standalone mode)."""
        conf = self.config()
        if conf is None:
            return None
        return ClusterInfo(
            name=conf.name,
            config_version=conf.config_version,
            quorate=self.quorate,
            version=self._members_version,
            nodes={
                n.name: MemberNode(id=n.nodeid, online=self.is_online(n.name), ip=n.ip)
                for n in conf.nodes
            },
        )

    def members_json(self) -> dict[str, Any]:
        """``.members`` with the live member list."""
        return members_json(self.svc.store, self.svc.node, self.members_info())

    def status_entries(self) -> list[dict[str, Any]]:
        """``GET /cluster/status``: the cluster entry (cluster mode) and one per node."""
        conf = self.config()
        out: list[dict[str, Any]] = []
        if conf is not None:
            out.append(
                {
                    "id": "cluster",
                    "type": "cluster",
                    "name": conf.name,
                    "nodes": len(conf.nodes),
                    "quorate": 1 if self.quorate else 0,
                    "version": conf.config_version,
                }
            )
        for n in self.nodes():
            out.append(
                {
                    "id": f"node/{n.name}",
                    "name": n.name,
                    "type": "node",
                    "ip": n.ip,
                    "level": "",
                    "local": 1 if n.name == self.svc.node else 0,
                    "nodeid": n.nodeid,
                    "online": 1 if self.is_online(n.name) else 0,
                }
            )
        return out
