"""Local-mode config store: the shared in-memory tree, every mutation one SQLite transaction.

``LocalStore`` loads the entire tree (and the lock table) from one SQLite file at open
(:class:`~pyxis.store.db.StoreDB`); reads never touch the database.  A mutation builds an
:class:`~pyxis.store.tree.Op` with the local clock, applies it to the
:class:`~pyxis.store.tree.Tree` (the same deterministic apply cluster mode replicates),
commits the change in one transaction in WAL mode with ``synchronous=FULL`` (an
acknowledged write survives SIGKILL and power loss), then publishes a ``Change`` to
watchers.  Should the commit fail, the tree is reloaded from the file so memory never
holds what the disk does not.  The file is opened in exclusive locking mode: the cache
is only correct while this process is the sole writer, so a second opener is refused.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from pyxis.errors import ParamError, StoreError
from pyxis.store.base import LOCK_TTL, Entry, check_path
from pyxis.store.db import StoreDB
from pyxis.store.tree import MAX_ENTRIES, MODIFIED, Op, Result, Tree, dirs_add
from pyxis.store.treestore import WATCH_QUEUE_MAX, TreeStore
from pyxis.store.watch import WatchHub

__all__ = ["MAX_ENTRIES", "MODIFIED", "WATCH_QUEUE_MAX", "LocalStore", "check_lock_args"]

MAX_LOCK_TTL = 24 * 3600.0  # a lock nobody renews for a day is a bug, not a lock


def check_lock_args(name: str, holder: str, ttl: float) -> None:
    check_path(name)
    if not holder:
        raise ParamError.one("holder", "lock holder must not be empty")
    if not isinstance(ttl, int | float) or not math.isfinite(ttl) or not 0 < ttl <= MAX_LOCK_TTL:
        raise ParamError.one("ttl", f"lock ttl must be a number in (0, {MAX_LOCK_TTL:.0f}]")


class LocalStore(TreeStore):
    """Single-node config store; build it with ``LocalStore.open``."""

    def __init__(self, db: StoreDB, node: str, tree: Tree) -> None:
        self.node = node
        self.db_path = db.path
        self._dbf = db
        self._tree = tree
        self._cache = tree.entries  # the entry dict, shared with the tree
        self._hub = WatchHub()

    @classmethod
    def open(cls, db_path: Path, node: str) -> LocalStore:
        """Open (creating if needed) the store at ``db_path`` and load it into memory."""
        db = StoreDB.open(db_path)
        try:
            return cls(db, node, db.load())
        except BaseException:
            db.close()
            raise

    # --- mutations -------------------------------------------------------------
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
        return self._entry(self._apply(op))

    async def create(self, path: str, data: bytes, *, writer: str = "") -> Entry:
        check_path(path)
        return self._entry(
            self._apply(Op("create", path, bytes(data), writer=writer, now=time.time()))
        )

    async def delete(self, path: str, *, expect_digest: str | None = None) -> None:
        check_path(path)
        self._apply(Op("delete", path, expect_digest=expect_digest, now=time.time())).unwrap()

    async def rename(self, src: str, dst: str) -> Entry:
        check_path(src)
        check_path(dst)
        return self._entry(self._apply(Op("rename", src, new_path=dst, now=time.time())))

    async def lock(self, name: str, holder: str, *, ttl: float = LOCK_TTL) -> None:
        check_lock_args(name, holder, ttl)
        op = Op("lock", name, holder=holder, now=time.time(), ttl=ttl)
        self._apply(op).unwrap()

    async def unlock(self, name: str, holder: str) -> None:
        cur = self._tree.locks.get(name)
        if cur is None or cur[0] != holder:
            return
        self._apply(Op("unlock", name, holder=holder, now=time.time())).unwrap()

    async def close(self) -> None:
        await self._hub.close()
        self._dbf.close()

    # --- helpers ---------------------------------------------------------------
    def _db(self) -> object:
        return self._dbf.conn

    @staticmethod
    def _entry(result: Result) -> Entry:
        entry = result.unwrap()
        assert entry is not None
        return entry

    def _apply(self, op: Op) -> Result:
        self._dbf.conn  # noqa: B018 - raises StoreError once closed, before touching memory
        result = self._tree.apply(op)
        if result.error is not None:
            # A refused op changed nothing but the op counter; nothing worth an fsync.
            self._tree.clear_dirty()
            return result
        try:
            self._dbf.commit(self._tree)
        except StoreError:
            self._reload()
            raise
        if result.change is not None:
            self._hub.publish((result.change,))
        return result

    def _reload(self) -> None:
        tree = self._dbf.load()
        self._tree.replace_with(tree)
        self._tree.epoch = tree.epoch
        self._cache = self._tree.entries

    def integrity_check(self) -> None:
        """Check the SQLite file, that cache and indexes equal the database, and that
        versions are consistent (distinct, positive, not above the global version)."""
        db, tree = self._dbf, self._tree
        conn = db.conn
        sqlite = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        rows = db.rows()
        cache = self._cache
        differ = sorted(p for p in set(rows) | set(cache) if rows.get(p) != cache.get(p))
        db_version = db.meta()["version"]
        versions = [e.version for e in rows.values()]
        dirs: dict[str, dict[str, int]] = {}
        for path in cache:
            dirs_add(dirs, path)
        checks = [
            (sqlite == ["ok"], "sqlite: " + "; ".join(sqlite[:5])),
            (not differ, f"cache differs from database at {differ[:5]}"),
            (db_version == tree.gv, f"global version {tree.gv} != stored {db_version}"),
            (len(set(versions)) == len(versions), "duplicate entry versions"),
            (all(0 < v <= db_version for v in versions), f"entry versions outside 1..{db_version}"),
            (tree.total == sum(len(e.data) for e in rows.values()), "total size counter is wrong"),
            (tree.keys == sorted(cache), "sorted path index is wrong"),
            (dirs == tree.dirs, "directory index is wrong"),
            (db.lock_rows() == tree.locks, "lock cache differs from database"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        if problems:
            raise StoreError(
                f"config store '{self.db_path}' integrity check failed: " + "; ".join(problems)
            )
