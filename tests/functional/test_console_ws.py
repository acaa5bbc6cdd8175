"""VM consoles in process: console tickets, permissions and the websocket relay.

HTTP calls go through httpx's ASGI transport; websocket requests are driven through
the ASGI websocket interface directly (``WsPeer``) against fake guest sockets, so the
relay and the xterm.js protocol run without QEMU (the system tier uses a real guest).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from funchelp import NODE, UPID_RE, UserFactory, wait_task
from wshelp import WsPeer

from pyxis.guests.console import sessions
from pyxis.guests.qemu.runtime import RunPaths
from pyxis.server.app import ApiApp
from pyxis.services import Services
from pyxis.tasks.upid import UPID

VMID = 100
VM = f"/api2/json/nodes/{NODE}/qemu/{VMID}"
VNC_TICKET_RE = re.compile(r"^PVEVNC:[0-9A-F]{8}::[A-Za-z0-9+/=]+$")


@pytest.fixture
async def vm(root_api: httpx.AsyncClient) -> int:
    r = await root_api.post(
        f"/api2/json/nodes/{NODE}/qemu", data={"vmid": str(VMID), "serial0": "socket"}
    )
    assert r.status_code == 200, r.text
    assert (await wait_task(root_api, r.json()["data"]))["exitstatus"] == "OK"
    return VMID


@pytest.fixture
def short_run_dir() -> Iterator[Path]:
    """A run dir with a short path: unix socket paths are limited to 107 bytes."""
    path = Path(tempfile.mkdtemp(prefix="pyxcon", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def running(svc: Services, vm: int, short_run_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Pretend VM ``vm`` runs; its sockets live in ``short_run_dir``/qemu-server."""
    (short_run_dir / "qemu-server").mkdir()
    monkeypatch.setattr(svc.qemu, "pid", lambda vmid: 4242 if vmid == vm else None)
    monkeypatch.setattr(svc.qemu, "run_paths", lambda vmid: RunPaths(short_run_dir, vmid))
    return short_run_dir / "qemu-server"


@pytest.fixture
async def guest_socket() -> AsyncIterator[Any]:
    """``await serve(path, greeting)``: a fake guest socket echoing upper-cased input."""
    servers: list[asyncio.Server] = []
    seen: list[bytes] = []

    async def serve(path: Path, greeting: bytes) -> list[bytes]:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.write(greeting)
            while data := await reader.read(1024):
                seen.append(data)
                writer.write(data.upper())
                await writer.drain()
            writer.close()

        servers.append(await asyncio.start_unix_server(handle, str(path)))
        return seen

    yield serve
    for server in servers:
        server.close()


def _ws_path(port: int, ticket: str) -> str:
    return f"{VM}/vncwebsocket?" + urlencode({"port": port, "vncticket": ticket})


async def test_vncproxy_returns_ticket_port_and_task(
    svc: Services, root_api: httpx.AsyncClient, vm: int
) -> None:
    sessions(svc).connect_timeout = 0.2
    r = await root_api.post(f"{VM}/vncproxy", data={"websocket": "1", "generate-password": "1"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"cert", "password", "port", "ticket", "upid", "user"}
    assert VNC_TICKET_RE.match(data["ticket"]), data["ticket"]
    assert 5900 <= data["port"] <= 5999 and data["user"] == "root@pam"
    assert data["cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert len(data["password"]) == 8
    assert UPID_RE.match(data["upid"])
    u = UPID.parse(data["upid"])
    assert (u.type, u.id) == ("vncproxy", str(vm))
    # nobody connects: the task gives up and frees the port
    status = await wait_task(root_api, data["upid"])
    assert status["exitstatus"] == "connection timed out"
    assert sessions(svc).get(data["port"]) is None
    r = await root_api.post(f"{VM}/termproxy")
    assert set(r.json()["data"]) == {"port", "ticket", "upid", "user"}


async def test_vncwebsocket_checks_the_ticket(
    svc: Services, user_session: UserFactory, vm: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await user_session("alice@pve", role="PVEVMUser", path=f"/vms/{vm}")
    bob = await user_session("bob@pve", role="PVEVMUser", path=f"/vms/{vm}")
    data = (await alice.post(f"/nodes/{NODE}/qemu/{vm}/vncproxy")).json()["data"]
    port, ticket = data["port"], data["ticket"]
    q = {"port": port, "vncticket": ticket}
    # a plain GET only verifies the ticket, as upstream
    r = await alice.get(f"/nodes/{NODE}/qemu/{vm}/vncwebsocket", params=q)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == {"port": str(port)}
    # the ticket is bound to its user and path
    r = await bob.get(f"/nodes/{NODE}/qemu/{vm}/vncwebsocket", params=q)
    assert r.status_code == 401
    bad = {"port": port, "vncticket": ticket[:-8] + "AAAAAAA="}
    assert (await alice.get(f"/nodes/{NODE}/qemu/{vm}/vncwebsocket", params=bad)).status_code == 401
    # ... and to a moment: 40 s to use it
    real = svc.access.clock
    monkeypatch.setattr(svc.access, "clock", lambda: real() + 60)
    r = await alice.get(f"/nodes/{NODE}/qemu/{vm}/vncwebsocket", params=q)
    assert r.status_code == 401


async def test_console_needs_vm_console(user_session: UserFactory, vm: int) -> None:
    auditor = await user_session("carol@pve", role="PVEAuditor", path="/")
    for what in ("vncproxy", "termproxy"):
        r = await auditor.post(f"/nodes/{NODE}/qemu/{vm}/{what}")
        assert r.status_code == 403, r.text
        assert "VM.Console" in r.json()["message"]
    r = await auditor.get(
        f"/nodes/{NODE}/qemu/{vm}/vncwebsocket", params={"port": 5900, "vncticket": "x"}
    )
    assert r.status_code == 403


async def test_websocket_rejections(svc: Services, root_api: httpx.AsyncClient, vm: int) -> None:
    app = ApiApp(svc)
    data = (await root_api.post(f"{VM}/vncproxy")).json()["data"]
    # no cookie and a forged ticket: 401 before any upgrade
    peer = WsPeer(app, _ws_path(data["port"], "PVEVNC:00000000::AAAA"))
    status, body = await peer.rejected()
    assert status == 401 and body["data"] is None
    # a path that is no websocket
    peer = WsPeer(ApiApp(svc, local=True), f"/api2/json/nodes/{NODE}/qemu/{vm}/config")
    assert (await peer.rejected())[0] == 400
    # the ticket alone authenticates (its session knows the user); the VM is not running
    peer = WsPeer(app, _ws_path(data["port"], data["ticket"]))
    status, body = await peer.rejected()
    assert status == 500 and "not running" in body["message"]
    status_ = await wait_task(root_api, data["upid"])
    assert "not running" in status_["exitstatus"]


async def test_vnc_relay(
    svc: Services, root_api: httpx.AsyncClient, running: Path, guest_socket: Any
) -> None:
    seen = await guest_socket(running / f"{VMID}.vnc", b"RFB 003.008\n")
    data = (await root_api.post(f"{VM}/vncproxy", data={"websocket": "1"})).json()["data"]
    peer = WsPeer(ApiApp(svc, local=True), _ws_path(data["port"], data["ticket"]))
    await peer.accepted()
    assert await peer.recv() == b"RFB 003.008\n"
    peer.send(b"RFB 003.008\n")
    assert await peer.read_until(b"RFB 003.008\n") == b"RFB 003.008\n"
    assert seen == [b"RFB 003.008\n"]
    # one connection per session
    second = WsPeer(ApiApp(svc, local=True), _ws_path(data["port"], data["ticket"]))
    assert (await second.rejected())[0] == 400
    await peer.disconnect()
    assert (await wait_task(root_api, data["upid"]))["exitstatus"] == "OK"


async def test_termproxy_xterm_protocol(
    svc: Services, user_session: UserFactory, running: Path, guest_socket: Any
) -> None:
    seen = await guest_socket(running / f"{VMID}.serial0", b"login: ")
    alice = await user_session("alice@pve", role="PVEVMUser", path=f"/vms/{VMID}")
    data = (await alice.post(f"/nodes/{NODE}/qemu/{VMID}/termproxy")).json()["data"]
    cookie = f"PVEAuthCookie={alice.ticket}"
    peer = WsPeer(ApiApp(svc), _ws_path(data["port"], data["ticket"]), {"cookie": cookie})
    await peer.accepted()
    # the login line may arrive split and followed by the first input
    peer.send(f"{data['user']}:{data['ticket'][:10]}")
    peer.send(data["ticket"][10:] + "\n0:3:abc")
    assert await peer.recv() == b"OK"
    out = await peer.read_until(b"ABC")
    assert out.startswith(b"login: ")
    peer.send("1:80:24:")
    peer.send("2")
    peer.send("0:5:h\u00e9l")  # 5 bytes: h, two for the accent, l ... and one more
    peer.send("p0:1:\n")  # the rest of the message, then another
    assert await peer.read_until(b"\n") == "h\u00e9lp\n".encode().upper()
    assert b"".join(seen) == "abch\u00e9lp\n".encode()
    await peer.disconnect()
    assert (await wait_task(alice.client, data["upid"]))["exitstatus"] == "OK"


async def test_termproxy_login_is_checked(
    svc: Services, root_api: httpx.AsyncClient, running: Path, guest_socket: Any
) -> None:
    await guest_socket(running / f"{VMID}.serial0", b"")
    data = (await root_api.post(f"{VM}/termproxy")).json()["data"]
    peer = WsPeer(ApiApp(svc, local=True), _ws_path(data["port"], data["ticket"]))
    await peer.accepted()
    peer.send(f"mallory@pve:{data['ticket']}\n")
    assert await peer.next() == {"type": "websocket.close", "code": 1008}
    status = await wait_task(root_api, data["upid"])
    assert "console login failed" in status["exitstatus"]


async def test_stopping_the_task_ends_the_session(
    svc: Services, root_api: httpx.AsyncClient, running: Path, guest_socket: Any
) -> None:
    await guest_socket(running / f"{VMID}.vnc", b"RFB 003.008\n")
    data = (await root_api.post(f"{VM}/vncproxy")).json()["data"]
    peer = WsPeer(ApiApp(svc, local=True), _ws_path(data["port"], data["ticket"]))
    await peer.accepted()
    assert await peer.recv() == b"RFB 003.008\n"
    r = await root_api.delete(f"/api2/json/nodes/{NODE}/tasks/{data['upid']}")
    assert r.status_code == 200, r.text
    assert await peer.next() == {"type": "websocket.close", "code": 1000}
    await asyncio.wait_for(peer.task, 5)
    assert sessions(svc).get(data["port"]) is None
