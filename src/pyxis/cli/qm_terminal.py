"""``qm terminal``: the local terminal joined to a VM's serial console socket.

As upstream (which runs ``socat UNIX-CONNECT:/var/run/qemu-server/<vmid>.serialN
STDIO,raw,echo=0,escape=0x0f``), the CLI asks the daemon which serial port is a
``socket`` and whether the VM runs, then connects to the unix socket directly: a console
is a byte stream on this node, not an API call.  The local terminal is put in raw mode
while connected; the escape character (Ctrl-O unless ``--escape`` says otherwise,
``--escape 0`` disables it) ends the session.  When stdin is not a terminal its bytes
are forwarded as they are, and end of input ends the session half a second later (the
grace socat gives the other side).
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from pyxis.cli.client import ApiError, LocalClient
from pyxis.cli.common import UsageError

SERIAL_KEYS = ("serial0", "serial1", "serial2", "serial3")
EOF_GRACE = 0.5


def escape_byte(spec: str) -> int | None:
    """``^O`` -> 0x0f, ``q`` -> ord('q'), ``0`` -> None (no escape character)."""
    if spec == "0":
        return None
    if len(spec) == 2 and spec[0] == "^" and spec[1].isalpha():
        return ord(spec[1].upper()) & 0x1F
    if len(spec) == 1:
        return ord(spec)
    raise UsageError(f"invalid escape character '{spec}' (use '^X', one character or 0)")


def pick_iface(conf: dict[str, object], iface: str | None) -> str:
    """The serial port to use, with upstream's messages when there is none."""
    if iface:
        if iface not in SERIAL_KEYS:
            raise UsageError(f"invalid serial interface '{iface}'")
        if not conf.get(iface):
            raise ApiError(400, f"serial interface '{iface}' is not configured")
        if conf[iface] != "socket":
            raise ApiError(400, f"wrong serial type on interface '{iface}'")
        return iface
    for key in SERIAL_KEYS:
        if conf.get(key) == "socket":
            return key
    raise ApiError(400, "unable to find a serial interface")


def socket_path(client: LocalClient, vmid: int, iface: str) -> Path:
    return client.paths.run_dir / "qemu-server" / f"{vmid}.{iface}"


@contextlib.contextmanager
def _raw_terminal(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def connect(path: Path, escape: int | None) -> int:
    """Shuttle bytes between stdin/stdout and the socket at ``path`` until done."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as err:
        sock.close()
        raise ApiError(0, f"cannot connect to {path}: {err.strerror}") from err
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    sel = selectors.DefaultSelector()
    sel.register(sock, selectors.EVENT_READ, "sock")
    sel.register(in_fd, selectors.EVENT_READ, "stdin")
    stdin_done_at: float | None = None
    with sock, sel, _raw_terminal(in_fd):
        while True:
            timeout = None
            if stdin_done_at is not None:
                timeout = stdin_done_at + EOF_GRACE - time.monotonic()
                if timeout <= 0:
                    return 0
            for key, _ in sel.select(timeout):
                if key.data == "sock":
                    data = sock.recv(65536)
                    if not data:
                        return 0  # the VM stopped
                    os.write(out_fd, data)
                    continue
                data = os.read(in_fd, 4096)
                if not data:
                    sel.unregister(in_fd)
                    stdin_done_at = time.monotonic()
                    continue
                if escape is not None and escape in data:
                    sock.sendall(data[: data.index(escape)])
                    return 0
                sock.sendall(data)


def terminal(client: LocalClient, vmid: int, iface: str | None, escape_spec: str) -> int:
    """``qm terminal VMID [--iface serialN] [--escape ^O]``."""
    escape = escape_byte(escape_spec)
    conf = client.call("GET", f"/nodes/{client.node}/qemu/{vmid}/config")
    chosen = pick_iface(conf, iface)
    status = client.call("GET", f"/nodes/{client.node}/qemu/{vmid}/status/current")
    if status.get("status") != "running":
        raise ApiError(400, f"VM {vmid} not running")
    hint = f" (press Ctrl+{chr(escape + 64)} to exit)" if escape is not None and escape < 32 else ""
    print(f"starting serial terminal on interface {chosen}{hint}", flush=True)
    return connect(socket_path(client, vmid, chosen), escape)
