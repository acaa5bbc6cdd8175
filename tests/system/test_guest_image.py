"""The test guest boots from its ISO and from its disk image under plain TCG QEMU.

For each medium: the ready marker reaches the serial console within 60 s, the guest
agent answers ``guest-ping`` over its virtio-serial socket, the root shell on ttyS0 runs
a typed command, and QMP ``system_powerdown`` (the ACPI power button) makes QEMU exit
within 30 s.  The image is built once per cache key (``tests/support/guest_image.py``)
and reused; the disk is attached with ``snapshot=on`` so the cached copy never changes.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

import guest_image

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86_64"
    ),
]

BOOT_TIMEOUT = 60.0
POWERDOWN_TIMEOUT = 30.0
IO_TIMEOUT = 10.0


class LineSocket:
    """Newline-delimited JSON over a unix socket (QMP and the guest agent speak it)."""

    def __init__(self, path: Path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        self.sock.connect(str(path))
        self.buf = b""

    def send(self, msg: dict[str, Any]) -> None:
        self.sock.sendall(json.dumps(msg).encode() + b"\n")

    def recv(self) -> dict[str, Any]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("socket closed while waiting for a reply")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        reply: dict[str, Any] = json.loads(line)
        return reply

    def close(self) -> None:
        self.sock.close()


class Guest:
    """One QEMU process booting the test guest; ``close()`` always reaps it."""

    def __init__(self, workdir: Path, media: list[str]) -> None:
        self.dir = workdir
        self.serial_log = workdir / "serial.log"
        self.qmp_path = workdir / "qmp.sock"
        self.agent_path = workdir / "agent.sock"
        self.serial_path = workdir / "serial.sock"
        argv = [
            "qemu-system-x86_64", "-accel", "tcg", "-nodefaults", "-display", "none",
            "-m", "256",
            "-chardev", f"socket,id=ser0,path={self.serial_path},server=on,wait=off,"
                        f"logfile={self.serial_log}",
            "-serial", "chardev:ser0",
            "-qmp", f"unix:{self.qmp_path},server=on,wait=off",
            "-chardev", f"socket,id=ga0,path={self.agent_path},server=on,wait=off",
            "-device", "virtio-serial",
            "-device", f"virtserialport,chardev=ga0,name={guest_image.AGENT_PORT}",
            *media,
        ]  # fmt: skip
        self.started = time.monotonic()
        with (workdir / "qemu.out").open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def serial_text(self) -> str:
        if not self.serial_log.exists():
            return ""
        return self.serial_log.read_bytes().decode(errors="replace")

    def wait_serial(self, text: str, timeout: float, since: int = 0) -> float:
        """Seconds from start until ``text`` appears on the console after offset ``since``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.serial_text()[since:]:
                return time.monotonic() - self.started
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not on the serial console; tail:\n{self.tail()}")

    def tail(self) -> str:
        qemu_out = (self.dir / "qemu.out").read_text(errors="replace")
        return self.serial_text()[-3000:] + "\n--- qemu ---\n" + qemu_out[-2000:]

    def agent(self, command: str) -> dict[str, Any]:
        conn = LineSocket(self.agent_path)
        try:
            # guest-sync first: it discards anything a previous client left in the channel.
            sync_id = int(time.monotonic() * 1000) % 2**31
            conn.send({"execute": "guest-sync", "arguments": {"id": sync_id}})
            while conn.recv().get("return") != sync_id:
                pass
            conn.send({"execute": command})
            return conn.recv()
        finally:
            conn.close()

    def qmp(self, command: str) -> dict[str, Any]:
        conn = LineSocket(self.qmp_path)
        try:
            assert "QMP" in conn.recv()
            conn.send({"execute": "qmp_capabilities"})
            assert "return" in conn.recv()
            conn.send({"execute": command})
            while True:
                reply = conn.recv()
                if "event" not in reply:
                    return reply
        finally:
            conn.close()

    def type_line(self, line: str) -> None:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(IO_TIMEOUT)
            sock.connect(str(self.serial_path))
            sock.sendall(line.encode() + b"\n")
            time.sleep(0.2)  # keep the connection until QEMU has read the bytes

    def wait_exit(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def image() -> guest_image.GuestImage:
    return guest_image.build()


def media_args(image: guest_image.GuestImage, medium: str) -> list[str]:
    if medium == "iso":
        return ["-drive", f"file={image.iso},media=cdrom,if=ide,readonly=on", "-boot", "d"]
    return ["-drive", f"file={image.disk},format=raw,if=virtio,snapshot=on", "-boot", "c"]


@pytest.fixture(params=["iso", "disk"])
def guest(
    request: pytest.FixtureRequest, image: guest_image.GuestImage, tmp_path: Path
) -> Iterator[Guest]:
    g = Guest(tmp_path, media_args(image, request.param))
    try:
        yield g
    finally:
        g.close()


def test_boots_answers_agent_and_powers_off(guest: Guest) -> None:
    booted = guest.wait_serial(guest_image.MARKER, BOOT_TIMEOUT)
    print(f"ready marker after {booted:.1f} s")
    assert "PYXIS-CMDLINE: " in guest.serial_text()
    assert guest_image.KERNEL_CMDLINE in guest.serial_text()

    assert guest.agent("guest-ping") == {"return": {}}

    offset = len(guest.serial_text())
    guest.type_line("echo PYXIS-SHELL-$((6 * 7))")
    guest.wait_serial("PYXIS-SHELL-42", IO_TIMEOUT, since=offset)

    assert guest.qmp("system_powerdown") == {"return": {}}
    asked = time.monotonic()
    try:
        code = guest.wait_exit(POWERDOWN_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"QEMU still running after powerdown:\n{guest.tail()}") from None
    print(f"powered off {time.monotonic() - asked:.1f} s after system_powerdown")
    assert code == 0
    assert "reboot: Power down" in guest.serial_text()
