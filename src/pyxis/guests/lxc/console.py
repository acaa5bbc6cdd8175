"""A container's terminal for the web console: a pseudo terminal running LXC's tools.

Upstream's ``termproxy`` runs ``lxc-console`` (``cmode`` ``tty``/``console``) or
``lxc-attach`` with a login shell (``cmode=shell``) inside a terminal.  Here the same
command runs on the slave side of a fresh pty; the master side is wrapped into an
asyncio reader/writer pair so that ``pyxis.guests.console.relay`` copies bytes between
it and the websocket, as it does for a VM's serial socket.  Closing ends the command.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pyxis.guests.lxc.runtime import attach_argv

CHUNK = 64 * 1024


def console_argv(lxcpath: Path, vmid: int, cmode: str, tty: int = 0) -> list[str]:
    """The command behind a container console of mode ``cmode``."""
    if cmode == "shell":
        return attach_argv(lxcpath, vmid, ["/bin/sh", "-l"])
    ttynum = "0" if cmode == "console" else str(max(1, tty) if tty else 1)
    return ["lxc-console", "-n", str(vmid), "-P", str(lxcpath), "-t", ttynum, "-e", "-1"]


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

    async def close(self) -> None:
        self.writer.close()
        loop = asyncio.get_running_loop()
        loop.remove_reader(self.master)
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                await asyncio.wait_for(asyncio.to_thread(self.proc.wait), 5)
            except TimeoutError:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)
        with contextlib.suppress(OSError):
            os.close(self.master)


async def spawn(argv: list[str]) -> PtyProcess:
    """Run ``argv`` on a new pty (its own session, the pty its controlling terminal)."""
    master, slave = os.openpty()
    try:
        # ``setsid --ctty``: a new session whose controlling terminal is the pty, which
        # lxc-attach needs to relay an interactive shell
        proc = subprocess.Popen(
            ["setsid", "--ctty", *argv],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            close_fds=True,
            env={"TERM": "xterm-256color", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
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
