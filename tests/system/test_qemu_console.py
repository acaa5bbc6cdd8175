"""VM consoles end to end: a real pyxisd, a booting TCG guest, and websocket clients.

The guest is the test image's ISO (``tests/support/guest_image.py``) with ``serial0:
socket`` and a ``std`` VGA.  ``termproxy`` + ``vncwebsocket`` must carry the xterm.js
protocol to the guest's serial shell; ``vncproxy`` + ``vncwebsocket`` must carry an RFB
session to QEMU's VNC server, driven here by hand as noVNC would (no-auth handshake,
ServerInit, one framebuffer update).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import ssl
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from daemon import ADMIN, ADMIN_PW, Daemon
from websockets.sync.client import ClientConnection, connect

from pyxis.guests.qemu import runtime

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs QEMU"),
]

VMID = 9300
SUPPORT = Path(__file__).resolve().parents[1] / "support"
BOOT_TIMEOUT = 120.0
MARKER = b"PYXIS-GUEST-READY"
PROMPT = b"pyxis-guest#"


def _guest_iso() -> Path:
    res = subprocess.run(
        [sys.executable, str(SUPPORT / "guest_image.py")],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"no test guest image: {res.stderr.strip()[-300:]}")
    return Path(json.loads(res.stdout)["iso"])


@pytest.fixture(scope="module")
def node() -> Iterator[Daemon]:
    # a short root: QEMU's unix sockets live below it and paths are limited to 107 bytes
    base = Path(tempfile.mkdtemp(prefix="pyxcon", dir="/tmp"))
    d = Daemon(base / "n1")
    try:
        d.start()
        d.add_admin(ADMIN, ADMIN_PW)
        isodir = d.root / "var/lib/vz/template/iso"
        isodir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(_guest_iso(), isodir / "guest.iso")
        yield d
        assert "Traceback" not in d.output(), d.output()
    finally:
        d.stop()
        run = d.root / "run/pyxis"
        for pid in runtime.list_running(run).values():  # whatever a failure left running
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(base, ignore_errors=True)


class Api:
    """A ticket session of ``admin@pve`` against the daemon."""

    def __init__(self, d: Daemon) -> None:
        self.d = d
        self.http = httpx.Client(base_url=d.api(""), verify=False, timeout=30)
        r = self.http.post("/access/ticket", data={"username": ADMIN, "password": ADMIN_PW})
        r.raise_for_status()
        data = r.json()["data"]
        self.ticket = data["ticket"]
        self.http.cookies.set("PVEAuthCookie", self.ticket)
        self.http.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]

    def call(self, method: str, path: str, **data: str) -> Any:
        r = self.http.request(method, path, data=data or None)
        assert r.status_code == 200, f"{method} {path}: {r.status_code} {r.text}"
        return r.json()["data"]

    def task(self, upid: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            st = self.call("GET", f"/nodes/{self.d.node}/tasks/{upid}/status")
            if st["status"] == "stopped":
                return str(st["exitstatus"])
            time.sleep(0.1)
        raise AssertionError(f"task {upid} still running")

    def ws(self, vm: str, port: int, ticket: str) -> Any:
        """``connect(...)`` to the console websocket (use it as a context manager)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        url = f"wss://{self.d.host}:{self.d.port}/api2/json{vm}/vncwebsocket?" + urlencode(
            {"port": port, "vncticket": ticket}
        )
        return connect(
            url, ssl=ctx, subprotocols=["binary"],  # type: ignore[list-item]
            additional_headers={"Cookie": f"PVEAuthCookie={self.ticket}"},
            proxy=None, compression=None,
        )  # fmt: skip


@pytest.fixture(scope="module")
def guest(node: Daemon) -> Iterator[tuple[Api, str]]:
    api = Api(node)
    vm = f"/nodes/{node.node}/qemu/{VMID}"
    upid = api.call(
        "POST", f"/nodes/{node.node}/qemu", vmid=str(VMID), name="console-test", kvm="0",
        memory="256", serial0="socket", vga="std", ide2="local:iso/guest.iso,media=cdrom",
        boot="order=ide2",
    )  # fmt: skip
    assert api.task(upid) == "OK"
    assert api.task(api.call("POST", f"{vm}/status/start")) == "OK"
    try:
        yield api, vm
    finally:
        with contextlib.suppress(Exception):
            api.task(api.call("POST", f"{vm}/status/stop"))
            api.task(api.call("DELETE", vm))
        api.http.close()


class Stream:
    """Bytes of a websocket's binary messages as one stream."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.buf = b""

    def fill(self, timeout: float) -> bool:
        try:
            msg = self.conn.recv(timeout=timeout)
        except TimeoutError:
            return False
        self.buf += msg.encode() if isinstance(msg, str) else msg
        return True

    def read(self, n: int, timeout: float = 10) -> bytes:
        deadline = time.monotonic() + timeout
        while len(self.buf) < n:
            assert self.fill(max(0.01, deadline - time.monotonic())), f"short read: {self.buf!r}"
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _term_input(text: str) -> str:
    return f"0:{len(text.encode())}:{text}"


def test_serial_console(guest: tuple[Api, str]) -> None:
    api, vm = guest
    data = api.call("POST", f"{vm}/termproxy", serial="serial0")
    assert data["user"] == ADMIN and 5900 <= data["port"] <= 5999
    with api.ws(vm, data["port"], data["ticket"]) as conn:
        assert conn.subprotocol == "binary"
        conn.send(f"{data['user']}:{data['ticket']}\n")
        out = Stream(conn)
        assert out.read(2) == b"OK", out.buf
        conn.send("1:80:24:")
        # boot output until the marker or (booted already) the prompt; a newline now
        # and then makes the shell show its prompt again
        deadline = time.monotonic() + BOOT_TIMEOUT
        nudged = time.monotonic()
        while MARKER not in out.buf and PROMPT not in out.buf:
            assert time.monotonic() < deadline, f"guest did not boot: {out.buf[-2000:]!r}"
            if not out.fill(2.0) and time.monotonic() - nudged > 5:
                conn.send(_term_input("\n"))
                nudged = time.monotonic()
        out.buf = b""
        conn.send("2")  # ping
        conn.send(_term_input("echo hel"))
        conn.send(_term_input("lo\n"))
        deadline = time.monotonic() + 30
        while not re.search(rb"(^|\n)hello\r?\n", out.buf):
            assert time.monotonic() < deadline, f"no echo: {out.buf!r}"
            out.fill(1.0)
    assert api.task(data["upid"]) == "OK"


def test_vnc_console(guest: tuple[Api, str]) -> None:
    api, vm = guest
    data = api.call("POST", f"{vm}/vncproxy", websocket="1")
    with api.ws(vm, data["port"], data["ticket"]) as conn:
        assert conn.subprotocol == "binary"
        rfb = Stream(conn)
        assert rfb.read(12) == b"RFB 003.008\n"
        conn.send(b"RFB 003.008\n")
        count = rfb.read(1)[0]
        types = rfb.read(count)
        assert 1 in types, types  # security type None
        conn.send(b"\x01")
        assert rfb.read(4) == b"\0\0\0\0"  # SecurityResult OK
        conn.send(b"\x01")  # ClientInit, shared
        width, height = struct.unpack(">HH", rfb.read(4))
        assert width > 0 and height > 0
        rfb.read(16)  # pixel format
        (name_len,) = struct.unpack(">I", rfb.read(4))
        rfb.read(name_len)
        conn.send(struct.pack(">BBHHHH", 3, 0, 0, 0, width, height))
        assert rfb.read(1, timeout=30) == b"\0"  # FramebufferUpdate
        rfb.read(1)
        (rects,) = struct.unpack(">H", rfb.read(2))
        assert rects >= 1
    assert api.task(data["upid"]) == "OK"
