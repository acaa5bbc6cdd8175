"""The group-communication contract the replication engine runs on.

A :class:`Transport` is one process's membership in a closed process group with
agreed (total) order and virtual synchrony, as corosync CPG gives: every member
delivers the messages of one configuration in the same order, and configuration
changes at the same position of that order.  It also reports this node's quorum flag.
Callbacks run on the event loop thread, synchronously, in delivery order:

- ``on_deliver(sender, data)`` for each message (the sender's own ones included),
- ``on_confchg(members)`` with the new sorted member list,
- ``on_quorum(quorate)`` when the quorate flag changes,
- ``on_flush()`` after each dispatch (a burst of deliveries): the engine commits
  everything applied in the burst in one transaction and reports progress once.

Implementations: :class:`~pyxis.store.replication.sim.SimTransport` (deterministic,
in-process, for tests) and :class:`~pyxis.store.replication.cpg_transport.CpgTransport`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Protocol


class TransportHandler(Protocol):
    def on_deliver(self, sender: int, data: bytes) -> None: ...

    def on_confchg(self, members: tuple[int, ...]) -> None: ...

    def on_quorum(self, quorate: bool) -> None: ...

    def on_flush(self) -> None: ...


class Transport(ABC):
    """One member of the store's process group; see the module docstring."""

    nodeid: int = 0

    @property
    @abstractmethod
    def quorate(self) -> bool:
        """Whether this node is in a quorate partition (as far as it knows now)."""

    @abstractmethod
    async def start(self, handler: TransportHandler) -> None:
        """Connect and join the group; callbacks go to ``handler`` from now on."""

    @abstractmethod
    async def send(self, data: bytes) -> None:
        """Multicast ``data`` to the group in agreed order (FIFO per sender)."""

    @abstractmethod
    async def close(self) -> None:
        """Leave the group; no callbacks after this returns."""
