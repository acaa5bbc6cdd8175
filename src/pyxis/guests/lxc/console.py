"""A container's terminal for the web console: a pseudo terminal running LXC's tools.

Upstream's ``termproxy`` runs ``lxc-console`` (``cmode`` ``tty``/``console``) or
``lxc-attach`` with a login shell (``cmode=shell``) inside a terminal.  Here the same
command runs on the slave side of a fresh pty; the master side is wrapped into an
asyncio reader/writer pair so that ``pyxis.guests.console.relay`` copies bytes between
it and the websocket, as it does for a VM's serial socket (``pyxis.util.pty``, shared
with the host shell).  Closing ends the command.
"""

from __future__ import annotations

from pathlib import Path

from pyxis.guests.lxc.runtime import attach_argv
from pyxis.util.pty import PtyProcess, PtyWriter, spawn

__all__ = ["PtyProcess", "PtyWriter", "console_argv", "spawn"]


def console_argv(lxcpath: Path, vmid: int, cmode: str) -> list[str]:
    """The command behind a container console of mode ``cmode``.

    ``console`` attaches to /dev/console (tty 0); ``tty`` lets lxc-console pick the first
    free tty (as upstream: the ``tty`` key is how many ttys exist, not which to use)."""
    if cmode == "shell":
        return attach_argv(lxcpath, vmid, ["/bin/sh", "-l"])
    tty = ["-t", "0"] if cmode == "console" else []
    return ["lxc-console", "-n", str(vmid), "-P", str(lxcpath), *tty, "-e", "-1"]
