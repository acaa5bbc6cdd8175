"""The writer-facing half of the replication engine: submit, batch, send, answer.

:class:`Outbox` holds the ops local writers submitted (``buffer``: accepted, not yet
sent; ``mine``: sent, by their per-origin ``seq``) and the node's ordered outgoing
messages.  One sender task sends control messages first, then the buffered ops of all
concurrent writers as one ``op`` batch (they share a message while a send is in
flight), piggybacking the node's ``applied`` progress; a lone ``applied`` goes out only
when no batch does.  The :class:`~pyxis.store.replication.engine.Engine` decides when an
op is acknowledged and calls :meth:`Outbox._settle`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from collections import deque

from pyxis.errors import PyxisError, QuorumError, StoreError
from pyxis.store.replication.messages import (
    CHUNK,
    Round,
    encode,
    encode_ops,
    op_size,
    round_json,
)
from pyxis.store.replication.transport import Transport
from pyxis.store.tree import Op, Result

log = logging.getLogger(__name__)


class Mode(enum.Enum):
    SYNCING = "syncing"
    SYNCED = "synced"


@dataclasses.dataclass(eq=False)
class Pending:
    op: Op
    fut: asyncio.Future[Result]
    seq: int = 0
    result: Result | None = None
    ack_index: int = 0
    uncertain: bool = False
    deadline: float | None = None
    lineage: int = 0  # the history ``result`` came from (an install starts a new one)


class Outbox:
    """Submission, batching and sending; the state it shares with the engine is below."""

    mode: Mode
    round_quorate: bool
    _durable: int  # index of the last durable state of this lineage

    def __init__(self, transport: Transport, origin: str, next_seq: int, timeout: float) -> None:
        self.t, self.origin = transport, origin
        self.write_timeout = timeout
        self.mode = Mode.SYNCING
        self.round_quorate = False
        self.closed = False
        self.acks_outside_quorum = 0
        self.stats = dict.fromkeys(
            ("sent", "delivered", "malformed", "commits", "ops", "deltas", "full_syncs"), 0
        )
        self._outbox: deque[bytes] = deque()
        self._buffer: list[Pending] = []
        self._mine: dict[int, Pending] = {}
        self._next_seq = next_seq
        self._reported = -1
        self._report_due = False
        self._wake = asyncio.Event()
        self._sender: asyncio.Task[None] | None = None

    @property
    def round(self) -> Round:
        raise NotImplementedError

    @property
    def writable(self) -> bool:
        return (
            not self.closed and self.mode is Mode.SYNCED and self.round_quorate and self.t.quorate
        )

    async def submit(self, op: Op) -> Result:
        """Replicate ``op``; return its result once acknowledged (see module docstring)."""
        if not self.writable:
            raise QuorumError()
        loop = asyncio.get_running_loop()
        p = Pending(op, loop.create_future())
        self._buffer.append(p)
        self._wake.set()
        timer = loop.call_later(self.write_timeout, self._time_out, p)
        try:
            return await p.fut
        finally:
            timer.cancel()

    def _time_out(self, p: Pending) -> None:
        """The caller stops waiting; the op itself may still be applied (ambiguous)."""
        if p in self._buffer:
            self._buffer.remove(p)  # never sent; one already sent stays tracked by its seq
        if not p.fut.done():
            p.fut.set_exception(
                StoreError(
                    "timed out waiting for the cluster to confirm the write "
                    "(it may or may not have been applied)"
                )
            )

    def _applied_msg(self) -> bytes:
        self._report_due = False
        self._reported = self._durable
        return encode("applied", {"r": round_json(self.round), "i": self._reported})

    def _send(self, data: bytes) -> None:
        self._outbox.append(data)
        self._wake.set()

    def _fail_buffer(self, err: PyxisError) -> None:
        for p in self._buffer:
            self._settle(p, error=err)
        self._buffer.clear()

    def _take_batch(self) -> list[Pending]:
        batch: list[Pending] = []
        size = 0
        while self._buffer and (not batch or size + op_size(self._buffer[0].op) <= CHUNK):
            p = self._buffer.pop(0)
            size += op_size(p.op)
            p.seq = self._next_seq
            self._next_seq += 1
            p.op = dataclasses.replace(p.op, origin=self.origin, seq=p.seq)
            self._mine[p.seq] = p
            batch.append(p)
        return batch

    async def _send_loop(self) -> None:
        while not self.closed:
            await self._wake.wait()
            self._wake.clear()
            idle = 0
            while not self.closed:
                batch: list[Pending] = []
                if self._outbox:
                    data = self._outbox.popleft()
                elif self._buffer and self.mode is Mode.SYNCED and self.round_quorate:
                    if idle < 1:  # writers woken in this loop pass join the batch
                        idle += 1
                        await asyncio.sleep(0)
                        continue
                    batch = self._take_batch()
                    report = None
                    if self._report_due:
                        self._report_due = False
                        self._reported = self._durable
                        report = (round_json(self.round), self._reported)
                    data = encode_ops(self.origin, [p.op for p in batch], report)
                elif self._report_due and self.mode is Mode.SYNCED:
                    if idle < 2:  # writers just acknowledged may submit: ride along
                        idle += 1
                        await asyncio.sleep(0)
                        continue
                    data = self._applied_msg()
                else:
                    break
                try:
                    self.stats["sent"] += 1
                    await self.t.send(data)
                except Exception as err:
                    log.warning("config store replication send failed: %s", err)
                    for p in batch:
                        self._mine.pop(p.seq, None)
                        self._settle(p, error=StoreError(f"cannot reach the cluster: {err}"))
                    if batch:
                        self._next_seq = batch[0].seq

    def _settle(
        self, p: Pending, result: Result | None = None, error: PyxisError | None = None
    ) -> None:
        if p.fut.done():
            return
        if error is not None:
            p.fut.set_exception(error)
        else:
            if not (self.mode is Mode.SYNCED and self.round_quorate):
                self.acks_outside_quorum += 1  # must stay 0: checked by the fault tests
            p.fut.set_result(result or Result())
        p.fut.exception()  # mark retrieved: a caller that timed out is gone
