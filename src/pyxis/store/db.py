"""SQLite persistence of a :class:`~pyxis.store.tree.Tree`: load, group commit, full install.

One file per node (``config.db``), WAL, ``synchronous=FULL`` in local mode (an
acknowledged write survives SIGKILL and power loss; cluster mode may use ``NORMAL``, see
:meth:`StoreDB.open`) and exclusive locking (the in-memory tree is only
correct while this process is the sole writer).  Tables: ``entries``, ``locks``,
``meta`` (integers: global ``version``, ``index``, ``epoch``), ``meta_text``
(``checksum``) and ``seqs`` (the per-origin op map).  Files written by older Pyxis
versions (without the last two tables and keys) are migrated at open, so a node can
switch from local to cluster mode on the same file.

:meth:`StoreDB.commit` writes whatever the tree marked dirty since the last commit —
one op or a whole dispatch of replicated ops — in one transaction (one fsync).
:meth:`StoreDB.install` replaces everything (a sync from the cluster) atomically.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from pyxis.errors import StoreError
from pyxis.store.base import Entry
from pyxis.store.tree import Tree

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    path TEXT PRIMARY KEY, data BLOB NOT NULL, version INTEGER NOT NULL,
    mtime INTEGER NOT NULL, writer TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS locks (
    name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS meta_text (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seqs (origin TEXT PRIMARY KEY, seq INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (key, value) VALUES ('version', 0), ('index', 0), ('epoch', 0);
"""
# Fixed SQL strings: the sqlite3 module caches their prepared statements per connection.
_UPSERT = (
    "INSERT INTO entries (path, data, version, mtime, writer) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT(path) DO UPDATE SET data = excluded.data, version = excluded.version, "
    "mtime = excluded.mtime, writer = excluded.writer"
)
_DELETE = "DELETE FROM entries WHERE path = ?"
_LOCK_PUT = (
    "INSERT INTO locks (name, holder, expires) VALUES (?, ?, ?) "
    "ON CONFLICT(name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires"
)
_LOCK_DEL = "DELETE FROM locks WHERE name = ?"
_SEQ_PUT = (
    "INSERT INTO seqs (origin, seq) VALUES (?, ?) "
    "ON CONFLICT(origin) DO UPDATE SET seq = excluded.seq"
)
_META = "UPDATE meta SET value = ? WHERE key = ?"
_META_TEXT = (
    "INSERT INTO meta_text (key, value) VALUES (?, ?) "
    "ON CONFLICT(key) DO UPDATE SET value = excluded.value"
)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StoreDB:
    """The SQLite file behind one node's tree; build it with :meth:`open`."""

    def __init__(self, conn: sqlite3.Connection, path: Path, synchronous: str) -> None:
        self.path = path
        self.synchronous = synchronous
        self._conn: sqlite3.Connection | None = conn

    @classmethod
    def open(
        cls, db_path: Path, *, synchronous: str = "FULL", autocheckpoint: bool = True
    ) -> StoreDB:
        """Open (creating if needed) and migrate ``db_path``.

        ``synchronous``: ``FULL`` fsyncs every commit (local mode: the only copy);
        ``NORMAL`` (cluster mode, as pmxcfs) makes commits survive a process crash at
        once and a power loss from the next WAL checkpoint on.
        ``autocheckpoint=False``: commits never run a WAL checkpoint (and its fsyncs);
        the owner calls :meth:`checkpoint` (cluster mode does, on its worker thread).
        """
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be FULL or NORMAL, not {synchronous!r}")
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
            conn.execute(f"PRAGMA synchronous={synchronous}")
            if not autocheckpoint:
                conn.execute("PRAGMA wal_autocheckpoint=0")
            conn.executescript(_SCHEMA)
            fsync_dir(db_path.parent)  # the new file's directory entry must be durable too
        except sqlite3.Error as err:
            conn.close()
            hint = " (in use by another process?)" if "locked" in str(err) else ""
            raise StoreError(f"cannot open config store '{db_path}'{hint}: {err}") from err
        except BaseException:
            conn.close()
            raise
        return cls(conn, db_path, synchronous)

    @property
    def conn(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("config store is closed")
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # --- reading --------------------------------------------------------------------
    def meta(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.conn.execute("SELECT key, value FROM meta")}

    def rows(self) -> dict[str, Entry]:
        sql = "SELECT path, data, version, mtime, writer FROM entries"
        return {p: Entry(p, bytes(d), v, m, w) for p, d, v, m, w in self.conn.execute(sql)}

    def lock_rows(self) -> dict[str, tuple[str, float]]:
        sql = "SELECT name, holder, expires FROM locks"
        return {n: (h, x) for n, h, x in self.conn.execute(sql)}

    def load(self) -> Tree:
        """Read the whole file into a new tree; refuse a file whose checksum is off."""
        try:
            meta = self.meta()
            seqs = {o: int(s) for o, s in self.conn.execute("SELECT origin, seq FROM seqs")}
            tree = Tree(self.rows(), self.lock_rows(), seqs, meta["version"], meta["index"])
            tree.epoch = meta["epoch"]
            row = self.conn.execute("SELECT value FROM meta_text WHERE key = 'checksum'")
            stored = row.fetchone()
        except sqlite3.Error as err:
            raise StoreError(f"cannot load config store '{self.path}': {err}") from err
        if stored is not None and stored[0] != tree.checksum():
            raise StoreError(
                f"config store '{self.path}': checksum {tree.checksum()} does not match "
                f"the stored {stored[0]}"
            )
        return tree

    # --- writing --------------------------------------------------------------------
    # A job is the statement list of one transaction, built from the tree on the event
    # loop (cheap) and run by :meth:`run`, possibly in a worker thread (the fsync).
    def prepare_commit(self, tree: Tree) -> list[tuple[str, tuple[object, ...]]]:
        """The statements persisting everything ``tree`` marked dirty; clears the marks."""
        stmts: list[tuple[str, tuple[object, ...]]] = []
        for path in tree.dirty_entries:
            e = tree.entries.get(path)
            if e is None:
                stmts.append((_DELETE, (path,)))
            else:
                stmts.append((_UPSERT, (path, e.data, e.version, e.mtime, e.writer)))
        for name in tree.dirty_locks:
            cur = tree.locks.get(name)
            stmts.append((_LOCK_DEL, (name,)) if cur is None else (_LOCK_PUT, (name, *cur)))
        for origin in tree.dirty_seqs:
            stmts.append((_SEQ_PUT, (origin, tree.seqs[origin])))
        stmts += self._meta(tree)
        tree.clear_dirty()
        return stmts

    def prepare_install(self, tree: Tree) -> list[tuple[str, tuple[object, ...]]]:
        """The statements replacing the whole file by ``tree`` (a state from the cluster)."""
        stmts: list[tuple[str, tuple[object, ...]]] = [
            ("DELETE FROM entries", ()),
            ("DELETE FROM locks", ()),
            ("DELETE FROM seqs", ()),
        ]
        stmts += [(_UPSERT, (e.path, e.data, e.version, e.mtime, e.writer)) for e in tree.walk()]
        stmts += [(_LOCK_PUT, (n, h, x)) for n, (h, x) in tree.locks.items()]
        stmts += [(_SEQ_PUT, (o, s)) for o, s in tree.seqs.items()]
        stmts += self._meta(tree)
        tree.clear_dirty()
        return stmts

    @staticmethod
    def _meta(tree: Tree) -> list[tuple[str, tuple[object, ...]]]:
        return [
            (_META, (tree.gv, "version")),
            (_META, (tree.index, "index")),
            (_META, (tree.epoch, "epoch")),
            (_META_TEXT, ("checksum", tree.checksum())),
        ]

    def commit(self, tree: Tree) -> None:
        """Persist everything ``tree`` marked dirty, in one transaction; clear the marks."""
        if tree.dirty:
            self.run(self.prepare_commit(tree))

    def install(self, tree: Tree) -> None:
        self.run(self.prepare_install(tree))

    def checkpoint(self) -> None:
        """Copy the WAL into the database file (fsyncs both); the WAL then starts over."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as err:
            raise StoreError(f"config store checkpoint failed: {err}") from err

    def run(self, stmts: list[tuple[str, tuple[object, ...]]]) -> None:
        """Execute one job as one transaction (one fsync)."""
        conn = self.conn
        try:
            conn.execute("BEGIN")
            for sql, args in stmts:
                conn.execute(sql, args)
            conn.execute("COMMIT")
        except sqlite3.Error as err:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            raise StoreError(f"config store write failed: {err}") from err
