"""The commit pipeline: inline when cheap, threaded when slow, in order, checkpointed."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from pyxis.errors import StoreError
from pyxis.store.db import StoreDB
from pyxis.store.replication import committer as committer_mod
from pyxis.store.replication.committer import Committer, Job

_UPSERT = (
    "INSERT INTO entries (path, data, version, mtime, writer) VALUES (?, ?, 1, 0, 'w') "
    "ON CONFLICT(path) DO UPDATE SET data = excluded.data"
)


def _job(path: str, size: int = 16) -> Job:
    return [(_UPSERT, (path, b"x" * size))]


class Recorder:
    """Durable callbacks and the thread each job ran on."""

    def __init__(self, db: StoreDB) -> None:
        self.db = db
        self.done: list[str] = []
        self.failed: list[BaseException | None] = []
        self.threads: list[str] = []
        real_run = db.run

        def run(job: Job) -> None:
            self.threads.append(threading.current_thread().name)
            real_run(job)

        db.run = run  # type: ignore[method-assign]

    def committer(self) -> Committer[str]:
        return Committer(self.db, self.on_durable, self.on_failure)

    def on_durable(self, token: str) -> None:
        self.done.append(token)

    def on_failure(self, err: BaseException | None) -> None:
        self.failed.append(err)


def _spy_checkpoints(db: StoreDB, *, fail_first: bool = False) -> list[str]:
    """Record the thread of every checkpoint of ``db`` (optionally failing the first)."""
    calls: list[str] = []
    real = db.checkpoint

    def checkpoint() -> None:
        calls.append(threading.current_thread().name)
        if fail_first and len(calls) == 1:
            raise StoreError("disk hiccup")
        real()

    db.checkpoint = checkpoint  # type: ignore[method-assign]
    return calls


async def _drain(c: Committer[str]) -> None:
    """Until every submitted job and checkpoint is done."""
    while c.pending:
        await asyncio.sleep(0.01)


def _open(tmp: Path, synchronous: str) -> StoreDB:
    return StoreDB.open(
        tmp / "config.db", synchronous=synchronous, autocheckpoint=synchronous == "FULL"
    )


def _rows(db: StoreDB) -> int:
    return int(db.conn.execute("SELECT count(*) FROM entries").fetchone()[0])


async def test_normal_commits_run_inline_and_are_durable_at_once(tmp_path: Path) -> None:
    db = _open(tmp_path, "NORMAL")
    rec = Recorder(db)
    c = rec.committer()
    c.submit(_job("a"), "a")
    assert rec.done == ["a"] and c.pending == 0  # no hop through the worker thread
    assert rec.threads == [threading.current_thread().name]
    await c.close()
    db.close()


async def test_full_and_installs_run_on_the_thread_in_order(tmp_path: Path) -> None:
    for sync, large in (("FULL", False), ("NORMAL", True)):
        db = _open(tmp_path / sync, sync)
        rec = Recorder(db)
        c = rec.committer()
        c.submit(_job("big"), "big", large=large)
        assert rec.done == [] and c.pending == 1
        # queued behind a threaded job, a small one must not overtake it
        c.submit(_job("small"), "small")
        assert c.pending == 2
        await _drain(c)
        assert rec.done == ["big", "small"]
        assert all(t.startswith("store-commit") for t in rec.threads)
        assert _rows(db) == 2
        await c.close()
        db.close()


async def test_checkpoint_after_enough_bytes_runs_on_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committer_mod, "CHECKPOINT_BYTES", 64 << 10)
    db = _open(tmp_path, "NORMAL")
    rec = Recorder(db)
    calls = _spy_checkpoints(db)
    c = rec.committer()
    for i in range(15):
        c.submit(_job(f"p{i}", 4096), str(i))
    assert calls == []  # below the threshold: no checkpoint yet, only its timer
    c.submit(_job("last", 64 << 10), "last")
    await _drain(c)
    assert len(calls) == 1 and calls[0].startswith("store-commit")
    wal = Path(f"{db.path}-wal")
    frames = db.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    assert frames[1] == frames[2]  # everything already copied back
    assert wal.exists()
    await c.close()
    db.close()


async def test_checkpoint_timer_bounds_the_unsynced_window(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committer_mod, "CHECKPOINT_DELAY", 0.05)
    db = _open(tmp_path, "NORMAL")
    rec = Recorder(db)
    calls = _spy_checkpoints(db)
    c = rec.committer()
    c.submit(_job("a"), "a")
    await asyncio.sleep(0.2)
    await _drain(c)
    assert len(calls) == 1
    await asyncio.sleep(0.1)
    assert len(calls) == 1  # nothing new committed: no further checkpoint
    await c.close()
    db.close()


BAD: Job = [("INSERT INTO nosuchtable VALUES (1)", ())]


async def test_after_a_failure_nothing_runs_or_is_durable(tmp_path: Path) -> None:
    """A failed job's rows are lost: a later job would record an index the file lacks."""
    db = _open(tmp_path, "NORMAL")
    rec = Recorder(db)
    c = rec.committer()
    c.submit(BAD, "bad")
    c.submit(_job("good"), "good")
    assert rec.done == [] and len(rec.failed) == 1 and c.pending == 0
    assert _rows(db) == 0
    await c.close()
    db.close()


async def test_jobs_queued_behind_a_failed_threaded_job_are_not_durable(tmp_path: Path) -> None:
    db = _open(tmp_path, "FULL")
    rec = Recorder(db)
    c = rec.committer()
    c.submit(BAD, "bad")
    c.submit(_job("a"), "a")
    c.submit(_job("b"), "b")
    await _drain(c)
    assert rec.done == [] and len(rec.failed) == 1
    assert _rows(db) == 0
    await c.close()
    db.close()


async def test_a_failed_checkpoint_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(committer_mod, "CHECKPOINT_DELAY", 0.05)
    db = _open(tmp_path, "NORMAL")
    rec = Recorder(db)
    calls = _spy_checkpoints(db, fail_first=True)
    c = rec.committer()
    c.submit(_job("a"), "a")
    deadline = asyncio.get_running_loop().time() + 5
    while len(calls) < 2:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    await _drain(c)
    assert len(calls) == 2 and not rec.failed
    await c.close()
    db.close()
