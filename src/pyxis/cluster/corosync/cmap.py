"""Read corosync's configuration and runtime map (libcmap): strings, integers, key listing.

Keys of interest: ``totem.cluster_name``, ``nodelist.node.N.{name,nodeid,ring0_addr}``,
``runtime.votequorum.this_node_id`` and the rest of ``runtime.votequorum.*``.  A missing
key raises :class:`CorosyncError` with name ``CS_ERR_NOT_EXIST``.
"""

from __future__ import annotations

import ctypes
import re
from dataclasses import dataclass

from pyxis.cluster.corosync._lib import CorosyncError, CsError, Handle, check, libc, load

CMAP_KEYNAME_MAXLEN = 255
_NODE_KEY = re.compile(r"^nodelist\.node\.(\d+)\.(\w+)\Z")


@dataclass(frozen=True)
class CmapNode:
    """One entry of the configured ``nodelist``."""

    index: int
    nodeid: int
    name: str
    ring0_addr: str


class Cmap(Handle):
    """A libcmap client for reads (the default icmap map)."""

    def __init__(self) -> None:
        super().__init__()
        lib = load("cmap")
        u64, ptr, cp = ctypes.c_uint64, ctypes.POINTER, ctypes.c_char_p
        lib.cmap_initialize.argtypes = [ptr(u64)]
        lib.cmap_finalize.argtypes = [u64]
        lib.cmap_fd_get.argtypes = [u64, ptr(ctypes.c_int)]
        lib.cmap_dispatch.argtypes = [u64, ctypes.c_int]
        lib.cmap_get_string.argtypes = [u64, cp, ptr(ctypes.c_void_p)]
        lib.cmap_get_uint8.argtypes = [u64, cp, ptr(ctypes.c_uint8)]
        lib.cmap_get_uint32.argtypes = [u64, cp, ptr(ctypes.c_uint32)]
        lib.cmap_get_uint64.argtypes = [u64, cp, ptr(ctypes.c_uint64)]
        lib.cmap_iter_init.argtypes = [u64, cp, ptr(u64)]
        lib.cmap_iter_next.argtypes = [u64, u64, cp, ptr(ctypes.c_size_t), ptr(ctypes.c_int)]
        lib.cmap_iter_finalize.argtypes = [u64, u64]
        self._lib = lib
        libc().free.argtypes = [ctypes.c_void_p]

    def _initialize(self) -> None:
        check(self._lib.cmap_initialize(ctypes.byref(self._handle)), "cmap_initialize")

    def _finalize(self) -> None:
        check(self._lib.cmap_finalize(self._handle), "cmap_finalize")

    def _fd_get(self, fd: ctypes._CArgObject) -> int:
        return int(self._lib.cmap_fd_get(self._handle, fd))

    def _dispatch(self, flags: int) -> int:
        return int(self._lib.cmap_dispatch(self._handle, flags))

    def get_string(self, key: str) -> str:
        """A string key (``cmap_get_string``; the copy corosync mallocs is freed here)."""
        self._require("get_string")
        out = ctypes.c_void_p(None)
        check(
            self._lib.cmap_get_string(self._handle, key.encode(), ctypes.byref(out)),
            f"cmap_get_string({key})",
        )
        try:
            return ctypes.string_at(out.value).decode(errors="replace") if out.value else ""
        finally:
            libc().free(out)

    def _get_int(
        self, fn: str, ctype: type[ctypes.c_uint8 | ctypes.c_uint32 | ctypes.c_uint64], key: str
    ) -> int:
        self._require(fn)
        out = ctype(0)
        check(getattr(self._lib, fn)(self._handle, key.encode(), ctypes.byref(out)), f"{fn}({key})")
        return int(out.value)

    def get_u8(self, key: str) -> int:
        """A ``uint8`` key (flags such as ``runtime.votequorum.wait_for_all_status``)."""
        return self._get_int("cmap_get_uint8", ctypes.c_uint8, key)

    def get_u32(self, key: str) -> int:
        """A ``uint32`` key (``nodelist.node.N.nodeid``, ``runtime.votequorum.this_node_id``)."""
        return self._get_int("cmap_get_uint32", ctypes.c_uint32, key)

    def get_u64(self, key: str) -> int:
        """A ``uint64`` key."""
        return self._get_int("cmap_get_uint64", ctypes.c_uint64, key)

    def keys(self, prefix: str = "") -> list[str]:
        """All key names starting with *prefix*, in cmap order."""
        self._require("keys")
        it = ctypes.c_uint64(0)
        check(
            self._lib.cmap_iter_init(self._handle, prefix.encode(), ctypes.byref(it)),
            "cmap_iter_init",
        )
        names: list[str] = []
        try:
            buf = ctypes.create_string_buffer(CMAP_KEYNAME_MAXLEN + 1)
            vlen, vtype = ctypes.c_size_t(0), ctypes.c_int(0)
            while True:
                rc = self._lib.cmap_iter_next(
                    self._handle, it, buf, ctypes.byref(vlen), ctypes.byref(vtype)
                )
                if rc == CsError.CS_ERR_NO_SECTIONS:
                    break
                check(rc, "cmap_iter_next")
                names.append(buf.value.decode(errors="replace"))
        finally:
            self._lib.cmap_iter_finalize(self._handle, it)
        return names

    def cluster_name(self) -> str:
        """``totem.cluster_name``."""
        return self.get_string("totem.cluster_name")

    def this_node_id(self) -> int:
        """``runtime.votequorum.this_node_id``."""
        return self.get_u32("runtime.votequorum.this_node_id")

    def nodelist(self) -> list[CmapNode]:
        """The configured nodes, ordered by their ``nodelist.node.N`` index."""
        indexes = sorted(
            {int(m.group(1)) for k in self.keys("nodelist.node.") if (m := _NODE_KEY.match(k))}
        )
        nodes = []
        for i in indexes:
            base = f"nodelist.node.{i}."
            nodes.append(
                CmapNode(
                    i,
                    self.get_u32(base + "nodeid"),
                    self._optional_string(base + "name"),
                    self._optional_string(base + "ring0_addr"),
                )
            )
        return nodes

    def _optional_string(self, key: str) -> str:
        try:
            return self.get_string(key)
        except CorosyncError as err:
            if err.code == CsError.CS_ERR_NOT_EXIST:
                return ""
            raise
