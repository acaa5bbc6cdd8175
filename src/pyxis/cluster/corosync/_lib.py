"""Shared plumbing of the corosync ctypes bindings: library loading, errors, handle state.

Every corosync client library (libcpg, libquorum, libvotequorum, libcmap) answers with a
``cs_error_t``; :func:`check` turns anything but ``CS_OK`` into a :class:`CorosyncError`
that keeps the numeric code, its ``CS_ERR_*`` name and the failing call.  :class:`Handle`
is the small connection state machine the clients share (``IDLE -> CONNECTED ->
CLOSED``): public methods state the state they need, as qemu.qmp does, and a method
called in the wrong state raises :class:`StateError` instead of passing a stale handle to C.
"""

from __future__ import annotations

import asyncio
import ctypes
import enum
from functools import cache

from pyxis.errors import PyxisError

CS_DISPATCH_ONE = 1
CS_DISPATCH_ALL = 2
CS_DISPATCH_BLOCKING = 3
CS_DISPATCH_ONE_NONBLOCKING = 4

CS_TRACK_CURRENT = 0x01
CS_TRACK_CHANGES = 0x02
CS_TRACK_CHANGES_ONLY = 0x04

#: sonames of the client libraries (corosync 3.x, Debian 12).
SONAMES = {
    "cpg": "libcpg.so.4",
    "quorum": "libquorum.so.5",
    "votequorum": "libvotequorum.so.8",
    "cmap": "libcmap.so.4",
}


class CsError(enum.IntEnum):
    """``cs_error_t`` from ``corosync/corotypes.h``."""

    CS_OK = 1
    CS_ERR_LIBRARY = 2
    CS_ERR_VERSION = 3
    CS_ERR_INIT = 4
    CS_ERR_TIMEOUT = 5
    CS_ERR_TRY_AGAIN = 6
    CS_ERR_INVALID_PARAM = 7
    CS_ERR_NO_MEMORY = 8
    CS_ERR_BAD_HANDLE = 9
    CS_ERR_BUSY = 10
    CS_ERR_ACCESS = 11
    CS_ERR_NOT_EXIST = 12
    CS_ERR_NAME_TOO_LONG = 13
    CS_ERR_EXIST = 14
    CS_ERR_NO_SPACE = 15
    CS_ERR_INTERRUPT = 16
    CS_ERR_NAME_NOT_FOUND = 17
    CS_ERR_NO_RESOURCES = 18
    CS_ERR_NOT_SUPPORTED = 19
    CS_ERR_BAD_OPERATION = 20
    CS_ERR_FAILED_OPERATION = 21
    CS_ERR_MESSAGE_ERROR = 22
    CS_ERR_QUEUE_FULL = 23
    CS_ERR_QUEUE_NOT_AVAILABLE = 24
    CS_ERR_BAD_FLAGS = 25
    CS_ERR_TOO_BIG = 26
    CS_ERR_NO_SECTIONS = 27
    CS_ERR_CONTEXT_NOT_FOUND = 28
    CS_ERR_TOO_MANY_GROUPS = 30
    CS_ERR_SECURITY = 100


def cs_error_name(code: int) -> str:
    """The ``CS_ERR_*`` name of *code*, or ``CS_ERR_UNKNOWN(<n>)`` for codes not in the header."""
    try:
        return CsError(code).name
    except ValueError:
        return f"CS_ERR_UNKNOWN({code})"


class CorosyncError(PyxisError):
    """A corosync client call failed; ``code``/``name`` are the ``cs_error_t`` it returned."""

    status = 500

    def __init__(self, call: str, code: int, message: str | None = None) -> None:
        self.call = call
        self.code = int(code)
        self.name = cs_error_name(code)
        super().__init__(message or f"{call} failed: {self.name}")

    @property
    def retryable(self) -> bool:
        """True for ``CS_ERR_TRY_AGAIN`` (flow control, membership change in progress)."""
        return self.code == CsError.CS_ERR_TRY_AGAIN


class StateError(CorosyncError):
    """A client method was called in a connection state that does not allow it."""

    def __init__(self, call: str, state: ConnState, required: ConnState) -> None:
        super().__init__(
            call,
            CsError.CS_ERR_BAD_HANDLE,
            f"{call} needs state {required.value}, client is {state.value}",
        )
        self.state = state
        self.required = required


def check(rc: int, call: str) -> None:
    """Raise :class:`CorosyncError` unless *rc* is ``CS_OK``."""
    if rc != CsError.CS_OK:
        raise CorosyncError(call, rc)


@cache
def load(lib: str) -> ctypes.CDLL:
    """Load client library *lib* (a key of :data:`SONAMES`) once per process."""
    soname = SONAMES[lib]
    try:
        return ctypes.CDLL(soname, use_errno=True)
    except OSError as err:
        raise CorosyncError(
            f"dlopen({soname})", CsError.CS_ERR_LIBRARY, f"cannot load {soname}: {err}"
        ) from err


@cache
def libc() -> ctypes.CDLL:
    """The C library, for ``free()`` of strings corosync allocates (``cmap_get_string``)."""
    return ctypes.CDLL("libc.so.6")


class ConnState(enum.Enum):
    """Lifecycle of a client handle."""

    IDLE = "idle"
    CONNECTED = "connected"
    CLOSED = "closed"


class Handle:
    """Base of the clients: one ``uint64`` library handle and its connection state.

    Subclasses implement :meth:`_initialize` (returns the new handle), :meth:`_finalize`
    and, for the ones with callbacks, :meth:`_fd_get` and :meth:`_dispatch`.
    """

    def __init__(self) -> None:
        self._handle = ctypes.c_uint64(0)
        self._state = ConnState.IDLE
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1

    @property
    def state(self) -> ConnState:
        """Current connection state."""
        return self._state

    def _require(self, call: str, state: ConnState = ConnState.CONNECTED) -> None:
        if self._state is not state:
            raise StateError(call, self._state, state)

    def connect(self) -> None:
        """Open the IPC connection to the local corosync (``*_initialize``)."""
        self._require("connect", ConnState.IDLE)
        self._initialize()
        self._state = ConnState.CONNECTED

    def close(self) -> None:
        """Detach from the event loop and finalize the handle; idempotent."""
        if self._state is not ConnState.CONNECTED:
            self._state = ConnState.CLOSED
            return
        self.detach()
        self._state = ConnState.CLOSED
        self._finalize()

    def fileno(self) -> int:
        """The IPC fd that becomes readable when callbacks are pending."""
        self._require("fileno")
        fd = ctypes.c_int(-1)
        check(self._fd_get(ctypes.byref(fd)), "fd_get")
        return fd.value

    def dispatch(self, flags: int = CS_DISPATCH_ALL) -> None:
        """Run pending callbacks (``CS_DISPATCH_ALL`` by default) in this thread."""
        self._require("dispatch")
        check(self._dispatch(flags), "dispatch")

    def attach(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Dispatch callbacks from *loop* (default: the running loop) whenever the fd is ready."""
        self._require("attach")
        if self._loop is not None:
            return
        self._loop = loop or asyncio.get_running_loop()
        self._fd = self.fileno()
        self._loop.add_reader(self._fd, self._on_readable)

    def detach(self) -> None:
        """Stop dispatching from the event loop."""
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop = None

    def _on_readable(self) -> None:
        try:
            self.dispatch(CS_DISPATCH_ALL)
        except CorosyncError as err:
            if not err.retryable:
                self.detach()
                self.on_dispatch_error(err)

    def on_dispatch_error(self, err: CorosyncError) -> None:
        """Hook: a dispatch from the event loop failed (corosync went away); default no-op."""

    def __enter__(self) -> Handle:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per-library primitives -------------------------------------------------------
    def _initialize(self) -> None:
        raise NotImplementedError

    def _finalize(self) -> None:
        raise NotImplementedError

    def _fd_get(self, fd: ctypes._CArgObject) -> int:
        raise NotImplementedError

    def _dispatch(self, flags: int) -> int:
        raise NotImplementedError
