"""Cluster-mode config store: the shared tree replicated over a group transport.

``ClusterStore`` serves reads from the same in-memory :class:`~pyxis.store.tree.Tree`
as ``LocalStore`` and turns each mutation into an :class:`~pyxis.store.tree.Op` that
the :class:`~pyxis.store.replication.engine.Engine` multicasts in agreed order; every
replica applies it with the same deterministic ``apply``, so conditional operations
(create-exclusive, digest/version expectations, lock acquire) succeed or fail
identically everywhere.  A call returns once its op is applied and committed here and
every member of the current configuration reported having applied it.  Writes are
refused with upstream's "cluster not ready - no quorum?" unless the node is synced
and quorate.  It uses the same SQLite file as ``LocalStore`` (plus the epoch, index,
checksum and op-map meta), so a node switches modes on its existing ``config.db``.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

from pyxis.store.base import LOCK_TTL, ConfigStore, Entry, check_path
from pyxis.store.db import StoreDB
from pyxis.store.local import LocalStore, check_lock_args
from pyxis.store.replication.engine import Engine
from pyxis.store.replication.outbox import Mode
from pyxis.store.replication.transport import Transport
from pyxis.store.tree import Op, Tree
from pyxis.store.treestore import TreeStore
from pyxis.store.watch import WatchHub


class ClusterStore(TreeStore):
    """Replicated config store; build it with ``await ClusterStore.open(...)``."""

    def __init__(
        self, db: StoreDB, node: str, tree: Tree, transport: Transport, threaded: bool = True
    ) -> None:
        self.node = node
        self.db_path = db.path
        self._db = db
        self._tree = tree
        self._hub = WatchHub()
        self.origin = f"{node}:{uuid.uuid4().hex[:12]}"  # one per process incarnation
        self._engine = Engine(tree, db, transport, self._hub, self.origin, threaded_commit=threaded)

    @classmethod
    async def open(
        cls,
        db_path: Path,
        node: str,
        transport: Transport,
        *,
        reset: bool = False,
        threaded_commit: bool = True,
        synchronous: str = "NORMAL",
    ) -> ClusterStore:
        """Open ``db_path`` and start replicating; returns without waiting for a sync.

        ``reset=True`` empties the local state (epoch 0, version 0) so that a joining
        node takes the cluster's state whatever it held before.  ``threaded_commit``
        runs group commits on a worker thread, so the loop keeps delivering during a
        slow write (False: inline, deterministic for tests).
        ``synchronous``: SQLite's setting for this replica.  ``NORMAL`` (the default, as
        pmxcfs) survives a process crash at once and a power loss from the next WAL
        checkpoint on; an acknowledged write is then lost only if every member loses
        power before that — a node that loses a tail resyncs it from the others.
        ``FULL`` fsyncs every group commit.  Under ``NORMAL`` commits run inline on the
        loop and WAL checkpoints on a worker thread
        (:mod:`~pyxis.store.replication.committer`).
        """
        db = StoreDB.open(db_path, synchronous=synchronous, autocheckpoint=synchronous == "FULL")
        try:
            tree = db.load()
            if reset:
                tree.replace_with(Tree())
                tree.epoch = 0
                db.install(tree)
            store = cls(db, node, tree, transport, threaded_commit)
            await store._engine.start()
        except BaseException:
            db.close()
            raise
        return store

    # --- replication state ---------------------------------------------------------
    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def quorate(self) -> bool:
        return self._engine.t.quorate

    @property
    def synced(self) -> bool:
        return self._engine.mode is Mode.SYNCED

    @property
    def writable(self) -> bool:
        """Whether a mutation would be accepted now (synced, quorate round, quorate)."""
        return self._engine.writable

    async def wait_synced(self, timeout: float) -> None:
        """Wait until the node finished a sync round; ``TimeoutError`` otherwise."""
        await self._engine.wait_synced(timeout)

    def status(self) -> dict[str, Any]:
        return {"node": self.node, **self._engine.status()}

    # --- mutations -----------------------------------------------------------------------
    async def write(
        self,
        path: str,
        data: bytes,
        *,
        expect_digest: str | None = None,
        expect_version: int | None = None,
        writer: str = "",
    ) -> Entry:
        check_path(path)
        op = Op(
            "write",
            path,
            bytes(data),
            expect_digest=expect_digest,
            expect_version=expect_version,
            writer=writer,
            now=time.time(),
        )
        return await self._entry(op, path)

    async def create(self, path: str, data: bytes, *, writer: str = "") -> Entry:
        check_path(path)
        return await self._entry(
            Op("create", path, bytes(data), writer=writer, now=time.time()), path
        )

    async def delete(self, path: str, *, expect_digest: str | None = None) -> None:
        check_path(path)
        op = Op("delete", path, expect_digest=expect_digest, now=time.time())
        (await self._engine.submit(op)).unwrap()

    async def rename(self, src: str, dst: str) -> Entry:
        check_path(src)
        check_path(dst)
        return await self._entry(Op("rename", src, new_path=dst, now=time.time()), dst)

    async def lock(self, name: str, holder: str, *, ttl: float = LOCK_TTL) -> None:
        check_lock_args(name, holder, ttl)
        op = Op("lock", name, holder=holder, now=time.time(), ttl=ttl)
        (await self._engine.submit(op)).unwrap()

    async def unlock(self, name: str, holder: str) -> None:
        cur = self._tree.locks.get(name)
        if cur is None or cur[0] != holder:
            return
        op = Op("unlock", name, holder=holder, now=time.time())
        (await self._engine.submit(op)).unwrap()

    async def _entry(self, op: Op, path: str) -> Entry:
        entry = (await self._engine.submit(op)).unwrap()
        assert entry is not None, "a successful write/create/rename yields its entry"
        return entry

    async def close(self) -> None:
        await self._engine.close()
        await self._hub.close()
        self._db.close()


async def open_node_store(
    db_path: Path,
    node: str,
    transport: Transport | None = None,
    *,
    reset: bool = False,
    current: ConfigStore | None = None,
) -> ConfigStore:
    """The store a node should run: ``LocalStore`` without a transport, else cluster mode.

    ``current`` (the store open on ``db_path`` now, e.g. a ``LocalStore`` before the node
    joins a cluster) is closed first: the file is opened with exclusive locking.
    """
    if current is not None:
        await current.close()
    if transport is None:
        return LocalStore.open(db_path, node)
    return await ClusterStore.open(db_path, node, transport, reset=reset)
