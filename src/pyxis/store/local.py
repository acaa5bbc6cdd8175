"""Local-mode config store: the whole tree in memory, every mutation one SQLite transaction.

``LocalStore`` loads the entire tree (and the lock table) from one SQLite file into
dicts at open; reads never touch the database.  A mutation validates against the cache,
runs exactly one transaction in WAL mode with ``synchronous=FULL`` (an acknowledged write
survives SIGKILL and power loss), then updates the cache, bumps the global version (the
entry gets the new global version, as in pmxcfs) and publishes a ``Change`` to watchers.
The file is opened in exclusive locking mode: the cache is only correct while this
process is the sole writer, so a second opener is refused rather than silently diverging.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator
from pathlib import Path

from pyxis.errors import Conflict, NotFound, ParamError, StoreError
from pyxis.store.base import (
    LOCK_TTL,
    MAX_FILE,
    MAX_TOTAL,
    Change,
    ConfigStore,
    Entry,
    check_path,
    digest,
)

MAX_ENTRIES = 256 * 1024  # upstream's inode limit (memdb.h)
WATCH_QUEUE_MAX = 10_000
MODIFIED = "detected modified configuration - file changed by other user? Try again."

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    path TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL,
    mtime INTEGER NOT NULL, writer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 0);
"""
# Fixed SQL strings: the sqlite3 module caches their prepared statements per connection.
_UPSERT = (
    "INSERT INTO entries (path, data, version, mtime, writer) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(path) DO UPDATE SET data = excluded.data, version = excluded.version, "
    "mtime = excluded.mtime, writer = excluded.writer"
)
_DELETE = "DELETE FROM entries WHERE path = ?"
_RENAME = "UPDATE entries SET path = ?, version = ?, mtime = ? WHERE path = ?"
_SET_VERSION = "UPDATE meta SET value = ? WHERE key = 'version'"
_LOCK_PUT = (
    "INSERT INTO locks (name, holder, expires) VALUES (?, ?, ?) "
    "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires"
)
_LOCK_DEL = "DELETE FROM locks WHERE name = ?"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _dirs_add(dirs: dict[str, dict[str, int]], path: str) -> None:
    parent = ""
    for name in path.split("/"):
        kids = dirs.setdefault(parent, {})
        kids[name] = kids.get(name, 0) + 1
        parent = f"{parent}/{name}" if parent else name


class _Watcher(AsyncIterator[Change]):
    """One subscriber's queue.  The store holds watchers weakly, so an abandoned iterator
    is collected instead of accumulating changes forever; a subscriber that falls more
    than ``WATCH_QUEUE_MAX`` changes behind is cut off with StoreError and must re-read."""

    def __init__(self, store: LocalStore) -> None:
        self.queue: asyncio.Queue[Change | None] = asyncio.Queue(WATCH_QUEUE_MAX)
        self.overflowed = False
        self.closed = False
        self._store = store

    async def __anext__(self) -> Change:
        if self.queue.empty():
            if self.overflowed:
                raise StoreError("config store watch feed overflowed; re-read the tree")
            if self.closed:
                raise StopAsyncIteration
        item = await self.queue.get()
        if item is None:
            raise StopAsyncIteration
        return item

    async def aclose(self) -> None:
        self._store._watchers.discard(self)
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)  # wakes a consumer blocked on an empty queue


class LocalStore(ConfigStore):
    """Single-node config store; build it with ``LocalStore.open``."""

    def __init__(self, conn: sqlite3.Connection, node: str, db_path: Path) -> None:
        self.node = node
        self.db_path = db_path
        self._conn: sqlite3.Connection | None = conn
        self._cache: dict[str, Entry] = {}
        self._keys: list[str] = []  # sorted paths, for prefix walks
        self._dirs: dict[str, dict[str, int]] = {}  # dir -> child name -> entries below
        self._locks: dict[str, tuple[str, float]] = {}
        self._total = 0
        self._version = 0
        self._watchers: weakref.WeakSet[_Watcher] = weakref.WeakSet()

    @classmethod
    def open(cls, db_path: Path, node: str) -> LocalStore:
        """Open (creating if needed) the store at ``db_path`` and load it into memory."""
        db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(
                db_path, isolation_level=None, timeout=0.5, check_same_thread=False
            )
        except sqlite3.Error as err:
            raise StoreError(f"cannot open config store '{db_path}': {err}") from err
        try:
            # Exclusive locking must precede WAL so the wal-index lives in heap memory.
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if mode != "wal":
                raise StoreError(f"config store '{db_path}': cannot enable WAL (got {mode})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.executescript(_SCHEMA)
            _fsync_dir(db_path.parent)  # the new file's directory entry must be durable too
            store = cls(conn, node, db_path)
            store._load()
        except sqlite3.Error as err:
            conn.close()
            hint = " (in use by another process?)" if "locked" in str(err) else ""
            raise StoreError(f"cannot open config store '{db_path}'{hint}: {err}") from err
        except BaseException:
            conn.close()
            raise
        return store

    def _load(self) -> None:
        conn = self._db()
        rows = conn.execute("SELECT path, data, version, mtime, writer FROM entries")
        for path, data, version, mtime, writer in rows:
            self._cache[path] = Entry(path, bytes(data), version, mtime, writer)
            self._index_add(path)
            self._total += len(data)
        self._keys.sort()
        self._version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        for name, holder, expires in conn.execute("SELECT name, holder, expires FROM locks"):
            self._locks[name] = (holder, expires)

    # --- reads ---------------------------------------------------------------
    def get(self, path: str) -> Entry | None:
        return self._cache.get(path)

    def listdir(self, path: str = "") -> list[str]:
        path = path.strip("/")
        if path:
            check_path(path)
        return sorted(self._dirs.get(path, {}))

    def walk(self, prefix: str = "") -> list[Entry]:
        keys, out = self._keys, []
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            if not keys[i].startswith(prefix):
                break
            out.append(self._cache[keys[i]])
        return out

    @property
    def version(self) -> int:
        return self._version

    @property
    def total_bytes(self) -> int:
        return self._total

    @property
    def watcher_count(self) -> int:
        return len(self._watchers)

    def lock_holder(self, name: str) -> str | None:
        cur = self._locks.get(name)
        return cur[0] if cur and cur[1] > time.time() else None

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
        # A missing file compares as empty content / version 0: upstream parsers report
        # sha1("") as the digest of an absent config, so that digest may create it.
        check_path(path)
        old = self._cache.get(path)
        if expect_digest is not None and expect_digest != digest(old.data if old else b""):
            raise Conflict(MODIFIED)
        if expect_version is not None and expect_version != (old.version if old else 0):
            raise Conflict(MODIFIED)
        return self._put(path, data, writer, old)

    async def create(self, path: str, data: bytes, *, writer: str = "") -> Entry:
        check_path(path)
        if path in self._cache:
            raise Conflict(f"config file '{path}' already exists")
        return self._put(path, data, writer, None)

    async def delete(self, path: str, *, expect_digest: str | None = None) -> None:
        check_path(path)
        old = self._cache.get(path)
        if old is None:
            raise NotFound(f"config file '{path}' does not exist")
        if expect_digest is not None and expect_digest != digest(old.data):
            raise Conflict(MODIFIED)
        version = self._version + 1
        self._txn((_DELETE, (path,)), version=version)
        self._version = version
        del self._cache[path]
        self._total -= len(old.data)
        self._index_remove(path)
        self._publish(Change("delete", path, version))

    async def rename(self, src: str, dst: str) -> Entry:
        check_path(src)
        check_path(dst)
        old = self._cache.get(src)
        if old is None:
            raise NotFound(f"config file '{src}' does not exist")
        if dst in self._cache:
            raise Conflict(f"config file '{dst}' already exists")
        self._check_place(dst)
        version = self._version + 1
        mtime = int(time.time())
        self._txn((_RENAME, (dst, version, mtime, src)), version=version)
        self._version = version
        entry = Entry(dst, old.data, version, mtime, old.writer)
        del self._cache[src]
        self._index_remove(src)
        self._cache[dst] = entry
        self._index_add(dst, keep_sorted=True)
        self._publish(Change("rename", src, version, new_path=dst))
        return entry

    async def lock(self, name: str, holder: str, *, ttl: float = LOCK_TTL) -> None:
        check_path(name)
        if not holder:
            raise ParamError.one("holder", "lock holder must not be empty")
        if ttl <= 0:
            raise ParamError.one("ttl", "lock ttl must be positive")
        now = time.time()
        cur = self._locks.get(name)
        if cur is not None and cur[0] != holder and cur[1] > now:
            raise Conflict(f"can't lock '{name}' - held by {cur[0]}")
        self._txn((_LOCK_PUT, (name, holder, now + ttl)))
        self._locks[name] = (holder, now + ttl)

    async def unlock(self, name: str, holder: str) -> None:
        cur = self._locks.get(name)
        if cur is None or cur[0] != holder:
            return
        self._txn((_LOCK_DEL, (name,)))
        del self._locks[name]

    def watch(self) -> _Watcher:
        # Registered now, not on first iteration, so no change after this call is missed.
        w = _Watcher(self)
        self._watchers.add(w)
        return w

    async def close(self) -> None:
        for w in list(self._watchers):
            await w.aclose()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- helpers ---------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("config store is closed")
        return self._conn

    def _txn(self, *stmts: tuple[str, tuple[object, ...]], version: int | None = None) -> None:
        """Run ``stmts`` (and store the new global ``version``) as one transaction."""
        conn = self._db()
        try:
            conn.execute("BEGIN")
            for sql, args in stmts:
                conn.execute(sql, args)
            if version is not None:
                conn.execute(_SET_VERSION, (version,))
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise StoreError(f"config store write failed: {err}") from err

    def _put(self, path: str, data: bytes, writer: str, old: Entry | None) -> Entry:
        size = len(data)
        if size > MAX_FILE:
            raise StoreError(f"file '{path}' too large: {size} bytes (limit {MAX_FILE} bytes)")
        total = self._total + size - (len(old.data) if old else 0)
        if total > MAX_TOTAL:
            raise StoreError(
                f"cannot write '{path}': config store would hold {total} bytes "
                f"(limit {MAX_TOTAL} bytes)"
            )
        if old is None:
            if len(self._cache) >= MAX_ENTRIES:
                raise StoreError(f"cannot create '{path}': limit of {MAX_ENTRIES} entries reached")
            self._check_place(path)
        version = self._version + 1
        entry = Entry(path, bytes(data), version, int(time.time()), writer)
        self._txn((_UPSERT, (path, entry.data, version, entry.mtime, writer)), version=version)
        self._version = version
        self._cache[path] = entry
        self._total = total
        if old is None:
            self._index_add(path, keep_sorted=True)
        self._publish(Change("write", path, version))
        return entry

    def _check_place(self, path: str) -> None:
        """A path cannot be both a file and a directory (as in pmxcfs)."""
        if path in self._dirs:
            raise Conflict(f"cannot write '{path}': it is a directory")
        for i, ch in enumerate(path):
            if ch == "/" and path[:i] in self._cache:
                raise Conflict(f"cannot write '{path}': '{path[:i]}' is a file")

    def _index_add(self, path: str, *, keep_sorted: bool = False) -> None:
        if keep_sorted:
            bisect.insort(self._keys, path)
        else:
            self._keys.append(path)
        _dirs_add(self._dirs, path)

    def _index_remove(self, path: str) -> None:
        del self._keys[bisect.bisect_left(self._keys, path)]
        parent = ""
        for name in path.split("/"):
            kids = self._dirs[parent]
            if kids[name] == 1:
                del kids[name]
                if not kids:
                    del self._dirs[parent]
            else:
                kids[name] -= 1
            parent = f"{parent}/{name}" if parent else name

    def _publish(self, change: Change) -> None:
        for w in list(self._watchers):
            try:
                w.queue.put_nowait(change)
            except asyncio.QueueFull:
                w.overflowed = True
                self._watchers.discard(w)

    def integrity_check(self) -> None:
        """Check the SQLite file, that cache and indexes equal the database, and that
        versions are consistent (distinct, positive, not above the global version)."""
        conn = self._db()
        sqlite = [str(r[0]) for r in conn.execute("PRAGMA integrity_check")]
        sql = "SELECT path, data, version, mtime, writer FROM entries"
        rows = {p: Entry(p, bytes(d), v, m, w) for p, d, v, m, w in conn.execute(sql)}
        cache = self._cache
        differ = sorted(p for p in set(rows) | set(cache) if rows.get(p) != cache.get(p))
        db_version = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()[0]
        versions = [e.version for e in rows.values()]
        dirs: dict[str, dict[str, int]] = {}
        for path in self._cache:
            _dirs_add(dirs, path)
        locks = {n: (h, x) for n, h, x in conn.execute("SELECT name, holder, expires FROM locks")}
        checks = [
            (sqlite == ["ok"], "sqlite: " + "; ".join(sqlite[:5])),
            (not differ, f"cache differs from database at {differ[:5]}"),
            (db_version == self._version, f"global version {self._version} != stored {db_version}"),
            (len(set(versions)) == len(versions), "duplicate entry versions"),
            (all(0 < v <= db_version for v in versions), f"entry versions outside 1..{db_version}"),
            (self._total == sum(len(e.data) for e in rows.values()), "total size counter is wrong"),
            (self._keys == sorted(self._cache), "sorted path index is wrong"),
            (dirs == self._dirs, "directory index is wrong"),
            (locks == self._locks, "lock cache differs from database"),
        ]
        problems = [msg for ok, msg in checks if not ok]
        if problems:
            raise StoreError(
                f"config store '{self.db_path}' integrity check failed: " + "; ".join(problems)
            )
