"""Quorum state from libvotequorum (votes, expected votes, per-node info) and libquorum.

:class:`Votequorum` answers ``votequorum_getinfo`` as a typed :class:`VoteInfo`;
corosync has no call listing nodes, so :meth:`Votequorum.nodes` asks ``getinfo`` for each
node id the caller names (usually the cmap nodelist, see
:func:`pyxis.cluster.corosync.cmap.Cmap.nodelist`).  :class:`Quorum` is the plain
libquorum client: ``quorum_getquorate`` plus notifications of quorate/membership changes
(``quorum_trackstart``) delivered to a callable from :meth:`Handle.dispatch` or an
asyncio reader.
"""

from __future__ import annotations

import ctypes
import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from pyxis.cluster.corosync._lib import (
    CS_TRACK_CHANGES,
    CS_TRACK_CURRENT,
    Handle,
    check,
    load,
)

VOTEQUORUM_QDEVICE_MAX_NAME_LEN = 255


class VoteFlag(enum.IntFlag):
    """``VOTEQUORUM_INFO_*`` bits of ``votequorum_info.flags``."""

    TWONODE = 1
    QUORATE = 2
    WAIT_FOR_ALL = 4
    LAST_MAN_STANDING = 8
    AUTO_TIE_BREAKER = 16
    ALLOW_DOWNSCALE = 32
    QDEVICE_REGISTERED = 64
    QDEVICE_ALIVE = 128
    QDEVICE_CAST_VOTE = 256
    QDEVICE_MASTER_WINS = 512


class NodeState(enum.IntEnum):
    """``VOTEQUORUM_NODESTATE_*``."""

    MEMBER = 1
    DEAD = 2
    LEAVING = 3


class VotequorumInfoStruct(ctypes.Structure):
    """``struct votequorum_info`` (9 unsigned ints then ``char qdevice_name[255]``)."""

    _fields_ = [
        ("node_id", ctypes.c_uint),
        ("node_state", ctypes.c_uint),
        ("node_votes", ctypes.c_uint),
        ("node_expected_votes", ctypes.c_uint),
        ("highest_expected", ctypes.c_uint),
        ("total_votes", ctypes.c_uint),
        ("quorum", ctypes.c_uint),
        ("flags", ctypes.c_uint),
        ("qdevice_votes", ctypes.c_uint),
        ("qdevice_name", ctypes.c_char * VOTEQUORUM_QDEVICE_MAX_NAME_LEN),
    ]


class VotequorumNode(ctypes.Structure):
    """``votequorum_node_t {uint32_t nodeid; uint32_t state;}``."""

    _fields_ = [("nodeid", ctypes.c_uint32), ("state", ctypes.c_uint32)]


class RingId(ctypes.Structure):
    """``votequorum_ring_id_t`` / ``struct quorum_ring_id`` ``{uint32_t nodeid; uint64_t seq;}``."""

    _fields_ = [("nodeid", ctypes.c_uint32), ("seq", ctypes.c_uint64)]


VQ_QUORUM_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_uint64,
    ctypes.c_uint64,
    ctypes.c_uint32,
    ctypes.c_uint32,
    ctypes.POINTER(VotequorumNode),
)
VQ_EXPECTED_FN = ctypes.CFUNCTYPE(None, ctypes.c_uint64, ctypes.c_uint64, ctypes.c_uint32)
# The nodelist callback takes a struct by value; we leave it NULL (the library skips it).
VQ_NODELIST_FN = ctypes.c_void_p


class VotequorumCallbacks(ctypes.Structure):
    """``votequorum_callbacks_t`` (quorum, expected-votes, nodelist notification fns)."""

    _fields_ = [
        ("quorum_notify_fn", VQ_QUORUM_FN),
        ("expectedvotes_notify_fn", VQ_EXPECTED_FN),
        ("nodelist_notify_fn", VQ_NODELIST_FN),
    ]


QUORUM_NOTIFY_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_uint64,
    ctypes.c_uint32,
    ctypes.c_uint64,
    ctypes.c_uint32,
    ctypes.POINTER(ctypes.c_uint32),
)


class QuorumCallbacks(ctypes.Structure):
    """``quorum_callbacks_t {quorum_notification_fn_t quorum_notify_fn;}``."""

    _fields_ = [("quorum_notify_fn", QUORUM_NOTIFY_FN)]


@dataclass(frozen=True)
class VoteInfo:
    """``votequorum_getinfo`` of one node, as seen by the local corosync."""

    node_id: int
    node_state: NodeState | int
    node_votes: int
    expected_votes: int
    highest_expected: int
    total_votes: int
    quorum: int
    flags: VoteFlag
    qdevice_votes: int
    qdevice_name: str

    @property
    def quorate(self) -> bool:
        """Whether the local partition is quorate."""
        return VoteFlag.QUORATE in self.flags

    @classmethod
    def from_struct(cls, s: VotequorumInfoStruct) -> VoteInfo:
        """Convert the C struct."""
        try:
            state: NodeState | int = NodeState(s.node_state)
        except ValueError:
            state = s.node_state
        return cls(
            s.node_id,
            state,
            s.node_votes,
            s.node_expected_votes,
            s.highest_expected,
            s.total_votes,
            s.quorum,
            VoteFlag(s.flags),
            s.qdevice_votes,
            s.qdevice_name.decode(errors="replace"),
        )


@dataclass(frozen=True)
class QuorumEvent:
    """A quorum notification: quorate flag, ring sequence and member node ids."""

    quorate: bool
    ring_seq: int
    members: tuple[int, ...]


class Votequorum(Handle):
    """A libvotequorum client; :meth:`info` and :meth:`nodes` are synchronous queries."""

    def __init__(self, on_quorum: Callable[[QuorumEvent], None] | None = None) -> None:
        super().__init__()
        lib = load("votequorum")
        u64, ptr = ctypes.c_uint64, ctypes.POINTER
        lib.votequorum_initialize.argtypes = [ptr(u64), ptr(VotequorumCallbacks)]
        lib.votequorum_finalize.argtypes = [u64]
        lib.votequorum_fd_get.argtypes = [u64, ptr(ctypes.c_int)]
        lib.votequorum_dispatch.argtypes = [u64, ctypes.c_int]
        lib.votequorum_getinfo.argtypes = [u64, ctypes.c_uint, ptr(VotequorumInfoStruct)]
        lib.votequorum_trackstart.argtypes = [u64, u64, ctypes.c_uint]
        lib.votequorum_setexpected.argtypes = [u64, ctypes.c_uint]
        self._lib = lib
        self.on_quorum = on_quorum
        self._callbacks = VotequorumCallbacks(
            VQ_QUORUM_FN(self._quorum_cb), VQ_EXPECTED_FN(self._expected_cb), None
        )

    def _quorum_cb(
        self, _h: int, _ctx: int, quorate: int, n: int, nodes: ctypes._Pointer[VotequorumNode]
    ) -> None:
        if self.on_quorum is not None:
            members = tuple(nodes[i].nodeid for i in range(n) if nodes[i].state == 1)
            self.on_quorum(QuorumEvent(bool(quorate), 0, members))

    def _expected_cb(self, _h: int, _ctx: int, _expected: int) -> None:
        return None

    def _initialize(self) -> None:
        check(
            self._lib.votequorum_initialize(
                ctypes.byref(self._handle), ctypes.byref(self._callbacks)
            ),
            "votequorum_initialize",
        )

    def _finalize(self) -> None:
        check(self._lib.votequorum_finalize(self._handle), "votequorum_finalize")

    def _fd_get(self, fd: ctypes._CArgObject) -> int:
        return int(self._lib.votequorum_fd_get(self._handle, fd))

    def _dispatch(self, flags: int) -> int:
        return int(self._lib.votequorum_dispatch(self._handle, flags))

    def info(self, nodeid: int) -> VoteInfo:
        """``votequorum_getinfo`` for *nodeid* (the local one is ``Cmap.this_node_id()``)."""
        self._require("info")
        out = VotequorumInfoStruct()
        check(
            self._lib.votequorum_getinfo(self._handle, nodeid, ctypes.byref(out)),
            "votequorum_getinfo",
        )
        return VoteInfo.from_struct(out)

    def set_expected(self, expected: int) -> None:
        """``votequorum_setexpected``: tell votequorum how many votes to expect (runtime)."""
        self._require("set_expected")
        check(self._lib.votequorum_setexpected(self._handle, expected), "votequorum_setexpected")

    def nodes(self, nodeids: Iterable[int]) -> list[VoteInfo]:
        """``getinfo`` of each of *nodeids* (corosync itself has no list call)."""
        return [self.info(n) for n in nodeids]

    def track(self, flags: int = CS_TRACK_CHANGES | CS_TRACK_CURRENT) -> None:
        """Start quorum notifications to ``on_quorum`` (run by :meth:`dispatch`)."""
        self._require("track")
        check(self._lib.votequorum_trackstart(self._handle, 0, flags), "votequorum_trackstart")


class Quorum(Handle):
    """A libquorum client: :meth:`quorate` and tracked notifications to ``on_quorum``."""

    def __init__(self, on_quorum: Callable[[QuorumEvent], None] | None = None) -> None:
        super().__init__()
        lib = load("quorum")
        u64, ptr = ctypes.c_uint64, ctypes.POINTER
        lib.quorum_initialize.argtypes = [ptr(u64), ptr(QuorumCallbacks), ptr(ctypes.c_uint32)]
        lib.quorum_finalize.argtypes = [u64]
        lib.quorum_fd_get.argtypes = [u64, ptr(ctypes.c_int)]
        lib.quorum_dispatch.argtypes = [u64, ctypes.c_int]
        lib.quorum_getquorate.argtypes = [u64, ptr(ctypes.c_int)]
        lib.quorum_trackstart.argtypes = [u64, ctypes.c_uint]
        self._lib = lib
        self.on_quorum = on_quorum
        self.quorum_type = 0
        self._callbacks = QuorumCallbacks(QUORUM_NOTIFY_FN(self._notify_cb))

    def _notify_cb(
        self, _h: int, quorate: int, seq: int, n: int, view: ctypes._Pointer[ctypes.c_uint32]
    ) -> None:
        if self.on_quorum is not None:
            self.on_quorum(QuorumEvent(bool(quorate), seq, tuple(view[i] for i in range(n))))

    def _initialize(self) -> None:
        qtype = ctypes.c_uint32(0)
        check(
            self._lib.quorum_initialize(
                ctypes.byref(self._handle), ctypes.byref(self._callbacks), ctypes.byref(qtype)
            ),
            "quorum_initialize",
        )
        self.quorum_type = qtype.value

    def _finalize(self) -> None:
        check(self._lib.quorum_finalize(self._handle), "quorum_finalize")

    def _fd_get(self, fd: ctypes._CArgObject) -> int:
        return int(self._lib.quorum_fd_get(self._handle, fd))

    def _dispatch(self, flags: int) -> int:
        return int(self._lib.quorum_dispatch(self._handle, flags))

    def quorate(self) -> bool:
        """``quorum_getquorate``."""
        self._require("quorate")
        out = ctypes.c_int(0)
        check(self._lib.quorum_getquorate(self._handle, ctypes.byref(out)), "quorum_getquorate")
        return bool(out.value)

    def track(self, flags: int = CS_TRACK_CHANGES | CS_TRACK_CURRENT) -> None:
        """Start notifications of quorate/membership changes to ``on_quorum``."""
        self._require("track")
        check(self._lib.quorum_trackstart(self._handle, flags), "quorum_trackstart")
