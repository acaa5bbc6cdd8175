"""The config store as a file system: what each FUSE request does to the store.

The view pmxcfs gives at ``/etc/pve``: the store's files and directories, the virtual
JSON files (``.members``, ``.vmlist``, ``.version``) and the node links (``local``,
``qemu-server``, ``lxc`` point into ``nodes/<this node>``).  Like pmxcfs it is not POSIX:

- a file is written to the store when it is closed (``flush``) or ``fsync``'d, as a
  whole, so a reader never sees half an edit (an existing file truncated but not yet
  written is stored at its last close, so ``> file`` never shows it empty);
  ``rename`` onto an existing file is a write of the destination plus a delete of the
  source (two store operations);
- without quorum every mode loses its write bits and writes fail with ``EACCES``
  (upstream's gating); ``chmod``/``chown`` fail with ``EPERM`` unless they change
  nothing (files are root's, 0640, 0600 below ``priv/``); no symlinks or devices;
- directories exist while they hold files (the store keeps no empty ones), except this
  node's ``nodes/<node>/{qemu-server,lxc}``; ``mkdir`` makes one that lives in this
  mount only, until a file is written into it;
- a file that a validator refuses (``corosync.conf`` that does not parse, renames the
  cluster or does not raise ``config_version``) fails with ``EINVAL`` and the reason is
  logged; the store keeps the previous content.  Such a guarded file cannot be deleted
  or renamed away (``EPERM``), and is written only over the content it was checked
  against (``EAGAIN`` when another writer came first);
- sizes follow the store's limits (``EFBIG`` above 1 MiB per file); after a refused
  write the open file stores nothing on close (its close fails with the same error).

Nothing is cached by the kernel (zero entry/attribute timeouts, direct I/O), since any
node may change any file at any time.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from dataclasses import dataclass

import pyfuse3

from pyxis.cfs.sources import Sources
from pyxis.errors import Conflict, NotFound, PyxisError, QuorumError, StoreError
from pyxis.store.base import MAX_FILE, MAX_TOTAL, ConfigStore, check_path, digest
from pyxis.store.tree import MODIFIED

log = logging.getLogger("pyxis.cfs")


@dataclass(eq=False)
class Handle:
    path: str
    data: bytearray
    write: bool
    dirty: bool = False
    new: bool = False
    written: bool = False  # data written (or ftruncate'd) through this handle
    gen: int = 0  # bumped by every change of data: a commit clears dirty only if current
    gone: bool = False  # its file was unlinked or replaced: it stores nothing any more
    error: int = 0  # a refused write poisons the handle: its content is never stored

    def changed(self) -> None:
        """Its data was written or truncated through it."""
        self.dirty = self.written = True
        self.gen += 1


def _resize(data: bytearray, size: int) -> bytearray:
    """``data`` cut or zero-padded to ``size`` bytes, in place."""
    del data[size:]
    data.extend(bytes(size - len(data)))
    return data


def _fail(code: int) -> pyfuse3.FUSEError:
    return pyfuse3.FUSEError(code)


def store_errno(err: PyxisError) -> int:
    """The errno an application sees for a refused store operation."""
    if isinstance(err, QuorumError):
        return errno.EACCES
    if isinstance(err, NotFound):
        return errno.ENOENT
    if isinstance(err, Conflict):
        return errno.EAGAIN if err.message == MODIFIED else errno.EEXIST
    if isinstance(err, StoreError):
        if "too large" in err.message:
            return errno.EFBIG
        if "limit of" in err.message or "would hold" in err.message:
            return errno.ENOSPC
    return errno.EIO


class StoreFS(pyfuse3.Operations):  # type: ignore[misc]
    """pyfuse3 operations over a ``ConfigStore``; see the module docstring."""

    enable_writeback_cache = False
    supports_dot_lookup = True

    def __init__(self, src: Sources) -> None:
        super().__init__()
        self.src = src
        node = src.node
        self.links = {
            "local": f"nodes/{node}",
            "qemu-server": f"nodes/{node}/qemu-server",
            "lxc": f"nodes/{node}/lxc",
        }
        self._ino: dict[str, int] = {"": pyfuse3.ROOT_INODE}
        self._path: dict[int, str] = {pyfuse3.ROOT_INODE: ""}
        self._handles: dict[int, Handle] = {}
        self._next_fh = 1
        self._new: dict[str, Handle] = {}  # created, not yet written to the store
        self.mkdirs: set[str] = set()  # empty directories of this mount
        # the node's own directories exist even while empty, as pmxcfs makes them
        self.fixed = {"nodes", f"nodes/{node}", f"nodes/{node}/qemu-server", f"nodes/{node}/lxc"}

    # --- paths and inodes --------------------------------------------------------
    @property
    def store(self) -> ConfigStore:
        return self.src.store()

    def inode(self, path: str) -> int:
        ino = self._ino.get(path)
        if ino is None:
            ino = len(self._path) + pyfuse3.ROOT_INODE
            self._ino[path], self._path[ino] = ino, path
        return ino

    def path_of(self, ino: int) -> str:
        try:
            return self._path[ino]
        except KeyError:
            raise _fail(errno.ENOENT) from None

    def child(self, parent: int, name: bytes) -> str:
        base = self.path_of(parent)
        try:
            text = os.fsdecode(name)
            path = f"{base}/{text}" if base else text
            check_path(path)
        except (UnicodeError, PyxisError):
            raise _fail(errno.EINVAL) from None
        return path

    def kind(self, path: str) -> str | None:
        """``dir``, ``file``, ``virtual``, ``link`` or None (does not exist)."""
        if path == "":
            return "dir"
        if path in self.links:
            return "link"
        if path in self.src.virtual:
            return "virtual"
        store = self.store
        if path in self._new or store.get(path) is not None:
            return "file"
        if path in self.mkdirs or path in self.fixed or store.listdir(path):
            return "dir"
        return None

    def children(self, path: str) -> list[str]:
        names = set(self.store.listdir(path))
        prefix = f"{path}/" if path else ""
        for p in (*self.mkdirs, *self.fixed, *self._new):
            if p.startswith(prefix) and p != path:
                names.add(p[len(prefix) :].split("/", 1)[0])
        if path == "":
            names.update(self.links, self.src.virtual)
        return sorted(names)

    # --- attributes ----------------------------------------------------------------
    def content(self, path: str) -> bytes:
        h = self._new.get(path)
        if h is not None:
            return bytes(h.data)
        maker = self.src.virtual.get(path)
        if maker is not None:
            return maker()
        data = self.store.read(path)
        if data is None:
            raise _fail(errno.ENOENT)
        return data

    def attrs(self, path: str) -> pyfuse3.EntryAttributes:
        kind = self.kind(path)
        if kind is None:
            raise _fail(errno.ENOENT)
        a = pyfuse3.EntryAttributes()
        a.st_ino = self.inode(path)
        a.entry_timeout = 0
        a.attr_timeout = 0
        a.st_uid = a.st_gid = 0
        a.st_blksize = 4096
        mtime = time.time()
        writable = self.store.writable
        private = path == "priv" or path.startswith("priv/")
        if kind == "dir":
            a.st_mode = stat.S_IFDIR | (0o700 if private else 0o755)
            a.st_nlink = 2
            size = 0
        elif kind == "link":
            a.st_mode = stat.S_IFLNK | 0o777
            a.st_nlink = 1
            size = len(self.links[path])
            writable = True
        else:
            a.st_mode = stat.S_IFREG | (0o600 if private else 0o640)
            a.st_nlink = 1
            entry = self.store.get(path) if kind == "file" else None
            size = len(entry.data) if entry is not None else len(self.content(path))
            if entry is not None:
                mtime = float(entry.mtime)
            if kind == "virtual":
                a.st_mode = stat.S_IFREG | 0o444
        if not writable:
            a.st_mode &= ~0o222
        a.st_size = size
        a.st_blocks = (size + 511) // 512
        a.st_atime_ns = a.st_mtime_ns = a.st_ctime_ns = int(mtime * 1e9)
        return a

    def _require_writable(self) -> None:
        if not self.store.writable:
            raise _fail(errno.EACCES)

    # --- lookups and directories ----------------------------------------------------
    async def lookup(
        self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        if name == b".":
            return self.attrs(self.path_of(parent_inode))
        if name == b"..":
            return self.attrs(self.path_of(parent_inode).rpartition("/")[0])
        return self.attrs(self.child(parent_inode, name))

    async def getattr(
        self, inode: int, ctx: pyfuse3.RequestContext | None = None
    ) -> pyfuse3.EntryAttributes:
        return self.attrs(self.path_of(inode))

    async def readlink(self, inode: int, ctx: pyfuse3.RequestContext) -> bytes:
        path = self.path_of(inode)
        if path not in self.links:
            raise _fail(errno.EINVAL)
        return os.fsencode(self.links[path])

    async def opendir(self, inode: int, ctx: pyfuse3.RequestContext) -> int:
        if self.kind(self.path_of(inode)) != "dir":
            raise _fail(errno.ENOTDIR)
        return inode

    async def readdir(self, fh: int, start_id: int, token: pyfuse3.ReaddirToken) -> None:
        path = self.path_of(fh)
        names = self.children(path)
        for i, name in enumerate(names[start_id:], start_id):
            child = f"{path}/{name}" if path else name
            try:
                a = self.attrs(child)
            except pyfuse3.FUSEError:
                continue  # gone meanwhile
            if not pyfuse3.readdir_reply(token, os.fsencode(name), a, i + 1):
                break

    async def mkdir(
        self, parent_inode: int, name: bytes, mode: int, ctx: pyfuse3.RequestContext
    ) -> pyfuse3.EntryAttributes:
        path = self.child(parent_inode, name)
        self._require_writable()
        if self.kind(path) is not None:
            raise _fail(errno.EEXIST)
        self.mkdirs.add(path)
        return self.attrs(path)

    async def rmdir(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        path = self.child(parent_inode, name)
        if self.kind(path) != "dir":
            raise _fail(errno.ENOTDIR if self.kind(path) else errno.ENOENT)
        if self.store.listdir(path) or any(p.startswith(f"{path}/") for p in self.mkdirs):
            raise _fail(errno.ENOTEMPTY)
        if path in self.fixed:
            raise _fail(errno.EACCES)
        self.mkdirs.discard(path)

    async def statfs(self, ctx: pyfuse3.RequestContext) -> pyfuse3.StatvfsData:
        s = pyfuse3.StatvfsData()
        used = int(getattr(self.store, "total_bytes", 0))
        s.f_bsize = s.f_frsize = 4096
        s.f_blocks = MAX_TOTAL // 4096
        s.f_bfree = s.f_bavail = max(0, MAX_TOTAL - used) // 4096
        s.f_files = 262144
        s.f_ffree = s.f_favail = max(0, 262144 - len(self._ino))
        s.f_namemax = 255
        return s

    # --- files -------------------------------------------------------------------------
    def _open(
        self, path: str, data: bytes, write: bool, *, new: bool = False, dirty: bool = False
    ) -> int:
        fh = self._next_fh
        self._next_fh += 1
        h = Handle(path, bytearray(data), write, dirty=dirty or new, new=new)
        self._handles[fh] = h
        if new:
            self._new[path] = h
        return fh

    def handle(self, fh: int) -> Handle:
        try:
            return self._handles[fh]
        except KeyError:
            raise _fail(errno.EBADF) from None

    async def open(self, inode: int, flags: int, ctx: pyfuse3.RequestContext) -> pyfuse3.FileInfo:
        path = self.path_of(inode)
        kind = self.kind(path)
        if kind not in ("file", "virtual"):
            raise _fail(errno.EISDIR if kind == "dir" else errno.ENOENT)
        write = flags & os.O_ACCMODE != os.O_RDONLY
        if write:
            if kind == "virtual":
                raise _fail(errno.EACCES)
            self._require_writable()
        trunc = write and bool(flags & os.O_TRUNC)
        fh = self._open(path, b"" if trunc else self.content(path), write, dirty=trunc)
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False)

    async def create(
        self, parent_inode: int, name: bytes, mode: int, flags: int, ctx: pyfuse3.RequestContext
    ) -> tuple[pyfuse3.FileInfo, pyfuse3.EntryAttributes]:
        path = self.child(parent_inode, name)
        self._require_writable()
        if self.kind(path) is not None:
            raise _fail(errno.EEXIST)
        if not stat.S_ISREG(mode) and stat.S_IFMT(mode):
            raise _fail(errno.EPERM)
        fh = self._open(path, b"", True, new=True)
        return pyfuse3.FileInfo(fh=fh, direct_io=True, keep_cache=False), self.attrs(path)

    async def read(self, fh: int, off: int, size: int) -> bytes:
        return bytes(self.handle(fh).data[off : off + size])

    async def write(self, fh: int, off: int, buf: bytes) -> int:
        h = self.handle(fh)
        if not h.write:
            raise _fail(errno.EBADF)
        end = off + len(buf)
        if end > MAX_FILE:
            h.error = errno.EFBIG
            raise _fail(errno.EFBIG)
        if off > len(h.data):
            _resize(h.data, off)
        h.data[off:end] = buf
        h.changed()
        return len(buf)

    async def flush(self, fh: int) -> None:
        h = self.handle(fh)
        if h.dirty and not h.written and not h.new:
            # truncated but not written yet: a shell's ``> file`` closes its first
            # descriptor before the command writes; storing the empty file now would
            # show it empty to every node.  The release stores it.
            return
        await self.commit(h)

    async def fsync(self, fh: int, datasync: bool) -> None:
        await self.commit(self.handle(fh))

    async def release(self, fh: int) -> None:
        h = self._handles.pop(fh, None)
        if h is None:
            return
        if h.dirty and not h.error and not h.gone:
            with contextlib.suppress(pyfuse3.FUSEError):  # logged; nobody to tell
                await self.commit(h)
        if self._new.get(h.path) is h:
            del self._new[h.path]  # never stored (refused): it does not exist

    async def commit(self, h: Handle) -> None:
        """Write a changed handle's whole content to the store (validated)."""
        if h.error:
            raise _fail(h.error)
        if not h.dirty or h.gone:
            return
        gen = h.gen
        try:
            await self._put(h.path, bytes(h.data))
        except pyfuse3.FUSEError as err:
            h.error = err.errno
            raise
        if h.gen == gen:  # else written again meanwhile: the next flush stores that
            h.dirty = False
        if self._new.get(h.path) is h:
            del self._new[h.path]
        self._drop_mkdirs(h.path)

    def _check(self, store: ConfigStore, path: str, data: bytes) -> str | None:
        """Validate ``data`` for ``path``; return the digest a guarded write expects."""
        if self.src.validate is not None:
            why = self.src.validate(store, path, data)
            if why is not None:
                log.warning("refused a write of '%s' through the file system: %s", path, why)
                raise _fail(errno.EINVAL)
        if path in self.src.guarded:
            current = store.read(path)
            return digest(current) if current is not None else None
        return None

    async def _put(self, path: str, data: bytes) -> None:
        store = self.store
        expect = self._check(store, path, data)
        try:
            await store.write(path, data, writer=self.src.node, expect_digest=expect)
        except PyxisError as err:
            log.warning("writing '%s' through the file system failed: %s", path, err.message)
            raise _fail(store_errno(err)) from None

    def _drop_mkdirs(self, path: str) -> None:
        """Local empty directories above a written file now exist in the store."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            self.mkdirs.discard("/".join(parts[:i]))

    async def setattr(
        self,
        inode: int,
        attr: pyfuse3.EntryAttributes,
        fields: pyfuse3.SetattrFields,
        fh: int | None,
        ctx: pyfuse3.RequestContext,
    ) -> pyfuse3.EntryAttributes:
        path = self.path_of(inode)
        if fields.update_mode or fields.update_uid or fields.update_gid:
            shown = self.attrs(path)  # allowed only as a no-op (cp -p, sed -i do that)
            same_mode = stat.S_IMODE(attr.st_mode) == stat.S_IMODE(shown.st_mode)
            if (
                (fields.update_mode and not same_mode)
                or (fields.update_uid and attr.st_uid != 0)
                or (fields.update_gid and attr.st_gid != 0)
            ):
                raise _fail(errno.EPERM)
        if fields.update_size:
            kind = self.kind(path)
            if kind != "file":
                raise _fail(errno.EISDIR if kind == "dir" else errno.EACCES)
            self._require_writable()
            size = attr.st_size
            if size > MAX_FILE:
                raise _fail(errno.EFBIG)
            h = self._handles.get(fh) if fh is not None else self._new.get(path)
            if h is not None:
                _resize(h.data, size)
                h.changed()
            else:  # truncate(2) by path: write it now
                await self._put(path, bytes(_resize(bytearray(self.content(path)), size)))
        return self.attrs(path)  # times are the store's: utimes succeed, change nothing

    async def unlink(self, parent_inode: int, name: bytes, ctx: pyfuse3.RequestContext) -> None:
        path = self.child(parent_inode, name)
        kind = self.kind(path)
        if kind == "dir":
            raise _fail(errno.EISDIR)
        if kind in ("virtual", "link"):
            raise _fail(errno.EACCES)
        if path in self.src.guarded:
            raise _fail(errno.EPERM)
        if path in self._new and self.store.get(path) is None:
            self._forget_handles(path)
            return
        try:
            await self.store.delete(path)
        except PyxisError as err:
            raise _fail(store_errno(err)) from None
        self._forget_handles(path)

    def _forget_handles(self, path: str) -> None:
        """Open handles of an unlinked or replaced file store nothing any more."""
        for h in self._handles.values():
            if h.path == path:
                h.gone = True
        self._new.pop(path, None)

    def _move_handles(self, src: str, dst: str) -> None:
        """Open handles follow their file to its new name (as a descriptor does)."""
        for h in self._handles.values():
            if h.path == src and not h.gone:
                h.path = dst
        pending = self._new.pop(src, None)
        if pending is not None:
            self._new[dst] = pending

    async def rename(
        self,
        parent_inode_old: int,
        name_old: bytes,
        parent_inode_new: int,
        name_new: bytes,
        flags: int,
        ctx: pyfuse3.RequestContext,
    ) -> None:
        src = self.child(parent_inode_old, name_old)
        dst = self.child(parent_inode_new, name_new)
        self._require_writable()
        kind, dst_kind = self.kind(src), self.kind(dst)
        if kind is None:
            raise _fail(errno.ENOENT)
        if kind != "file" or dst_kind not in (None, "file"):
            raise _fail(errno.EXDEV if kind == "dir" else errno.EACCES)
        if flags & pyfuse3.RENAME_EXCHANGE:
            raise _fail(errno.EINVAL)
        if dst_kind is not None and flags & pyfuse3.RENAME_NOREPLACE:
            raise _fail(errno.EEXIST)
        if src in self.src.guarded:
            raise _fail(errno.EPERM)
        pending = self._new.get(src)
        if pending is not None and self.store.get(src) is None:
            await self.commit(pending)  # renamed before it was ever closed
        store = self.store
        data = self.content(src)
        expect = self._check(store, dst, data)
        try:
            if dst_kind is None:
                await store.rename(src, dst)
            else:  # the store refuses to rename over a file: replace it, then drop src
                await store.write(dst, data, writer=self.src.node, expect_digest=expect)
                await store.delete(src)
        except PyxisError as err:
            log.warning("renaming '%s' to '%s' failed: %s", src, dst, err.message)
            raise _fail(store_errno(err)) from None
        self._forget_handles(dst)
        self._move_handles(src, dst)
        self._drop_mkdirs(dst)
