"""Group commits of one replica, in order: inline when cheap, else on one worker thread.

The engine hands over one job per group (the statements of everything applied since the
previous one) and is called back once the job is durable, in submission order.

With ``synchronous=NORMAL`` (cluster mode's default) a commit only appends to the WAL —
tens of microseconds — so it runs inline on the event loop: a hop to a worker thread
costs far more (the thread must win the GIL from a busy loop, up to the 5 ms switch
interval, and the answer comes back through the loop's self-pipe); on a two-core
machine that hop was a third of a write's latency.  What can take long runs on the
worker thread instead, so the loop keeps delivering meanwhile: full installs (a sync
from the cluster), every job under ``synchronous=FULL`` (an fsync each), and WAL
checkpoints (two fsyncs).  Checkpoints are this module's: SQLite's automatic ones would
run inside an inline commit, so the database is opened with them off and one is run
after :data:`CHECKPOINT_BYTES` of commits or :data:`CHECKPOINT_DELAY` seconds after
the first commit since the last one — which also bounds what a power loss can take
from this replica under ``NORMAL`` (it then re-syncs that tail from the others).
A job queued behind a threaded one runs on the thread too, so jobs never interleave.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from pyxis.store.db import StoreDB

log = logging.getLogger(__name__)
CHECKPOINT_BYTES = 16 << 20
CHECKPOINT_DELAY = 2.0
Job = list[tuple[str, tuple[object, ...]]]
T = TypeVar("T")


def job_bytes(job: Job) -> int:
    """A rough size of what ``job`` appends to the WAL (values plus per-row overhead)."""
    return sum(128 + sum(len(a) for a in args if isinstance(a, (bytes, str))) for _, args in job)


class Committer(Generic[T]):
    """Runs one replica's commit jobs in order; see the module docstring.

    ``on_durable(token)`` is called (on the loop) for each job once it is durable, in
    submission order; ``on_failure(err)`` once if a job fails (the replica must stop).
    ``threaded=False`` runs everything inline (deterministic tests)."""

    def __init__(
        self,
        db: StoreDB,
        on_durable: Callable[[T], None],
        on_failure: Callable[[BaseException | None], None],
        *,
        threaded: bool = True,
    ) -> None:
        self.db = db
        self.on_durable, self.on_failure = on_durable, on_failure
        self.pending = 0  # jobs (and checkpoints) submitted, not yet done
        self.failed = False
        self._reported = False
        self._inline_ok = db.synchronous == "NORMAL"
        self._executor = (
            ThreadPoolExecutor(1, thread_name_prefix="store-commit") if threaded else None
        )
        self._unsynced = 0  # bytes committed since the last checkpoint
        self._closed = False
        self._timer: asyncio.TimerHandle | None = None

    def submit(self, job: Job, token: T, *, large: bool = False) -> None:
        """Run ``job``; ``large`` (an install) never runs inline when a thread exists.

        After a failure nothing runs and nothing is reported durable any more: the
        failed job's rows are lost (its dirty marks were consumed), so a later job
        would record an index and checksum that the file does not hold."""
        if self.failed:
            return
        self.pending += 1
        self._unsynced += job_bytes(job)
        if self._executor is None or (self._inline_ok and not large and self.pending == 1):
            try:
                self._run(job)
            except Exception as err:
                self.pending -= 1
                self._fail(err)
                return
            self.pending -= 1
            self.on_durable(token)
        else:
            fut = asyncio.get_running_loop().run_in_executor(self._executor, self._run, job)
            fut.add_done_callback(lambda f: self._done(f, token))
        if self._inline_ok:
            self._schedule_checkpoint()

    def _run(self, job: Job) -> None:
        """Run one job (on the loop or the worker); the first failure stops all later."""
        if self.failed:
            raise RuntimeError("an earlier config store commit failed")
        try:
            self.db.run(job)
        except BaseException:
            self.failed = True  # seen by the jobs queued behind this one at once
            raise

    def _done(self, f: asyncio.Future[None], token: T) -> None:
        self.pending -= 1
        if f.cancelled() or f.exception() is not None:
            self._fail(None if f.cancelled() else f.exception())
            return
        if not self.failed:
            self.on_durable(token)

    def _fail(self, err: BaseException | None) -> None:
        self.failed = True
        if not self._reported:
            self._reported = True
            self.on_failure(err)

    # --- checkpoints ---------------------------------------------------------------
    def _schedule_checkpoint(self) -> None:
        if self._unsynced >= CHECKPOINT_BYTES:
            self.checkpoint()
        elif self._timer is None and self._unsynced:
            self._timer = asyncio.get_running_loop().call_later(CHECKPOINT_DELAY, self.checkpoint)

    def checkpoint(self) -> None:
        """Start a WAL checkpoint now (on the worker thread when there is one)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._unsynced or self.failed or self._closed:
            return
        unsynced, self._unsynced = self._unsynced, 0
        if self._executor is None:
            if not self._checkpoint():
                self._retry(unsynced)
            return
        self.pending += 1
        fut = asyncio.get_running_loop().run_in_executor(self._executor, self._checkpoint)
        fut.add_done_callback(lambda f: self._checkpoint_done(f, unsynced))

    def _checkpoint(self) -> bool:
        if self.failed:
            return True  # nothing more is written; the file is left as it is
        try:
            self.db.checkpoint()
        except Exception as err:  # the WAL keeps everything: try again later
            log.warning("%s", err)
            return False
        return True

    def _checkpoint_done(self, f: asyncio.Future[bool], unsynced: int) -> None:
        self.pending -= 1
        if f.cancelled() or f.exception() is not None or not f.result():
            self._retry(unsynced)

    def _retry(self, unsynced: int) -> None:
        self._unsynced += unsynced
        if self._timer is None and not self._closed:
            self._timer = asyncio.get_running_loop().call_later(CHECKPOINT_DELAY, self.checkpoint)

    async def close(self) -> None:
        """Wait for queued jobs and stop the worker thread (SQLite checkpoints at close)."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(None, self._executor.shutdown)
