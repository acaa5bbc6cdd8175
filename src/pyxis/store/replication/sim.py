"""A deterministic, seeded in-process stand-in for corosync CPG + votequorum.

:class:`SimNetwork` owns every node's :class:`SimTransport` and one event queue.  Sends,
configuration changes and quorum notifications are events processed in queue order by
a pump scheduled on the event loop, so a test driven by one seed replays identically.
Each pump pass takes a (seeded) random number of events as one "dispatch" and then
flushes the nodes that received something, exercising group commit.

Faults:
- :meth:`split` partitions the nodes; each message still in flight is delivered to only
  one side (or all, or none), chosen by ``inflight`` ("random", "sender", "other",
  "none", "all"), before the configuration change — the case where a minority applies a
  message the majority never saw;
- :meth:`crash` stops a node (its in-flight messages reach the others or vanish);
  a restart is a new transport with the same node id started on the network;
- ``quorum_lag`` delivers quorum notifications after the configuration change.
Quorum: a partition is quorate when its running nodes hold a majority of all votes.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pyxis.store.replication.transport import Transport, TransportHandler


@dataclass
class _Msg:
    sender: int
    data: bytes
    scope: frozenset[int] | None = None  # fixed receivers (set at a split or crash)


@dataclass
class _Conf:
    node: int
    transport: SimTransport
    members: tuple[int, ...]


@dataclass
class _Quorum:
    transport: SimTransport
    quorate: bool


@dataclass
class SimNetwork:
    """The simulated cluster; node ids are ``1..nodes`` with one vote each by default."""

    nodes: int = 3
    seed: int = 0
    votes: dict[int, int] = field(default_factory=dict)
    max_batch: int = 8
    quorum_lag: bool = False

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.ids = list(range(1, self.nodes + 1))
        self.votes = {i: self.votes.get(i, 1) for i in self.ids}
        self.groups: list[frozenset[int]] = [frozenset(self.ids)]
        self.running: dict[int, SimTransport] = {}
        self.events: deque[_Msg | _Conf | _Quorum] = deque()
        self.delivered = 0
        self.max_message = 0
        self.busy_checks: list[Callable[[], bool]] = []  # e.g. engines with commits pending
        self._scheduled = False

    # --- topology ------------------------------------------------------------------
    def group_of(self, node: int) -> frozenset[int]:
        return next(g for g in self.groups if node in g)

    def members(self, node: int) -> tuple[int, ...]:
        return tuple(sorted(n for n in self.group_of(node) if n in self.running))

    def quorate(self, node: int) -> bool:
        have = sum(self.votes[n] for n in self.members(node))
        return 2 * have > sum(self.votes.values())

    def transport(self, node: int) -> SimTransport:
        return SimTransport(self, node)

    def split(self, *groups: list[int] | set[int], inflight: str = "random") -> None:
        """Partition into ``groups`` (every node in exactly one)."""
        new = [frozenset(g) for g in groups]
        assert sorted(n for g in new for n in g) == self.ids, "groups must cover every node"
        self._freeze_inflight(new, inflight)
        self.groups = new
        self._reconfigure()

    def heal(self) -> None:
        self.split(self.ids, inflight="all")

    def crash(self, node: int, inflight: str = "random") -> None:
        """Stop ``node``: no more callbacks; the others see it leave."""
        t = self.running.pop(node)
        t.joined = False
        t.closed = True
        group = self.group_of(node) - {node}
        for ev in self.events:
            if isinstance(ev, _Msg) and ev.sender == node and ev.scope is None:
                keep = inflight == "all" or (inflight == "random" and self.rng.random() < 0.5)
                ev.scope = group if keep else frozenset()
        self._reconfigure()

    def _freeze_inflight(self, new: list[frozenset[int]], how: str) -> None:
        for ev in self.events:
            if not isinstance(ev, _Msg) or ev.scope is not None or ev.sender not in self.running:
                continue
            old = self.group_of(ev.sender)
            sides = [g & old for g in new if g & old]
            mine = next(s for s in sides if ev.sender in s)
            choice = how
            if how == "random":
                choice = self.rng.choice(["all", "sender", "other", "none"])
            if choice == "all":
                ev.scope = old
            elif choice == "sender":
                ev.scope = mine
            elif choice == "other":
                others = [s for s in sides if s is not mine]
                ev.scope = self.rng.choice(others) if others else mine
            else:
                ev.scope = frozenset()

    def _reconfigure(self) -> None:
        for node, t in sorted(self.running.items()):
            members, q = self.members(node), self.quorate(node)
            quorum: list[_Msg | _Conf | _Quorum] = []
            conf: list[_Msg | _Conf | _Quorum] = []
            if t.quorum_queued != q:
                t.quorum_queued = q
                quorum.append(_Quorum(t, q))
            if t.members != members:
                t.members = members
                conf.append(_Conf(node, t, members))
            # A lost quorum is reported at once (as CpgTransport's guard does); a gained
            # one after the configuration change when ``quorum_lag`` is set.
            late = self.quorum_lag and q
            self.events.extend(conf + quorum if late else quorum + conf)
        self._schedule()

    # --- the pump --------------------------------------------------------------------
    def _schedule(self) -> None:
        if not self._scheduled and self.events:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        self._scheduled = False
        touched: dict[int, SimTransport] = {}
        for _ in range(self.rng.randint(1, self.max_batch)):
            if not self.events:
                break
            ev = self.events.popleft()
            if isinstance(ev, _Conf):
                if self.running.get(ev.node) is ev.transport:
                    ev.transport.joined = True
                    ev.transport.call(ev.transport.handler_confchg, ev.members)
                    touched[ev.node] = ev.transport
            elif isinstance(ev, _Quorum):
                if not ev.transport.closed:
                    ev.transport.call(ev.transport.set_quorum, ev.quorate)
            else:
                self._deliver(ev, touched)
        for _node, t in sorted(touched.items()):
            if not t.closed:
                t.call(t.handler_flush)
        self._schedule()

    def _deliver(self, msg: _Msg, touched: dict[int, SimTransport]) -> None:
        if msg.scope is None:
            if msg.sender not in self.running:
                return
            scope: frozenset[int] = self.group_of(msg.sender)
        else:
            scope = msg.scope
        self.delivered += 1
        for node in sorted(scope):
            t = self.running.get(node)
            if t is not None and t.joined:
                t.call(t.handler_deliver, msg.sender, msg.data)
                touched[node] = t

    def submit(self, t: SimTransport, data: bytes) -> None:
        if t.closed:
            raise ConnectionError(f"node {t.nodeid} is down")
        self.max_message = max(self.max_message, len(data))
        self.events.append(_Msg(t.nodeid, data))
        self._schedule()

    async def settle(self, idle_rounds: int = 50, timeout: float = 30.0) -> None:
        """Run the loop until nothing was pending for ``idle_rounds`` iterations."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < idle_rounds:
            busy = any(check() for check in self.busy_checks)
            await asyncio.sleep(0.0005 if busy else 0)
            quiet = 0 if self.events or busy else quiet + 1
            if loop.time() > deadline:
                raise TimeoutError("simulated network did not settle")


class SimTransport(Transport):
    """One node's endpoint on a :class:`SimNetwork`."""

    def __init__(self, net: SimNetwork, nodeid: int) -> None:
        self.net = net
        self.nodeid = nodeid
        self.handler: TransportHandler | None = None
        self.members: tuple[int, ...] = ()
        self.quorate_flag = False
        self.joined = False
        self.closed = False
        self.quorum_queued = False
        self.frozen = False
        self.backlog: list[tuple[Callable[..., None], tuple[Any, ...]]] = []

    @property
    def quorate(self) -> bool:
        return self.quorate_flag and not self.closed

    async def start(self, handler: TransportHandler) -> None:
        if self.nodeid in self.net.running:
            raise RuntimeError(f"node {self.nodeid} is already running")
        self.handler = handler
        self.net.running[self.nodeid] = self
        self.net._reconfigure()

    async def send(self, data: bytes) -> None:
        self.net.submit(self, data)

    async def close(self) -> None:
        if not self.closed and self.net.running.get(self.nodeid) is self:
            self.net.crash(self.nodeid, inflight="all")
        self.closed = True

    def call(self, fn: Callable[..., None], *args: Any) -> None:
        """Run a callback now, or keep it for :meth:`thaw` while the node is frozen."""
        if self.frozen:
            self.backlog.append((fn, args))
        else:
            fn(*args)

    def freeze(self) -> None:
        """Stop processing callbacks (a stalled process that stays in the group)."""
        self.frozen = True

    def thaw(self) -> None:
        self.frozen = False
        backlog, self.backlog = self.backlog, []
        for fn, args in backlog:
            if not self.closed:
                fn(*args)
        if backlog and not self.closed:
            self.handler_flush()

    def set_quorum(self, quorate: bool) -> None:
        self.quorate_flag = quorate
        self.handler_quorum(quorate)

    def handler_deliver(self, sender: int, data: bytes) -> None:
        assert self.handler is not None
        self.handler.on_deliver(sender, data)

    def handler_confchg(self, members: tuple[int, ...]) -> None:
        assert self.handler is not None
        self.handler.on_confchg(members)

    def handler_quorum(self, quorate: bool) -> None:
        assert self.handler is not None
        self.handler.on_quorum(quorate)

    def handler_flush(self) -> None:
        assert self.handler is not None
        self.handler.on_flush()
