"""The daemon as a process: its on-disk layout, restarts, crashes, neighbours, certificate.

Every test runs its own ``pyxisd`` under a fresh root.  State is written through the
CLIs' unix-socket client (``LocalClient``) where speed matters and through the CLIs
themselves elsewhere; what must survive is checked after a clean SIGTERM restart and
after a SIGKILL.
"""

from __future__ import annotations

import hashlib
import json
import ssl
import stat
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon import ADMIN, ADMIN_PW, Daemon, DaemonFactory

from pyxis.cli.client import LocalClient

pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]


def served_fingerprint(d: Daemon) -> str:
    """SHA-256 of the certificate the HTTPS listener presents, ``AA:BB:..``."""
    pem = ssl.get_server_certificate((d.host, d.port))
    der = ssl.PEM_cert_to_DER_cert(pem)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def login(d: Daemon, user: str = ADMIN, password: str = ADMIN_PW) -> dict[str, Any]:
    r = requests.post(
        d.api("/access/ticket"),
        data={"username": user, "password": password},
        verify=False,
        timeout=10,
    )
    assert r.status_code == 200, (r.status_code, r.reason)
    data: dict[str, Any] = r.json()["data"]
    return data


def get(d: Daemon, path: str, ticket: str) -> requests.Response:
    return requests.get(d.api(path), cookies={"PVEAuthCookie": ticket}, verify=False, timeout=10)


def make_admin(d: Daemon, password: str) -> None:
    """``admin@pve`` as Administrator, straight over the unix socket (faster than pveum)."""
    client = LocalClient(str(d.root))
    client.call("POST", "/access/users", {"userid": ADMIN, "password": password})
    client.call("PUT", "/access/acl", {"path": "/", "users": ADMIN, "roles": "Administrator"})


def storage_ids(d: Daemon) -> set[str]:
    return {s["storage"] for s in LocalClient(str(d.root)).call("GET", "/storage")}


def user_ids(d: Daemon) -> set[str]:
    return {u["userid"] for u in LocalClient(str(d.root)).call("GET", "/access/users")}


# -- layout ------------------------------------------------------------------------------


def test_first_start_layout(daemon: Daemon) -> None:
    root = daemon.root
    assert (root / "var/lib/pyxis/config.db").is_file()
    assert stat.S_IMODE((root / "var/lib/pyxis").stat().st_mode) == 0o700
    vz = root / "var/lib/vz"
    assert vz.is_dir()
    assert (root / "var/log/pyxis/tasks").is_dir()
    run = root / "run/pyxis"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700
    sock = run / "pyxisd.sock"
    st = sock.lstat()
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (run / "pyxisd.pid").read_text().strip() == str(daemon.pid)
    assert (run / "node").read_text().strip() == daemon.node
    assert f"https://{daemon.host}:{daemon.port}/" in daemon.output()
    # the bootstrap defaults: storage 'local' on var/lib/vz, root@pam
    assert storage_ids(daemon) == {"local"}
    assert LocalClient(str(root)).call("GET", "/storage/local")["path"] == str(vz)
    assert "root@pam" in user_ids(daemon)
    # a storage's own layout appears when it is first activated
    daemon.ok("pvesm", "status")
    for sub in ("images", "template/iso", "template/cache", "dump", "snippets"):
        assert (vz / sub).is_dir(), sub


def test_sigterm_stops_cleanly(daemon: Daemon) -> None:
    assert daemon.stop() == 0
    assert not (daemon.root / "run/pyxis/pyxisd.pid").exists()
    assert "Traceback" not in daemon.output()


# -- restarts ----------------------------------------------------------------------------


def test_state_survives_restart(daemon: Daemon, tmp_path: Path) -> None:
    d = daemon
    d.add_admin(ADMIN, ADMIN_PW)
    d.ok("pvesm", "add", "dir", "keep1", "--path", str(tmp_path / "keep1"), "--content", "images")
    volid = d.ok("pvesm", "alloc", "keep1", "120", "vm-120-disk-0", "4M", "--format", "qcow2")
    add_token = ["pveum", "user", "token", "add", ADMIN, "keep", "--privsep", "0"]
    token = json.loads(d.ok(*add_token, "--output-format", "json"))
    ticket = login(d)["ticket"]
    before_fp = served_fingerprint(d)

    d.restart()

    assert "keep1" in storage_ids(d)
    assert volid.strip() in d.ok("pvesm", "list", "keep1")
    assert ADMIN in user_ids(d)
    acl = json.loads(d.ok("pveum", "acl", "list", "--output-format", "json"))
    assert any((a["path"], a["ugid"], a["roleid"]) == ("/", ADMIN, "Administrator") for a in acl)
    # a password login, an old ticket (same signing key) and the API token all still work
    assert login(d)["username"] == ADMIN
    r = get(d, "/nodes", ticket)
    assert r.status_code == 200, r.reason
    r = requests.get(
        d.api("/version"),
        headers={"Authorization": f"PVEAPIToken={token['full-tokenid']}={token['value']}"},
        verify=False,
        timeout=10,
    )
    assert r.status_code == 200, r.reason
    assert served_fingerprint(d) == before_fp


def test_sigkill_keeps_acknowledged_writes_and_fails_running_tasks(
    daemon: Daemon, tmp_path: Path
) -> None:
    d = daemon
    client = LocalClient(str(d.root))
    node = d.node
    # A base volume whose deletion takes a while: freeing it looks for linked clones
    # among all images, one qemu-img call per image.
    images = d.root / "var/lib/vz/images"
    (images / "500").mkdir(parents=True)
    for n in range(120):
        (images / "500" / f"vm-500-disk-{n}.raw").write_bytes(b"")
    (images / "300").mkdir()
    (images / "300" / "base-300-disk-0.raw").write_bytes(b"")

    acked_storages = []
    acked_users = []
    for i in range(10):
        client.call(
            "POST",
            "/storage",
            {"storage": f"crash{i}", "type": "dir", "path": str(tmp_path / f"c{i}")},
        )
        acked_storages.append(f"crash{i}")
        client.call("POST", "/access/users", {"userid": f"crash{i}@pve", "comment": f"n{i}"})
        acked_users.append(f"crash{i}@pve")

    upid = client.call(
        "DELETE", f"/nodes/{node}/storage/local/content/local:300/base-300-disk-0.raw"
    )
    client.call("POST", "/storage", {"storage": "last", "type": "dir", "path": str(tmp_path)})
    acked_storages.append("last")
    assert client.call("GET", f"/nodes/{node}/tasks/{upid}/status")["status"] == "running"
    d.kill()
    assert upid in (d.root / "var/log/pyxis/tasks/active").read_text()

    d.start()

    assert set(acked_storages) <= storage_ids(d)
    assert set(acked_users) <= user_ids(d)
    users = {u["userid"]: u for u in client.call("GET", "/access/users")}
    assert users["crash9@pve"]["comment"] == "n9"

    status = client.call("GET", f"/nodes/{node}/tasks/{upid}/status")
    assert status["status"] == "stopped"
    assert status["exitstatus"] != "OK"
    assert not status["exitstatus"].startswith("WARNINGS")
    active = client.call("GET", f"/nodes/{node}/tasks", {"source": "active"})
    assert upid not in {t["upid"] for t in active}
    failed = client.call("GET", f"/nodes/{node}/tasks", {"errors": 1})
    assert upid in {t["upid"] for t in failed}
    assert upid not in (d.root / "var/log/pyxis/tasks/active").read_text()
    # the new daemon's own tasks work as before
    vol = client.call(
        "POST",
        f"/nodes/{node}/storage/local/content",
        {"vmid": 501, "filename": "vm-501-disk-0", "size": "1M"},
    )
    upid2 = client.call("DELETE", f"/nodes/{node}/storage/local/content/{vol}")
    assert client.wait_task(upid2, echo=False) == "OK"


def test_certificate_made_once(daemon: Daemon) -> None:
    d = daemon
    fp = served_fingerprint(d)
    nodes = LocalClient(str(d.root)).call("GET", "/nodes")
    assert nodes[0]["ssl_fingerprint"] == fp
    d.restart()
    assert served_fingerprint(d) == fp
    d.kill()
    d.start()
    assert served_fingerprint(d) == fp


# -- neighbours --------------------------------------------------------------------------


def test_two_daemons_side_by_side(daemons: DaemonFactory, tmp_path: Path) -> None:
    a = daemons.start("a", node="alpha")
    b = daemons.start("b", node="beta")
    assert a.port != b.port

    a.ok("pvesm", "add", "dir", "onlya", "--path", str(tmp_path / "onlya"))
    b.ok("pveum", "user", "add", "onlyb@pve")
    make_admin(a, ADMIN_PW)
    make_admin(b, "other-" + ADMIN_PW)
    volid = a.ok("pvesm", "alloc", "local", "100", "vm-100-disk-0", "1M").strip()

    assert "onlya" in storage_ids(a)
    assert "onlya" not in storage_ids(b)
    assert "onlyb@pve" in user_ids(b)
    assert "onlyb@pve" not in user_ids(a)
    assert volid in a.ok("pvesm", "list", "local")
    assert volid not in b.ok("pvesm", "list", "local")
    assert a.ok("pvesh", "ls", "/nodes").split() == ["alpha"]
    assert b.ok("pvesh", "ls", "/nodes").split() == ["beta"]

    # each HTTPS listener is its own node, with its own users and certificate
    ta = login(a)["ticket"]
    tb = login(b, password="other-" + ADMIN_PW)["ticket"]
    assert [n["node"] for n in get(a, "/nodes", ta).json()["data"]] == ["alpha"]
    assert [n["node"] for n in get(b, "/nodes", tb).json()["data"]] == ["beta"]
    assert get(b, "/nodes", ta).status_code == 401
    assert served_fingerprint(a) != served_fingerprint(b)

    assert a.stop() == 0
    assert "beta" in b.ok("pvesh", "ls", "/nodes")
    assert b.running
