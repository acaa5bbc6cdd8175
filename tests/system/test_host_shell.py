"""The host shell end to end: a real pyxisd, ``termproxy`` and the websocket.

``root@pam`` (the CLI over the daemon's unix socket) opens the session; the websocket
then authenticates by the console ticket alone, as the upstream UI's shell window
does, speaks the xterm.js protocol and gets a root shell from ``login -f root``.  A
``Sys.Console`` user other than root gets ``login``'s prompt instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import ssl
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import requests
from daemon import Daemon
from websockets.sync.client import ClientConnection, connect

pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
    pytest.mark.skipif(
        os.geteuid() != 0 or shutil.which("login") is None,
        reason="login -f root needs root and util-linux login",
    ),
]
TIMEOUT = 30.0


@contextlib.contextmanager
def _open(d: Daemon, data: dict[str, Any], cookie: str | None = None) -> Iterator[ClientConnection]:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    query = urlencode({"port": data["port"], "vncticket": data["ticket"]})
    url = f"wss://{d.host}:{d.port}/api2/json/nodes/{d.node}/vncwebsocket?{query}"
    headers = {"Cookie": f"PVEAuthCookie={cookie}"} if cookie else {}
    with connect(
        url, ssl=ctx, subprotocols=["binary"],  # type: ignore[list-item]
        additional_headers=headers, proxy=None, compression=None,
    ) as conn:  # fmt: skip
        conn.send(f"{data['user']}:{data['ticket']}\n")
        yield conn


def _read_until(conn: ClientConnection, needle: bytes, buf: bytes = b"") -> bytes:
    deadline = time.monotonic() + TIMEOUT
    while needle not in buf:
        assert time.monotonic() < deadline, buf[-500:]
        try:
            msg = conn.recv(timeout=1)
        except TimeoutError:
            continue
        buf += msg.encode() if isinstance(msg, str) else msg
    return buf


def _task_status(d: Daemon, upid: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while True:
        out = d.ok("pvesh", "get", f"/nodes/{d.node}/tasks/{upid}/status", "--output-format",
                   "json")  # fmt: skip
        status: dict[str, Any] = json.loads(out)
        if status["status"] == "stopped" or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_root_shell_runs_commands(daemon: Daemon) -> None:
    d = daemon
    out = d.ok("pvesh", "create", f"/nodes/{d.node}/termproxy", "--output-format", "json")
    data = json.loads(out)
    assert data["user"] == "root@pam"
    with _open(d, data) as conn:
        buf = _read_until(conn, b"OK")
        conn.send("1:100:30:")
        text = "echo pyxis-$((6*7)); stty size\n"
        conn.send(f"0:{len(text.encode())}:{text}")
        buf = _read_until(conn, b"30 100", _read_until(conn, b"pyxis-42", buf))
        conn.send("0:5:exit\n")
    status = _task_status(d, data["upid"])
    assert status["exitstatus"] == "OK", status
    assert status["type"] == "vncshell"


def test_other_users_get_a_login_prompt(daemon: Daemon) -> None:
    d = daemon
    d.add_admin("shell@pve", "shell-pw-12345", role="PVESysAdmin")
    login = requests.post(
        f"{d.url}/api2/json/access/ticket", verify=False, timeout=30,
        data={"username": "shell@pve", "password": "shell-pw-12345"},
    ).json()["data"]  # fmt: skip
    r = requests.post(
        f"{d.url}/api2/json/nodes/{d.node}/termproxy", verify=False, timeout=30,
        cookies={"PVEAuthCookie": login["ticket"]},
        headers={"CSRFPreventionToken": login["CSRFPreventionToken"]},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    with _open(d, data, login["ticket"]) as conn:
        _read_until(conn, b"login: ")
    # auditors may not open it at all
    d.add_admin("look@pve", "look-pw-12345", role="PVEAuditor")
    look = requests.post(
        f"{d.url}/api2/json/access/ticket", verify=False, timeout=30,
        data={"username": "look@pve", "password": "look-pw-12345"},
    ).json()["data"]  # fmt: skip
    r = requests.post(
        f"{d.url}/api2/json/nodes/{d.node}/termproxy", verify=False, timeout=30,
        cookies={"PVEAuthCookie": look["ticket"]},
        headers={"CSRFPreventionToken": look["CSRFPreventionToken"]},
    )  # fmt: skip
    assert r.status_code == 403
