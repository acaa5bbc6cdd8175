"""The replication protocol: ops in agreed order, sync rounds, acknowledgements.

One :class:`Engine` per node drives a :class:`~pyxis.store.tree.Tree` from transport
callbacks (design: ``/work/shared/design/replicated-store.md``):

- **SYNCED**: a delivered ``op`` batch is applied at once (only if the round that made
  this configuration was quorate: a non-quorate partition changes nothing); after each
  dispatch the batch is committed in one transaction and one ``applied`` report sent.
- **Round** (every configuration change or delivered ``resync``): enter SYNCING, queue
  delivered ops, send ``state``.  With every member's state in hand all compute the
  same leader (highest ``(epoch, index)``, then checksum, then lowest node id) and the
  new epoch (``+1`` only if every member reported quorum).  Unless all checksums agree
  the leader sends its full state in chunks and ``done``; members install it (one
  transaction), verify the checksum, apply the queue and are SYNCED again.  A new
  configuration change during a round discards the queue everywhere and restarts.
- **Writes**: accepted only while SYNCED in a quorate round and locally quorate.  Ops of
  concurrent writers are batched into one message while a send is in flight; each op
  carries ``origin`` (node + process incarnation) and a contiguous ``seq``.  A write is
  acknowledged when applied and committed locally and every member of the current
  configuration reported ``applied >= its index``.  If the configuration changes first,
  the answer comes after the next quorate round from the replicated per-origin op map:
  in the installed history (success, after the same all-members report) or not (the
  "lost in a membership change" error).  Without a quorate round within ``grace``
  seconds the writer gets "cluster not ready - no quorum?".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from typing import Any

from pyxis.errors import QuorumError, StoreError
from pyxis.store.base import Change
from pyxis.store.db import StoreDB
from pyxis.store.replication.committer import Committer, Job
from pyxis.store.replication.history import History, Step
from pyxis.store.replication.messages import (
    CHUNK,
    Round,
    StateMsg,
    chunks,
    decode,
    decode_delta,
    decode_ops,
    decode_tree,
    encode,
    encode_delta,
    encode_tree,
    round_json,
    round_of,
)
from pyxis.store.replication.outbox import Mode, Outbox
from pyxis.store.replication.transport import Transport
from pyxis.store.tree import LOST, Op, Tree
from pyxis.store.watch import WatchHub

log = logging.getLogger(__name__)
RESYNC_DELAY = 0.5
LARGE_REPLAY = 1000  # ops: a bigger delta commits on the worker thread, as an install
UNKNOWN = (
    "config store write was applied by the cluster during a membership change, "
    "but its outcome is not known here - re-read before retrying"
)

_Token = tuple[int, list[Change], int]  # a commit job's index, changes and lineage


class Engine(Outbox):
    """One node's replica; see the module docstring.  ``start()`` joins the group."""

    def __init__(
        self,
        tree: Tree,
        db: StoreDB,
        transport: Transport,
        hub: WatchHub,
        origin: str,
        *,
        grace: float = 5.0,
        write_timeout: float = 60.0,
        threaded_commit: bool = True,
    ) -> None:
        super().__init__(transport, origin, tree.seqs.get(origin, 0) + 1, write_timeout)
        self.tree, self.db, self.hub = tree, db, hub
        self.grace = grace
        self.members: tuple[int, ...] = ()
        self.round_no = 0
        self.round_quorate = False
        self.leader: int | None = None
        self.rounds = 0
        self._states: dict[int, StateMsg] = {}
        self._queue: list[list[Op]] = []
        self._expect_done = False
        self._next_epoch = 0
        self._next_quorate = False
        self._sync_buf: list[bytes] = []
        self._sync_steps: list[Step] = []
        self._sync_msgs = 0
        self.history = History(tree.index, tree.checksum())
        self._silent = False
        self._reports: dict[int, int] = {}
        self._changes: list[Change] = []
        self._synced = asyncio.Event()
        self._committer: Committer[_Token] = Committer(
            db, self._committed, self._commit_failed, threaded=threaded_commit
        )
        self._durable = tree.index
        self._lineage = 0
        self._timer: asyncio.TimerHandle | None = None
        self._closing: asyncio.Future[None] | None = None

    # --- public -------------------------------------------------------------------
    @property
    def round(self) -> Round:
        return (self.members, self.round_no)

    async def start(self) -> None:
        self._sender = asyncio.create_task(self._send_loop(), name="store-replication-send")
        await self.t.start(self)

    async def wait_synced(self, timeout: float) -> None:
        await asyncio.wait_for(self._synced.wait(), timeout)

    def status(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "epoch": self.tree.epoch,
            "gv": self.tree.gv,
            "index": self.tree.index,
            "checksum": self.tree.checksum(),
            "members": list(self.members),
            "leader": self.leader,
            "quorate": self.t.quorate,
            "round_quorate": self.round_quorate,
            "rounds": self.rounds,
            "acks_outside_quorum": self.acks_outside_quorum,
            **self.stats,
            "nodeid": self.t.nodeid,
        }

    async def close(self) -> None:
        """Leave the group and stop; every caller waits for the same shutdown."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
        await self.t.close()
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        gone = StoreError("config store is closed")
        for p in [*self._buffer, *self._mine.values()]:
            self._settle(p, error=gone)
        self._buffer.clear()
        self._mine.clear()
        with contextlib.suppress(StoreError):
            self._commit()
        await self._committer.close()

    # --- transport callbacks -----------------------------------------------------------
    def on_confchg(self, members: tuple[int, ...]) -> None:
        if self.closed:
            return
        self.members = tuple(sorted(members))
        self.round_no = 0
        self._start_round()

    def on_quorum(self, quorate: bool) -> None:
        if self.closed:
            return
        if not quorate:
            self._fail_buffer(QuorumError())
        elif self.mode is Mode.SYNCED and not self.round_quorate:
            self._send(encode("resync", {"r": round_json(self.round)}))

    def on_deliver(self, sender: int, data: bytes) -> None:
        if self.closed:
            return
        try:
            kind, f, blobs = decode(data)
            ops = decode_ops(f, blobs) if kind == "op" else None
            msg = StateMsg.of(f) if kind == "state" else None
            steps = decode_delta(f, blobs) if kind == "delta" else None
        except (ValueError, KeyError, TypeError, IndexError, struct.error) as err:
            # every member drops the same undecodable message, so replicas stay equal
            self.stats["malformed"] += 1
            log.error("dropping an undecodable store message from node %d: %s", sender, err)
            return
        self.stats["delivered"] += 1
        if ops is not None:
            if self.mode is Mode.SYNCING:
                self._queue.append(ops)
            else:
                self._apply(ops)
                if "r" in f:
                    self._on_report(sender, f)
        elif msg is not None:
            if self.mode is Mode.SYNCING and msg.round == self.round and sender in self.members:
                self._states[sender] = msg
                if len(self._states) == len(self.members) and not self._expect_done:
                    self._decide()
        elif kind in ("data", "delta", "done"):
            if not (self._expect_done and sender == self.leader and round_of(f["r"]) == self.round):
                return
            if kind == "data":
                self._sync_buf.append(blobs[0])
            elif steps is not None:
                self._sync_steps += steps
                self._sync_msgs += 1
            else:
                self._finish_sync(f)
        elif kind == "applied":
            self._on_report(sender, f)
        elif kind == "resync" and self.mode is Mode.SYNCED and round_of(f["r"]) == self.round:
            self.round_no += 1
            self._start_round()

    def on_flush(self) -> None:
        if self.closed:
            return
        self._commit()
        if self.mode is Mode.SYNCED:
            self._report()
            self._check_acks()

    # --- rounds --------------------------------------------------------------------------
    def _start_round(self) -> None:
        self.mode = Mode.SYNCING
        self._synced.clear()
        self.round_quorate = False
        self.leader = None
        self._states, self._queue, self._sync_buf, self._reports = {}, [], [], {}
        self._sync_steps, self._sync_msgs = [], 0
        self._silent = False
        self._expect_done = False
        for p in self._mine.values():
            p.uncertain = True
        t = self.tree
        state = StateMsg(self.round, t.epoch, t.index, t.gv, t.checksum(), self.t.quorate)
        self._send(state.encode())

    def _decide(self) -> None:
        leader, best = max(self._states.items(), key=lambda kv: kv[1].rank(kv[0]))
        self.leader = leader
        self._next_quorate = all(s.quorate for s in self._states.values())
        self._next_epoch = best.epoch + (1 if self._next_quorate else 0)
        if all(s.checksum == best.checksum for s in self._states.values()):
            self._complete_round()
            return
        self._expect_done = True
        if leader == self.t.nodeid:
            r = round_json(self.round)
            behind = [st for st in self._states.values() if st.checksum != best.checksum]
            if all(st.deltas for st in self._states.values()) and all(
                self.history.holds(st.index, st.checksum) for st in behind
            ):
                # every member behind holds a state this replica passed through: send
                # the ops since the oldest of them instead of the whole state
                msgs = encode_delta(self.round, self.history.since(min(st.index for st in behind)))
                for m in msgs:
                    self._send(m)
                self.stats["deltas"] += 1
                self._send(encode("done", {"r": r, "c": best.checksum, "n": len(msgs), "d": 1}))
                return
            parts = chunks(encode_tree(self.tree), CHUNK)
            for i, part in enumerate(parts):
                self._send(encode("data", {"r": r, "n": i}, [part]))
            self.stats["full_syncs"] += 1
            self._send(encode("done", {"r": r, "c": best.checksum, "n": len(parts)}))

    def _finish_sync(self, f: dict[str, Any]) -> None:
        self._expect_done = False
        if self.tree.checksum() != f["c"]:
            installed = self._install_delta(f) if f.get("d") else self._install_state(f)
            if not installed:
                # Cannot happen with an agreed-order transport; ask for a fresh round.
                self._send(encode("resync", {"r": round_json(self.round)}))
                self.mode = Mode.SYNCED  # so that the resync is accepted
                self.round_quorate = False
                return
        self._sync_buf, self._sync_steps = [], []
        self._complete_round()

    def _install_delta(self, f: dict[str, Any]) -> bool:
        """Replay the leader's ops; False when they fail verification."""
        replayed = self._replay(self._sync_steps, f["c"]) if self._sync_msgs == f["n"] else None
        if replayed is None:
            # The fresh round's leader will find this state outside its history and send
            # the full state.  Whatever was replayed is a history of its own that proves
            # nothing: it is never reported as applied.
            log.error("config store sync: ops from node %s fail verification", self.leader)
            self._lineage += 1
            self._durable = 0
            self._silent = True  # until the next round: see _report
            self.history.reset(self.tree.index, self.tree.checksum())
            return False
        self.tree.epoch = self._next_epoch
        self._commit(large=replayed > LARGE_REPLAY)
        return True

    def _install_state(self, f: dict[str, Any]) -> bool:
        """Install the leader's full state; False when it fails verification."""
        new = decode_tree(b"".join(self._sync_buf)) if len(self._sync_buf) == f["n"] else None
        if new is None or new.checksum() != f["c"]:
            log.error("config store sync: state from node %s fails verification", self.leader)
            return False
        self._changes += self.tree.replace_with(new)
        self.history.reset(self.tree.index, self.tree.checksum())
        self.tree.epoch = self._next_epoch
        self._lineage += 1
        self._durable = 0
        self._commit(self.db.prepare_install(self.tree))
        return True

    def _complete_round(self) -> None:
        self.tree.epoch = self._next_epoch
        self.tree.dirty_meta = True
        self.round_quorate = self._next_quorate
        self.mode = Mode.SYNCED
        self.rounds += 1
        queue, self._queue = self._queue, []
        for ops in queue:
            self._apply(ops)
        self._commit()
        self._reconcile()
        self._synced.set()
        self._report(force=True)
        if not self.round_quorate:
            self._fail_buffer(QuorumError())
            if self.t.quorate:
                self._arm_timer(RESYNC_DELAY)
        self._wake.set()

    def _reconcile(self) -> None:
        """Answer my ops whose fate the configuration change made uncertain."""
        loop = asyncio.get_running_loop()
        if not self.round_quorate:
            for p in self._mine.values():
                if p.uncertain and p.deadline is None:
                    p.deadline = loop.time() + self.grace
            if any(p.uncertain for p in self._mine.values()):
                self._arm_timer(self.grace)
            return
        done = self.tree.seqs.get(self.origin, 0)
        for seq, p in list(self._mine.items()):
            if seq > done:
                del self._mine[seq]
                self._settle(p, error=StoreError(LOST))
            elif p.uncertain:
                gap_lost = (
                    p.result is not None
                    and p.result.error is not None
                    and p.result.error.message == LOST
                )
                if p.result is None or gap_lost or p.lineage != self._lineage:
                    # Applied in the installed history, but not here (or here only as a
                    # gap, or in a history an install replaced since): its result there
                    # (a conditional op may have failed) is not known on this node.
                    del self._mine[seq]
                    self._settle(p, error=StoreError(UNKNOWN))
                    continue
                p.ack_index, p.uncertain, p.deadline = self.tree.index, False, None
        self._next_seq = done + 1

    def _arm_timer(self, delay: float) -> None:
        if self._timer is None and not self.closed:
            self._timer = asyncio.get_running_loop().call_later(delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        if self.closed:
            return
        now = asyncio.get_running_loop().time()
        for seq, p in list(self._mine.items()):
            if p.uncertain and p.deadline is not None and p.deadline <= now:
                del self._mine[seq]
                self._settle(p, error=QuorumError())
        if self.mode is Mode.SYNCED and not self.round_quorate:
            if self.t.quorate:
                self._send(encode("resync", {"r": round_json(self.round)}))
            if any(p.uncertain for p in self._mine.values()) or self.t.quorate:
                self._arm_timer(RESYNC_DELAY)

    # --- applying and acknowledging ------------------------------------------------------
    def _apply(self, ops: list[Op]) -> None:
        if not self.round_quorate:
            return  # a non-quorate partition changes nothing (everyone in it agrees)
        self.stats["ops"] += len(ops)
        for op in ops:
            self._apply_one(op)

    def _apply_one(self, op: Op, *, replay: bool = False) -> None:
        tree = self.tree
        res = tree.apply(op)
        self.history.record(op, tree.index, tree.checksum())
        if res.change is not None:
            self._changes.append(res.change)
        if op.origin == self.origin:
            p = self._mine.get(op.seq)
            if p is not None:
                p.result, p.ack_index, p.lineage = res, tree.index, self._lineage
                if not replay:  # a sync's replay leaves the answer to _reconcile
                    p.uncertain = False

    def _replay(self, steps: list[Step], final: str) -> int | None:
        """Catch up with the leader's ops after the state this replica holds (a delta);
        return how many were applied, None when they fail verification."""
        tree = self.tree
        here = next((st for st in steps if st.index == tree.index), None)
        todo = [st for st in steps if st.index > tree.index]
        if not todo or todo[0].index != tree.index + 1:
            return None
        if here is not None and here.checksum != tree.checksum():
            return None  # not the leader's state at this index
        for st in todo:
            self._apply_one(st.op, replay=True)
            if tree.checksum() != st.checksum:
                return None
        return len(todo) if tree.checksum() == final else None

    def _commit(self, install: Job | None = None, *, large: bool = False) -> None:
        """Group commit: persist everything applied since the last call as one job.

        Progress is reported, writers answered and watchers told only once the job is
        durable (:class:`~pyxis.store.replication.committer.Committer` runs it inline
        or on its worker thread, in order)."""
        if install is None and not self.tree.dirty:
            if self._changes and not self._committer.pending:
                changes, self._changes = self._changes, []
                self.hub.publish(changes)
            return
        job = install if install is not None else self.db.prepare_commit(self.tree)
        self.stats["commits"] += 1
        token = (self.tree.index, self._changes, self._lineage)
        self._changes = []
        self._committer.submit(job, token, large=large or install is not None)

    def _commit_failed(self, err: BaseException | None) -> None:
        log.critical("config store commit failed, leaving the cluster: %s", err)
        self.closed = True  # nothing more is delivered, applied or acknowledged
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())

    def _committed(self, token: _Token) -> None:
        index, changes, lineage = token
        if lineage == self._lineage:  # a job of a history replaced since proves nothing
            self._durable = max(self._durable, index)
        if changes:
            self.hub.publish(changes)
        if self.mode is Mode.SYNCED and not self.closed:
            self._report()
            self._check_acks()

    @property
    def busy(self) -> bool:
        """Commits, sends or reports still pending (for tests that wait for quiet)."""
        return bool(self._committer.pending or self._outbox or self._report_due or self._buffer)

    def _report(self, *, force: bool = False) -> None:
        """Publish progress: on the next op batch, or as an ``applied`` message.

        Not after a failed replay (``_silent``, until the next round): that state is
        nobody's history, and a report would count towards other writers' acks."""
        if self._silent:
            return
        index = self._durable
        me = self.t.nodeid
        self._reports[me] = max(self._reports.get(me, 0), index)
        if force or index != self._reported:
            self._report_due = True
            self._wake.set()

    def _on_report(self, sender: int, f: dict[str, Any]) -> None:
        if self.mode is Mode.SYNCED and round_of(f["r"]) == self.round:
            self._reports[sender] = max(self._reports.get(sender, 0), int(f["i"]))
            self._check_acks()

    def _check_acks(self) -> None:
        if not self._mine or not self.round_quorate or self.mode is not Mode.SYNCED:
            return
        reports = self._reports
        if any(m not in reports for m in self.members):
            return
        low = min(reports[m] for m in self.members)
        for seq, p in list(self._mine.items()):
            if not p.uncertain and p.result is not None and p.ack_index <= low:
                del self._mine[seq]
                self._settle(p, result=p.result)
