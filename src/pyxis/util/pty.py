"""A command on a fresh pseudo terminal, as an asyncio reader/writer pair.

Web consoles that run a program (a container's ``lxc-console``/``lxc-attach``, the
host's login shell) start it on the slave side of a new pty, in its own session with
the pty as controlling terminal; the master side is wrapped so that
``pyxis.guests.console.relay`` copies bytes between it and the websocket exactly as it
does for a VM's serial socket.  ``resize`` passes the xterm.js client's terminal size
on; closing ends the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time
from dataclasses import dataclass
from typing import cast

CHUNK = 64 * 1024
DEFAULT_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
STOP_SIGNALS = ((signal.SIGHUP, 2.0), (signal.SIGTERM, 3.0))


class PtyWriter:
    """The part of ``asyncio.StreamWriter`` the console relay uses, on a pty master.

    Plain ``os.write`` on the non-blocking master (retried while the pty is full):
    uvloop's pipe transports do not work on pty descriptors.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.closed = False
        self._pending = b""

    def write(self, data: bytes) -> None:
        self._pending += data

    async def drain(self) -> None:
        data, self._pending = self._pending, b""
        while data and not self.closed:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                await asyncio.sleep(0.01)
                continue
            data = data[n:]

    def close(self) -> None:
        self.closed = True

    async def wait_closed(self) -> None:
        return None


@dataclass
class PtyProcess:
    proc: subprocess.Popen[bytes]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    master: int

    def resize(self, cols: int, rows: int) -> None:
        """Tell the terminal (and so its programs, by SIGWINCH) its new size."""
        if cols <= 0 or rows <= 0:
            return
        size = struct.pack("HHHH", min(rows, 0xFFFF), min(cols, 0xFFFF), 0, 0)
        with contextlib.suppress(OSError):
            fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)

    async def close(self) -> None:
        """End the command as a terminal hang-up would (SIGHUP: interactive shells
        ignore SIGTERM), then SIGTERM, then SIGKILL.

        Waits by polling, not in a thread: a cancelled close (the connection's task torn
        down) must still end with SIGKILL, and never leave a thread blocked on a child
        that outlives it (that hangs the event loop's shutdown)."""
        self.writer.close()
        asyncio.get_running_loop().remove_reader(self.master)
        try:
            for sig, grace in STOP_SIGNALS:
                if self.proc.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    self.proc.send_signal(sig)
                await self._exited(grace)
        finally:
            if self.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                for _ in range(100):  # SIGKILL cannot be ignored: reap it, briefly
                    if self.proc.poll() is not None:
                        break
                    time.sleep(0.01)
            with contextlib.suppress(OSError):
                os.close(self.master)

    async def _exited(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.02)
        return True


def _default_signals() -> None:
    """In the child: a terminal session starts with default signal dispositions, not
    the daemon's (started under ``nohup``, SIGHUP would stay ignored across exec and a
    hang-up would no longer end the shell)."""
    for sig in (signal.SIGHUP, signal.SIGINT, signal.SIGQUIT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL)


async def spawn(argv: list[str], env: dict[str, str] | None = None) -> PtyProcess:
    """Run ``argv`` on a new pty (its own session, the pty its controlling terminal).

    The command gets only ``TERM``, ``PATH`` and ``env``, not the daemon's environment.
    """
    master, slave = os.openpty()
    try:
        # ``setsid --ctty``: a new session whose controlling terminal is the pty, which
        # lxc-attach needs to relay an interactive shell
        proc = subprocess.Popen(
            ["setsid", "--ctty", *argv],
            preexec_fn=_default_signals,  # only signal(): safe between fork and exec
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={
                "TERM": "xterm-256color",
                "PATH": os.environ.get("PATH", DEFAULT_PATH),
                **(env or {}),
            },
        )
    finally:
        os.close(slave)
    os.set_blocking(master, False)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()

    def readable() -> None:
        try:
            data = os.read(master, CHUNK)
        except BlockingIOError:
            return
        except OSError:
            data = b""  # EIO: the terminal's last process is gone
        if data:
            reader.feed_data(data)
        else:
            loop.remove_reader(master)
            reader.feed_eof()

    loop.add_reader(master, readable)
    # the relay only calls write/drain/close/wait_closed
    writer = cast(asyncio.StreamWriter, PtyWriter(master))
    return PtyProcess(proc, reader, writer, master)
