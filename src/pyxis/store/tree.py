"""The deterministic core of the config store: the in-memory tree and ``apply(op)``.

Local and cluster mode share this module.  :class:`Tree` holds the entries, the sorted
path index, the directory index, the guest-ID index, the named locks, the per-origin
"last processed op" map, the byte total, the global version ``gv`` (bumped by every
versioned mutation, as pmxcfs does) and ``index`` (bumped by every processed op,
failed ones and locks included: the position in the replicated history).

:meth:`Tree.apply` is a pure function of the tree and the :class:`Op`: the op carries
its writer, the proposer's clock reading (``now``, used for mtimes and lock expiry),
expectations and lock TTL, so every replica that applies the same ops in the same order
reaches the same state and the same results.  Errors are returned, not raised, so a
replica can apply a remote op that fails exactly as it failed everywhere else.

The tree also tracks what changed since the last :meth:`~pyxis.store.db.StoreDB.commit`
(dirty sets) so the persistence layer can write a batch of applied ops in one
transaction, and keeps an order-independent checksum (a sum of per-item BLAKE2 hashes)
over entries, locks and the op map, so replicas can be compared byte for byte.
"""

from __future__ import annotations

import bisect
import hashlib
import math
import re
from dataclasses import dataclass, field

from pyxis.errors import Conflict, NotFound, PyxisError, StoreError
from pyxis.store.base import MAX_FILE, MAX_TOTAL, Change, Entry, digest
from pyxis.store.virtual import VMID_RE

MAX_ENTRIES = 256 * 1024  # upstream's inode limit (memdb.h)
MODIFIED = "detected modified configuration - file changed by other user? Try again."
LOST = "config store write lost in a membership change, retry"
OP_KINDS = frozenset({"write", "create", "delete", "rename", "lock", "unlock"})
GUEST_RE = re.compile(r"^nodes/([^/]+)/(qemu-server|lxc)/([^/]+)\.conf\Z")
_MOD = 1 << 128


@dataclass(frozen=True, slots=True)
class Op:
    """One mutation with every input its apply needs.

    ``kind``: write|create|delete|rename|lock|unlock.  ``origin``/``seq`` identify the
    proposer in cluster mode (``seq`` is contiguous per origin); local mode leaves them
    empty.  ``now`` is the proposer's wall clock (seconds) when it built the op.
    """

    kind: str
    path: str
    data: bytes = b""
    new_path: str = ""
    expect_digest: str | None = None
    expect_version: int | None = None
    writer: str = ""
    holder: str = ""
    now: float = 0.0
    ttl: float = 0.0
    origin: str = ""
    seq: int = 0


@dataclass(slots=True)
class Result:
    """What an apply produced: the new entry (writes), an error, or a watch change."""

    entry: Entry | None = None
    error: PyxisError | None = None
    change: Change | None = None

    def unwrap(self) -> Entry | None:
        if self.error is not None:
            raise self.error
        return self.entry


def guest_vmid(path: str) -> str | None:
    """The guest ID of a guest config path (``nodes/<n>/{qemu-server,lxc}/<id>.conf``)."""
    m = GUEST_RE.match(path)
    return m.group(3) if m and VMID_RE.match(m.group(3)) else None


def _h(*parts: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(b"\0".join(parts), digest_size=16).digest(), "big")


def entry_hash(e: Entry) -> int:
    meta = f"{e.version}\0{e.mtime}\0{e.writer}".encode()
    return _h(b"e", e.path.encode(), meta, e.data)


def lock_hash(name: str, holder: str, expires: float) -> int:
    return _h(b"l", name.encode(), holder.encode(), repr(expires).encode())


def seq_hash(origin: str, seq: int) -> int:
    return _h(b"s", origin.encode(), str(seq).encode())


@dataclass
class Tree:
    """The replicated state; see the module docstring."""

    entries: dict[str, Entry] = field(default_factory=dict)
    locks: dict[str, tuple[str, float]] = field(default_factory=dict)
    seqs: dict[str, int] = field(default_factory=dict)
    gv: int = 0
    index: int = 0
    epoch: int = 0

    def __post_init__(self) -> None:
        self.keys: list[str] = sorted(self.entries)
        self.dirs: dict[str, dict[str, int]] = {}
        self.vmids: dict[str, set[str]] = {}
        self.total = 0
        self._hashes: dict[str, int] = {}
        self._acc = 0
        for path, e in self.entries.items():
            self._index_add(path, keep_sorted=False)
            self.total += len(e.data)
            self._hashes[path] = h = entry_hash(e)
            self._acc += h
        for name, (holder, expires) in self.locks.items():
            self._acc += lock_hash(name, holder, expires)
        for origin, seq in self.seqs.items():
            self._acc += seq_hash(origin, seq)
        self._acc %= _MOD
        self.clear_dirty()

    # --- dirty tracking for group commit ------------------------------------------
    def clear_dirty(self) -> None:
        self.dirty_entries: set[str] = set()
        self.dirty_locks: set[str] = set()
        self.dirty_seqs: set[str] = set()
        self.dirty_meta = False

    @property
    def dirty(self) -> bool:
        return bool(self.dirty_meta or self.dirty_entries or self.dirty_locks or self.dirty_seqs)

    # --- reads ------------------------------------------------------------------------
    def checksum(self) -> str:
        """Order-independent digest of entries, locks, the op map, ``gv`` and ``index``."""
        raw = self._acc.to_bytes(16, "big") + f"{self.gv}:{self.index}".encode()
        return hashlib.blake2b(raw, digest_size=20).hexdigest()

    def walk(self, prefix: str = "") -> list[Entry]:
        keys, out = self.keys, []
        for i in range(bisect.bisect_left(keys, prefix), len(keys)):
            if not keys[i].startswith(prefix):
                break
            out.append(self.entries[keys[i]])
        return out

    def lock_holder(self, name: str, now: float) -> str | None:
        cur = self.locks.get(name)
        return cur[0] if cur and cur[1] > now else None

    # --- the deterministic apply ----------------------------------------------------------
    def apply(self, op: Op) -> Result:
        """Apply ``op``; the result depends only on the tree and the op's fields."""
        self.index += 1
        self.dirty_meta = True
        if op.origin:
            if op.seq != self.seqs.get(op.origin, 0) + 1:
                # A gap: an earlier op of this origin never made it into this history,
                # so this one must not either (the proposer relies on contiguity).
                return Result(error=StoreError(LOST))
            self._set_seq(op.origin, op.seq)
        handler = getattr(self, f"_op_{op.kind}", None) if op.kind in OP_KINDS else None
        if handler is None:
            return Result(error=StoreError(f"unknown config store operation '{op.kind}'"))
        try:
            return handler(op)  # type: ignore[no-any-return]
        except PyxisError as err:
            return Result(error=err)
        except (TypeError, ValueError, ArithmeticError) as err:
            # a malformed op (e.g. from a node of another version) fails the same way on
            # every replica instead of raising out of the delivery callback
            return Result(error=StoreError(f"malformed config store operation: {err}"))

    def _op_write(self, op: Op) -> Result:
        old = self.entries.get(op.path)
        # A missing file compares as empty content / version 0: upstream parsers report
        # sha1("") as the digest of an absent config, so that digest may create it.
        if op.expect_digest is not None and op.expect_digest != digest(old.data if old else b""):
            raise Conflict(MODIFIED)
        if op.expect_version is not None and op.expect_version != (old.version if old else 0):
            raise Conflict(MODIFIED)
        return self._put(op, old)

    def _op_create(self, op: Op) -> Result:
        if op.path in self.entries:
            raise Conflict(f"config file '{op.path}' already exists")
        return self._put(op, None)

    def _op_delete(self, op: Op) -> Result:
        old = self.entries.get(op.path)
        if old is None:
            raise NotFound(f"config file '{op.path}' does not exist")
        if op.expect_digest is not None and op.expect_digest != digest(old.data):
            raise Conflict(MODIFIED)
        self.gv += 1
        self._remove(op.path)
        return Result(change=Change("delete", op.path, self.gv))

    def _op_rename(self, op: Op) -> Result:
        src, dst = op.path, op.new_path
        old = self.entries.get(src)
        if old is None:
            raise NotFound(f"config file '{src}' does not exist")
        if dst in self.entries:
            raise Conflict(f"config file '{dst}' already exists")
        self._check_place(dst, moving_from=src)
        self.gv += 1
        entry = Entry(dst, old.data, self.gv, int(op.now), old.writer)
        self._remove(src)
        self._store(entry)
        return Result(entry=entry, change=Change("rename", src, self.gv, new_path=dst))

    def _op_lock(self, op: Op) -> Result:
        expires = op.now + op.ttl
        if not math.isfinite(expires) or op.ttl <= 0:
            raise StoreError(f"invalid lock expiry for '{op.path}'")  # before any change
        cur = self.locks.get(op.path)
        if cur is not None and cur[0] != op.holder and cur[1] > op.now:
            raise Conflict(f"can't lock '{op.path}' - held by {cur[0]}")
        self._set_lock(op.path, (op.holder, expires))
        return Result()

    def _op_unlock(self, op: Op) -> Result:
        cur = self.locks.get(op.path)
        if cur is not None and cur[0] == op.holder:
            self._set_lock(op.path, None)
        return Result()

    def _put(self, op: Op, old: Entry | None) -> Result:
        path, size = op.path, len(op.data)
        if size > MAX_FILE:
            raise StoreError(f"file '{path}' too large: {size} bytes (limit {MAX_FILE} bytes)")
        total = self.total + size - (len(old.data) if old else 0)
        if total > MAX_TOTAL:
            raise StoreError(
                f"cannot write '{path}': config store would hold {total} bytes "
                f"(limit {MAX_TOTAL} bytes)"
            )
        if old is None:
            if len(self.entries) >= MAX_ENTRIES:
                raise StoreError(f"cannot create '{path}': limit of {MAX_ENTRIES} entries reached")
            self._check_place(path)
        self.gv += 1
        entry = Entry(path, op.data, self.gv, int(op.now), op.writer)
        self._store(entry)
        return Result(entry=entry, change=Change("write", path, self.gv))

    def _check_place(self, path: str, moving_from: str | None = None) -> None:
        """A path cannot be both a file and a directory (as in pmxcfs), and a guest ID
        lives in exactly one guest config cluster-wide."""
        if path in self.dirs:
            raise Conflict(f"cannot write '{path}': it is a directory")
        for i, ch in enumerate(path):
            if ch == "/" and path[:i] in self.entries:
                raise Conflict(f"cannot write '{path}': '{path[:i]}' is a file")
        vmid = guest_vmid(path)
        if vmid is not None:
            others = sorted(self.vmids.get(vmid, set()) - {moving_from})
            if others:
                node = others[0].split("/")[1]
                raise Conflict(f"VM {vmid} already exists on node '{node}'")

    # --- primitive mutations (indexes, totals, checksum, dirty sets) ------------------
    def _store(self, entry: Entry) -> None:
        path = entry.path
        old = self.entries.get(path)
        if old is None:
            self._index_add(path, keep_sorted=True)
        else:
            self.total -= len(old.data)
            self._acc -= self._hashes[path]
        self.entries[path] = entry
        self.total += len(entry.data)
        self._hashes[path] = h = entry_hash(entry)
        self._acc = (self._acc + h) % _MOD
        self.dirty_entries.add(path)

    def _remove(self, path: str) -> None:
        old = self.entries.pop(path)
        self.total -= len(old.data)
        self._acc = (self._acc - self._hashes.pop(path)) % _MOD
        self._index_remove(path)
        self.dirty_entries.add(path)

    def _set_lock(self, name: str, value: tuple[str, float] | None) -> None:
        cur = self.locks.pop(name, None)
        if cur is not None:
            self._acc -= lock_hash(name, *cur)
        if value is not None:
            self.locks[name] = value
            self._acc += lock_hash(name, *value)
        self._acc %= _MOD
        self.dirty_locks.add(name)

    def _set_seq(self, origin: str, seq: int) -> None:
        cur = self.seqs.get(origin)
        if cur is not None:
            self._acc -= seq_hash(origin, cur)
        self.seqs[origin] = seq
        self._acc = (self._acc + seq_hash(origin, seq)) % _MOD
        self.dirty_seqs.add(origin)

    def _index_add(self, path: str, *, keep_sorted: bool) -> None:
        if keep_sorted:
            bisect.insort(self.keys, path)
        dirs_add(self.dirs, path)
        vmid = guest_vmid(path)
        if vmid is not None:
            self.vmids.setdefault(vmid, set()).add(path)

    def _index_remove(self, path: str) -> None:
        del self.keys[bisect.bisect_left(self.keys, path)]
        parent = ""
        for name in path.split("/"):
            kids = self.dirs[parent]
            if kids[name] == 1:
                del kids[name]
                if not kids:
                    del self.dirs[parent]
            else:
                kids[name] -= 1
            parent = f"{parent}/{name}" if parent else name
        vmid = guest_vmid(path)
        if vmid is not None:
            paths = self.vmids[vmid]
            paths.discard(path)
            if not paths:
                del self.vmids[vmid]

    def replace_with(self, other: Tree) -> list[Change]:
        """Install ``other``'s state in place (a sync); return changes for differing paths."""
        changes: list[Change] = []
        for path in sorted(set(self.entries) | set(other.entries)):
            new = other.entries.get(path)
            if new is None:
                changes.append(Change("delete", path, other.gv))
            elif self.entries.get(path) != new:
                changes.append(Change("write", path, new.version))
        epoch = self.epoch
        self.__dict__.update(other.__dict__)
        self.epoch = epoch
        self.clear_dirty()
        return changes


def dirs_add(dirs: dict[str, dict[str, int]], path: str) -> None:
    parent = ""
    for name in path.split("/"):
        kids = dirs.setdefault(parent, {})
        kids[name] = kids.get(name, 0) + 1
        parent = f"{parent}/{name}" if parent else name
