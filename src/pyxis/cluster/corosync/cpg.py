"""Closed process groups (libcpg): join a group, multicast in agreed order, see membership.

:class:`CpgClient` wraps one ``cpg_handle_t``.  Deliveries and configuration changes
arrive through ``cpg_dispatch`` on the caller's thread, either from :meth:`dispatch` or
from an asyncio reader (:meth:`attach`); they are handed to the ``on_message`` and
``on_confchg`` callables and also queued on :attr:`events` for ``await``-style consumers.
:meth:`send` retries ``CS_ERR_TRY_AGAIN`` (flow control) with a short back-off while
dispatching, which is what corosync expects of a sender.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
from collections.abc import Callable
from dataclasses import dataclass

from pyxis.cluster.corosync._lib import (
    ConnState,
    CorosyncError,
    CsError,
    Handle,
    check,
    load,
)

CPG_MAX_NAME_LENGTH = 128


class CpgGuarantee(enum.IntEnum):
    """``cpg_guarantee_t``; only FIFO and AGREED are implemented by corosync (same thing)."""

    UNORDERED = 0
    FIFO = 1
    AGREED = 2
    SAFE = 3


class CpgReason(enum.IntEnum):
    """``cpg_reason_t``: why a member joined or left."""

    UNDEFINED = 0
    JOIN = 1
    LEAVE = 2
    NODEDOWN = 3
    NODEUP = 4
    PROCDOWN = 5


class CpgName(ctypes.Structure):
    """``struct cpg_name {uint32_t length; char value[128];}``."""

    _fields_ = [("length", ctypes.c_uint32), ("value", ctypes.c_char * CPG_MAX_NAME_LENGTH)]

    @classmethod
    def of(cls, name: str | bytes) -> CpgName:
        """Build from a group name; longer than 128 bytes raises ``CS_ERR_NAME_TOO_LONG``."""
        raw = name.encode() if isinstance(name, str) else name
        if len(raw) > CPG_MAX_NAME_LENGTH:
            raise CorosyncError("cpg_name", CsError.CS_ERR_NAME_TOO_LONG)
        return cls(len(raw), raw)

    def text(self) -> str:
        """The group name as text (the value is not NUL-terminated when 128 bytes long)."""
        return ctypes.string_at(ctypes.addressof(self) + CpgName.value.offset, self.length).decode(
            errors="replace"
        )


class CpgAddress(ctypes.Structure):
    """``struct cpg_address {uint32_t nodeid, pid, reason;}``."""

    _fields_ = [("nodeid", ctypes.c_uint32), ("pid", ctypes.c_uint32), ("reason", ctypes.c_uint32)]


class IoVec(ctypes.Structure):
    """``struct iovec {void *iov_base; size_t iov_len;}``."""

    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


DELIVER_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_uint64,
    ctypes.POINTER(CpgName),
    ctypes.c_uint32,
    ctypes.c_uint32,
    ctypes.c_void_p,
    ctypes.c_size_t,
)
CONFCHG_FN = ctypes.CFUNCTYPE(
    None,
    ctypes.c_uint64,
    ctypes.POINTER(CpgName),
    ctypes.POINTER(CpgAddress),
    ctypes.c_size_t,
    ctypes.POINTER(CpgAddress),
    ctypes.c_size_t,
    ctypes.POINTER(CpgAddress),
    ctypes.c_size_t,
)


class CpgCallbacks(ctypes.Structure):
    """``cpg_callbacks_t {cpg_deliver_fn_t; cpg_confchg_fn_t;}``."""

    _fields_ = [("deliver_fn", DELIVER_FN), ("confchg_fn", CONFCHG_FN)]


@dataclass(frozen=True)
class CpgMember:
    """One process in a group: node, pid and the reason it appears in a change list."""

    nodeid: int
    pid: int
    reason: CpgReason | int


@dataclass(frozen=True)
class CpgMessage:
    """One delivered multicast."""

    group: str
    nodeid: int
    pid: int
    data: bytes


@dataclass(frozen=True)
class CpgConfChange:
    """A membership change of *group*: the new member list and who left and joined."""

    group: str
    members: tuple[CpgMember, ...]
    left: tuple[CpgMember, ...]
    joined: tuple[CpgMember, ...]


CpgEvent = CpgMessage | CpgConfChange


def _members(arr: ctypes._Pointer[CpgAddress], n: int) -> tuple[CpgMember, ...]:
    out = []
    for i in range(n):
        a = arr[i]
        try:
            reason: CpgReason | int = CpgReason(a.reason)
        except ValueError:
            reason = a.reason
        out.append(CpgMember(a.nodeid, a.pid, reason))
    return tuple(out)


def _setup(lib: ctypes.CDLL) -> ctypes.CDLL:
    u64, ptr = ctypes.c_uint64, ctypes.POINTER
    lib.cpg_initialize.argtypes = [ptr(u64), ptr(CpgCallbacks)]
    lib.cpg_finalize.argtypes = [u64]
    lib.cpg_fd_get.argtypes = [u64, ptr(ctypes.c_int)]
    lib.cpg_dispatch.argtypes = [u64, ctypes.c_int]
    lib.cpg_join.argtypes = [u64, ptr(CpgName)]
    lib.cpg_leave.argtypes = [u64, ptr(CpgName)]
    lib.cpg_mcast_joined.argtypes = [u64, ctypes.c_int, ptr(IoVec), ctypes.c_uint]
    lib.cpg_local_get.argtypes = [u64, ptr(ctypes.c_uint)]
    lib.cpg_membership_get.argtypes = [u64, ptr(CpgName), ptr(CpgAddress), ptr(ctypes.c_int)]
    return lib


class CpgClient(Handle):
    """One CPG connection.  ``connect()``, ``join(group)``, then ``send``/``mcast``."""

    def __init__(
        self,
        on_message: Callable[[CpgMessage], None] | None = None,
        on_confchg: Callable[[CpgConfChange], None] | None = None,
    ) -> None:
        super().__init__()
        self._lib = _setup(load("cpg"))
        self.on_message = on_message
        self.on_confchg = on_confchg
        self.events: asyncio.Queue[CpgEvent] | None = None
        self.group: str | None = None
        # The CFUNCTYPE objects must outlive the handle: C keeps the raw pointers.
        self._callbacks = CpgCallbacks(DELIVER_FN(self._deliver), CONFCHG_FN(self._confchg))

    def use_queue(self) -> asyncio.Queue[CpgEvent]:
        """Also put every event on an :class:`asyncio.Queue` (made on first call) and return it."""
        if self.events is None:
            self.events = asyncio.Queue()
        return self.events

    # -- callbacks (run inside cpg_dispatch) ---------------------------------------------
    def _deliver(
        self,
        _h: int,
        name: ctypes._Pointer[CpgName],
        nodeid: int,
        pid: int,
        msg: int | None,
        msg_len: int,
    ) -> None:
        data = ctypes.string_at(msg, msg_len) if msg else b""
        self._emit(CpgMessage(name.contents.text(), nodeid, pid, data))

    def _confchg(
        self,
        _h: int,
        name: ctypes._Pointer[CpgName],
        members: ctypes._Pointer[CpgAddress],
        n_members: int,
        left: ctypes._Pointer[CpgAddress],
        n_left: int,
        joined: ctypes._Pointer[CpgAddress],
        n_joined: int,
    ) -> None:
        self._emit(
            CpgConfChange(
                name.contents.text(),
                _members(members, n_members),
                _members(left, n_left),
                _members(joined, n_joined),
            )
        )

    def _emit(self, event: CpgEvent) -> None:
        if isinstance(event, CpgMessage):
            if self.on_message is not None:
                self.on_message(event)
        elif self.on_confchg is not None:
            self.on_confchg(event)
        if self.events is not None:
            self.events.put_nowait(event)

    # -- Handle primitives ---------------------------------------------------------------
    def _initialize(self) -> None:
        check(
            self._lib.cpg_initialize(ctypes.byref(self._handle), ctypes.byref(self._callbacks)),
            "cpg_initialize",
        )

    def _finalize(self) -> None:
        check(self._lib.cpg_finalize(self._handle), "cpg_finalize")

    def _fd_get(self, fd: ctypes._CArgObject) -> int:
        return int(self._lib.cpg_fd_get(self._handle, fd))

    def _dispatch(self, flags: int) -> int:
        return int(self._lib.cpg_dispatch(self._handle, flags))

    # -- public API ----------------------------------------------------------------------
    def local_nodeid(self) -> int:
        """This node's corosync node id."""
        self._require("local_nodeid")
        out = ctypes.c_uint(0)
        check(self._lib.cpg_local_get(self._handle, ctypes.byref(out)), "cpg_local_get")
        return out.value

    def join(self, group: str) -> None:
        """Join *group*; one group per handle (as pmxcfs uses it)."""
        self._require("join")
        name = CpgName.of(group)
        check(self._lib.cpg_join(self._handle, ctypes.byref(name)), "cpg_join")
        self.group = group

    def leave(self) -> None:
        """Leave the joined group."""
        self._require("leave")
        if self.group is None:
            raise CorosyncError("cpg_leave", CsError.CS_ERR_NOT_EXIST, "not joined to a group")
        name = CpgName.of(self.group)
        check(self._lib.cpg_leave(self._handle, ctypes.byref(name)), "cpg_leave")
        self.group = None

    def members(self) -> tuple[CpgMember, ...]:
        """The current members of the joined group (``cpg_membership_get``)."""
        self._require("members")
        if self.group is None:
            raise CorosyncError("cpg_membership_get", CsError.CS_ERR_NOT_EXIST, "not joined")
        name = CpgName.of(self.group)
        arr = (CpgAddress * 128)()
        n = ctypes.c_int(128)
        check(
            self._lib.cpg_membership_get(self._handle, ctypes.byref(name), arr, ctypes.byref(n)),
            "cpg_membership_get",
        )
        return _members(ctypes.cast(arr, ctypes.POINTER(CpgAddress)), n.value)

    def mcast(self, data: bytes, guarantee: CpgGuarantee = CpgGuarantee.AGREED) -> None:
        """Multicast *data* to the joined group once; ``CS_ERR_TRY_AGAIN`` is raised as is."""
        self._require("mcast")
        buf = ctypes.create_string_buffer(data, len(data))
        iov = IoVec(ctypes.cast(buf, ctypes.c_void_p), len(data))
        check(
            self._lib.cpg_mcast_joined(self._handle, int(guarantee), ctypes.byref(iov), 1),
            "cpg_mcast_joined",
        )

    async def send(
        self,
        data: bytes,
        guarantee: CpgGuarantee = CpgGuarantee.AGREED,
        *,
        timeout: float = 10.0,
    ) -> None:
        """Multicast *data*, backing off and dispatching while corosync says TRY_AGAIN."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        delay = 0.001
        while True:
            try:
                self.mcast(data, guarantee)
                return
            except CorosyncError as err:
                if not err.retryable or loop.time() > deadline:
                    raise
            if self._state is ConnState.CONNECTED and self._loop is None:
                self.dispatch()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)
