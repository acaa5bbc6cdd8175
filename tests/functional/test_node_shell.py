"""The host shell in process: ``termproxy`` checks, tickets and the websocket relay.

The relay runs a real ``/bin/sh`` on a pty in place of ``login`` (``shell_argv`` is
swapped), so the xterm.js protocol, the ticket re-check of the login line and the
resize path are exercised without logging anyone in; the system tier runs ``login``.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from funchelp import NODE, UPID_RE, UserFactory, wait_task
from wshelp import WsPeer

from pyxis.api import node_shell
from pyxis.guests.console import sessions
from pyxis.server.app import ApiApp
from pyxis.services import Services
from pyxis.tasks.upid import UPID

SHELL = f"/api2/json/nodes/{NODE}"


def _ws_path(port: int, ticket: str, node: str = NODE) -> str:
    q = urlencode({"port": port, "vncticket": ticket})
    return f"/api2/json/nodes/{node}/vncwebsocket?{q}"


@pytest.fixture
def plain_sh(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Run ``/bin/sh`` instead of ``login``; records (authid, cmd) of each session."""
    seen: list[tuple[str, str]] = []

    def argv(authid: str, cmd: str, euid: int | None = None) -> list[str]:
        seen.append((authid, cmd))
        return ["/bin/sh"]

    monkeypatch.setattr(node_shell, "shell_argv", argv)
    return seen


async def test_termproxy_returns_session(svc: Services, root_api: httpx.AsyncClient) -> None:
    sessions(svc).connect_timeout = 0.2
    r = await root_api.post(f"{SHELL}/termproxy")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert set(data) == {"port", "ticket", "upid", "user"}
    assert data["user"] == "root@pam" and 5900 <= data["port"] <= 5999
    assert UPID_RE.match(data["upid"])
    upid = UPID.parse(data["upid"])
    assert (upid.type, upid.id) == ("vncshell", "")
    status = await wait_task(root_api, data["upid"])
    assert status["exitstatus"] == "connection timed out"


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"cmd": "bogus"}, 400, "cmd"),
        ({"cmd": "ceph_install"}, 501, "Ceph"),
        ({"cmd-opts": "x"}, 400, "cmd"),
    ],
)
async def test_termproxy_validation(
    root_api: httpx.AsyncClient, params: dict[str, str], status: int, needle: str
) -> None:
    r = await root_api.post(f"{SHELL}/termproxy", data=params)
    assert r.status_code == status, r.text
    body = r.json()
    assert needle in (body["message"] + str(body.get("errors")))


async def test_shell_needs_sys_console(user_session: UserFactory) -> None:
    auditor = await user_session("carol@pve", role="PVEAuditor", path="/")
    r = await auditor.post(f"/nodes/{NODE}/termproxy")
    assert r.status_code == 403, r.text
    assert "Sys.Console" in r.json()["message"]
    q = {"port": 5900, "vncticket": "PVEVNC:00000000::AAAA"}
    assert (await auditor.get(f"/nodes/{NODE}/vncwebsocket", params=q)).status_code == 403
    # upgrade is for root@pam alone, even with Sys.Console
    admin = await user_session("dave@pve", role="PVESysAdmin", path="/")
    r = await admin.post(f"/nodes/{NODE}/termproxy", data={"cmd": "upgrade"})
    assert r.status_code == 403, r.text


async def test_other_node_is_refused(root_api: httpx.AsyncClient) -> None:
    r = await root_api.post("/api2/json/nodes/othernode/termproxy")
    assert r.status_code == 501, r.text


async def test_ticket_is_bound_to_the_node_path(svc: Services, root_api: httpx.AsyncClient) -> None:
    data = (await root_api.post(f"{SHELL}/termproxy")).json()["data"]
    q = {"port": data["port"], "vncticket": data["ticket"]}
    r = await root_api.get(f"{SHELL}/vncwebsocket", params=q)
    assert r.status_code == 200 and r.json()["data"] == {"port": str(data["port"])}
    # a guest console websocket does not take a node ticket
    r = await root_api.get(f"{SHELL}/qemu/100/vncwebsocket", params=q)
    assert r.status_code in (401, 500), r.text
    await svc.tasks.stop(data["upid"])


async def _login(peer: WsPeer, data: dict[str, Any]) -> None:
    await peer.accepted()
    peer.send(f"{data['user']}:{data['ticket']}\n")
    assert await peer.recv() == b"OK"


async def test_shell_over_websocket(
    svc: Services, user_session: UserFactory, plain_sh: list[tuple[str, str]]
) -> None:
    admin = await user_session("erin@pve", role="PVESysAdmin", path="/")
    data = (await admin.post(f"/nodes/{NODE}/termproxy")).json()["data"]
    cookie = f"PVEAuthCookie={admin.ticket}"
    peer = WsPeer(ApiApp(svc), _ws_path(data["port"], data["ticket"]), {"cookie": cookie})
    await _login(peer, data)
    peer.send("1:120:40:")
    for text in ("stty size; echo pyx", "is-$((6*7))\n"):
        peer.send(f"0:{len(text.encode())}:{text}")
    out = await peer.read_until(b"pyxis-42", timeout=30)
    assert b"40 120" in out
    assert plain_sh == [("erin@pve", "login")]
    await peer.disconnect()
    assert (await wait_task(admin.client, data["upid"]))["exitstatus"] == "OK"


async def test_shell_exit_ends_the_session(
    svc: Services, root_api: httpx.AsyncClient, plain_sh: list[tuple[str, str]]
) -> None:
    data = (await root_api.post(f"{SHELL}/termproxy")).json()["data"]
    peer = WsPeer(ApiApp(svc, local=True), _ws_path(data["port"], data["ticket"]))
    await _login(peer, data)
    peer.send("0:5:exit\n")
    await asyncio.wait_for(peer.task, 30)  # never hang the tier
    assert (await wait_task(root_api, data["upid"]))["exitstatus"] == "OK"


async def test_shell_login_line_is_checked(
    svc: Services, user_session: UserFactory, plain_sh: list[tuple[str, str]]
) -> None:
    admin = await user_session("frank@pve", role="PVESysAdmin", path="/")
    data = (await admin.post(f"/nodes/{NODE}/termproxy")).json()["data"]
    cookie = f"PVEAuthCookie={admin.ticket}"
    peer = WsPeer(ApiApp(svc), _ws_path(data["port"], data["ticket"]), {"cookie": cookie})
    await peer.accepted()
    peer.send(f"root@pam:{data['ticket']}\n")  # a ticket of frank's, not root's
    msg = await peer.next()
    assert msg == {"type": "websocket.close", "code": 1008}, msg
    status = await wait_task(admin.client, data["upid"])
    assert "console login failed" in status["exitstatus"]
    assert plain_sh == []


async def test_another_user_cannot_take_roots_shell_session(
    svc: Services,
    root_api: httpx.AsyncClient,
    user_session: UserFactory,
    plain_sh: list[tuple[str, str]],
) -> None:
    """A console ticket proves who connects, not whose session it is: mallory's own
    valid ticket must not attach her to root's pending ``login -f root`` session."""
    mine = (await root_api.post(f"{SHELL}/termproxy")).json()["data"]
    mallory = await user_session("mallory@pve", role="PVESysAdmin", path="/")
    hers = (await mallory.post(f"/nodes/{NODE}/termproxy")).json()["data"]
    cookie = f"PVEAuthCookie={mallory.ticket}"
    peer = WsPeer(ApiApp(svc), _ws_path(mine["port"], hers["ticket"]), {"cookie": cookie})
    status, body = await peer.rejected()
    assert status == 400 and "no console session" in body["message"], body
    assert plain_sh == []
    assert sessions(svc).get(int(mine["port"])) is not None  # root's session is untouched
    for upid in (mine["upid"], hers["upid"]):
        await svc.tasks.stop(upid)


def test_shell_argv_follows_the_user() -> None:
    assert node_shell.shell_argv("root@pam", "login", euid=0) == ["login", "-f", "root"]
    assert node_shell.shell_argv("alice@pve", "login", euid=0) == ["login"]
    assert node_shell.shell_argv("root@pam!tok", "login", euid=0) == ["login"]
    assert node_shell.shell_argv("root@pam", "upgrade", euid=0) == ["apt-get", "dist-upgrade"]
    # a daemon without root rights cannot use login: root@pam gets its own shell
    argv = node_shell.shell_argv("root@pam", "login", euid=65534)
    assert argv[-1] == "-l" and argv[0] != "login"
