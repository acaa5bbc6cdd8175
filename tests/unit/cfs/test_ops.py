"""The config store view's operations, called directly (no mount; see tests/system for one)."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

pyfuse3 = pytest.importorskip("pyfuse3")

from pyxis.cfs.mount import check_corosync_edit  # noqa: E402
from pyxis.cfs.ops import StoreFS  # noqa: E402
from pyxis.cfs.sources import Sources  # noqa: E402
from pyxis.cluster import corosync_conf as cc  # noqa: E402
from pyxis.store.local import LocalStore  # noqa: E402

CTX: Any = None
ROOT = pyfuse3.ROOT_INODE


class ReadOnly:
    """A store wrapper that reports no quorum (the view must refuse writes)."""

    def __init__(self, store: LocalStore) -> None:
        self._s = store

    writable = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s, name)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[LocalStore]:
    s = LocalStore.open(tmp_path / "config.db", "n1")
    await s.write("storage.cfg", b"dir: local\n")
    await s.write("nodes/n1/qemu-server/100.conf", b"memory: 512\n")
    await s.write("priv/shadow.cfg", b"secret\n")
    yield s
    await s.close()


def _fs(store: Any) -> StoreFS:
    return StoreFS(
        Sources(lambda: store, "n1", {".version": lambda: b'{"version": 1}\n'}, check_corosync_edit)
    )


async def _ino(fs: StoreFS, path: str) -> int:
    ino = ROOT
    for part in path.split("/"):
        ino = (await fs.lookup(ino, part.encode(), CTX)).st_ino
    return int(ino)


async def _listing(fs: StoreFS, path: str) -> list[str]:
    names: list[str] = []
    real = pyfuse3.readdir_reply

    def reply(_tok: object, name: bytes, _attr: object, _next: int) -> bool:
        names.append(name.decode())
        return True

    pyfuse3.readdir_reply = reply
    try:
        fh = await fs.opendir(await _ino(fs, path) if path else ROOT, CTX)
        await fs.readdir(fh, 0, None)
    finally:
        pyfuse3.readdir_reply = real
    return names


async def _write_file(fs: StoreFS, path: str, data: bytes) -> None:
    parent, _, name = path.rpartition("/")
    pino = await _ino(fs, parent) if parent else ROOT
    try:
        ino = await _ino(fs, path)
    except pyfuse3.FUSEError:
        info, _ = await fs.create(pino, name.encode(), stat.S_IFREG | 0o644, os.O_WRONLY, CTX)
    else:
        info = await fs.open(ino, os.O_WRONLY | os.O_TRUNC, CTX)
    await fs.write(info.fh, 0, data)
    try:
        await fs.flush(info.fh)
    finally:
        await fs.release(info.fh)


async def _errno(coro: Any) -> int:
    with pytest.raises(pyfuse3.FUSEError) as ei:
        await coro
    return int(ei.value.errno)


async def test_tree_links_and_virtual_files(store: LocalStore) -> None:
    fs = _fs(store)
    assert await _listing(fs, "") == [
        ".version",
        "local",
        "lxc",
        "nodes",
        "priv",
        "qemu-server",
        "storage.cfg",
    ]
    ino = await _ino(fs, "qemu-server")
    assert await fs.readlink(ino, CTX) == b"nodes/n1/qemu-server"
    conf = await fs.getattr(await _ino(fs, "nodes/n1/qemu-server/100.conf"))
    assert stat.S_IMODE(conf.st_mode) == 0o640 and conf.st_size == len(b"memory: 512\n")
    priv = await fs.getattr(await _ino(fs, "priv/shadow.cfg"))
    assert stat.S_IMODE(priv.st_mode) == 0o600
    info = await fs.open(await _ino(fs, ".version"), os.O_RDONLY, CTX)
    assert await fs.read(info.fh, 0, 100) == b'{"version": 1}\n'
    assert await _errno(fs.open(await _ino(fs, ".version"), os.O_WRONLY, CTX)) == errno.EACCES
    assert await _errno(fs.lookup(ROOT, b"nope", CTX)) == errno.ENOENT
    assert await _errno(fs.lookup(ROOT, b"bad name", CTX)) == errno.EINVAL


async def test_write_is_stored_on_close_as_a_whole(store: LocalStore) -> None:
    fs = _fs(store)
    ino = await _ino(fs, "storage.cfg")
    info = await fs.open(ino, os.O_RDWR, CTX)
    await fs.write(info.fh, 0, b"DIR")
    assert store.read("storage.cfg") == b"dir: local\n"  # nothing until close
    await fs.flush(info.fh)
    await fs.release(info.fh)
    assert store.read("storage.cfg") == b"DIR: local\n"
    await _write_file(fs, "nodes/n1/lxc/200.conf", b"arch: amd64\n")
    assert store.read("nodes/n1/lxc/200.conf") == b"arch: amd64\n"


async def test_too_large_write_stores_nothing(store: LocalStore) -> None:
    fs = _fs(store)
    info = await fs.open(await _ino(fs, "storage.cfg"), os.O_WRONLY | os.O_TRUNC, CTX)
    await fs.write(info.fh, 0, b"x" * 1024)
    assert await _errno(fs.write(info.fh, 1024, b"x" * (1 << 20))) == errno.EFBIG
    assert await _errno(fs.flush(info.fh)) == errno.EFBIG
    await fs.release(info.fh)
    assert store.read("storage.cfg") == b"dir: local\n"


async def test_mkdir_rename_unlink(store: LocalStore) -> None:
    fs = _fs(store)
    await fs.mkdir(ROOT, b"sdn", 0o755, CTX)
    assert "sdn" in await _listing(fs, "")
    await _write_file(fs, "sdn/zones.cfg.new", b"simple: z1\n")
    sdn = await _ino(fs, "sdn")
    # rename over an existing file replaces it (the editor's write-then-rename)
    await _write_file(fs, "sdn/zones.cfg", b"old\n")
    await fs.rename(sdn, b"zones.cfg.new", sdn, b"zones.cfg", 0, CTX)
    assert store.read("sdn/zones.cfg") == b"simple: z1\n"
    assert store.read("sdn/zones.cfg.new") is None
    noreplace = pyfuse3.RENAME_NOREPLACE
    await _write_file(fs, "sdn/vnets.cfg", b"v\n")
    code = await _errno(fs.rename(sdn, b"vnets.cfg", sdn, b"zones.cfg", noreplace, CTX))
    assert code == errno.EEXIST
    assert await _errno(fs.rmdir(ROOT, b"sdn", CTX)) == errno.ENOTEMPTY
    await fs.unlink(sdn, b"vnets.cfg", CTX)
    await fs.unlink(sdn, b"zones.cfg", CTX)
    assert store.listdir("sdn") == []
    assert await _errno(fs.unlink(ROOT, b"local", CTX)) == errno.EACCES


async def test_guest_id_clash_is_eexist(store: LocalStore) -> None:
    fs = _fs(store)
    await fs.mkdir(await _ino(fs, "nodes"), b"n2", 0o755, CTX)
    await fs.mkdir(await _ino(fs, "nodes/n2"), b"qemu-server", 0o755, CTX)
    with pytest.raises(pyfuse3.FUSEError) as ei:
        await _write_file(fs, "nodes/n2/qemu-server/100.conf", b"memory: 1\n")
    assert ei.value.errno == errno.EEXIST  # VM 100 exists on n1
    assert store.read("nodes/n2/qemu-server/100.conf") is None


async def test_without_quorum_nothing_is_writable(store: LocalStore) -> None:
    fs = _fs(ReadOnly(store))
    a = await fs.getattr(await _ino(fs, "storage.cfg"))
    assert stat.S_IMODE(a.st_mode) == 0o440
    ino = await _ino(fs, "storage.cfg")
    assert await _errno(fs.open(ino, os.O_WRONLY, CTX)) == errno.EACCES
    assert await _errno(fs.create(ROOT, b"x.cfg", 0o644, os.O_WRONLY, CTX)) == errno.EACCES
    assert await _errno(fs.mkdir(ROOT, b"d", 0o755, CTX)) == errno.EACCES


def _conf(version: int, name: str = "lab") -> bytes:
    conf = cc.CorosyncConf()
    conf.totem.cluster_name = name
    conf.totem.config_version = version
    conf.nodes = [cc.Node(name="n1", nodeid=1, rings={0: "192.0.2.1"})]
    return cc.render(conf).encode()


async def test_corosync_conf_edits_are_validated(store: LocalStore) -> None:
    fs = _fs(store)
    with pytest.raises(pyfuse3.FUSEError) as ei:
        await _write_file(fs, "corosync.conf", _conf(2))
    assert ei.value.errno == errno.EINVAL  # not clustered: pvecm create makes it
    assert store.read("corosync.conf") is None
    await store.write("corosync.conf", _conf(3))
    for bad in (b"totem {\n  cluster_name: lab\n", _conf(3), _conf(4, "other")):
        with pytest.raises(pyfuse3.FUSEError) as ei:
            await _write_file(fs, "corosync.conf", bad)
        assert ei.value.errno == errno.EINVAL
        assert store.read("corosync.conf") == _conf(3)
    await _write_file(fs, "corosync.conf", _conf(4))
    assert store.read("corosync.conf") == _conf(4)
    assert (
        check_corosync_edit(store, "corosync.conf", b"\xff") == "corosync.conf must be UTF-8 text"
    )
    assert "raised above 4" in str(check_corosync_edit(store, "corosync.conf", _conf(4)))


async def test_shell_redirect_never_shows_the_file_empty(store: LocalStore) -> None:
    fs = _fs(store)
    ino = await _ino(fs, "storage.cfg")
    info = await fs.open(ino, os.O_WRONLY | os.O_TRUNC, CTX)
    await fs.flush(info.fh)  # the shell closes its first descriptor before writing
    assert store.read("storage.cfg") == b"dir: local\n"
    await fs.write(info.fh, 0, b"dir: other\n")
    await fs.flush(info.fh)
    assert store.read("storage.cfg") == b"dir: other\n"
    await fs.release(info.fh)
    # ": > file" empties it for real, at the last close
    info = await fs.open(ino, os.O_WRONLY | os.O_TRUNC, CTX)
    await fs.flush(info.fh)
    await fs.release(info.fh)
    assert store.read("storage.cfg") == b""


async def test_guarded_file_cannot_be_removed_or_raced(store: LocalStore) -> None:
    fs = _fs(store)
    fs.src.guarded = frozenset({"corosync.conf"})
    await store.write("corosync.conf", _conf(3))
    assert await _errno(fs.unlink(ROOT, b"corosync.conf", CTX)) == errno.EPERM
    code = await _errno(fs.rename(ROOT, b"corosync.conf", ROOT, b"old.conf", 0, CTX))
    assert code == errno.EPERM
    # two editors checked against version 3; the second to land must not overwrite
    info = await fs.open(await _ino(fs, "corosync.conf"), os.O_WRONLY | os.O_TRUNC, CTX)
    await fs.write(info.fh, 0, _conf(4))
    real_read = store.read

    def read_after_other_editor(path: str) -> bytes | None:
        return _conf(3) if path == "corosync.conf" else real_read(path)

    await store.write("corosync.conf", _conf(5))  # the other editor came first
    store.read = read_after_other_editor  # type: ignore[method-assign]
    try:
        assert await _errno(fs.flush(info.fh)) == errno.EAGAIN
    finally:
        store.read = real_read  # type: ignore[method-assign]
    await fs.release(info.fh)
    assert store.read("corosync.conf") == _conf(5)


async def test_unlinked_or_renamed_open_files(store: LocalStore) -> None:
    fs = _fs(store)
    await _write_file(fs, "a.cfg", b"a\n")
    info = await fs.open(await _ino(fs, "a.cfg"), os.O_RDWR, CTX)
    await fs.write(info.fh, 0, b"A")
    await fs.unlink(ROOT, b"a.cfg", CTX)
    await fs.flush(info.fh)
    await fs.release(info.fh)
    assert store.read("a.cfg") is None  # not brought back by its last close
    await _write_file(fs, "b.cfg", b"b\n")
    info = await fs.open(await _ino(fs, "b.cfg"), os.O_RDWR, CTX)
    await fs.rename(ROOT, b"b.cfg", ROOT, b"c.cfg", 0, CTX)
    await fs.write(info.fh, 0, b"C")
    await fs.flush(info.fh)
    await fs.release(info.fh)
    assert store.read("b.cfg") is None and store.read("c.cfg") == b"C\n"
