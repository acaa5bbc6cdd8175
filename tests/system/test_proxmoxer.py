"""A real pyxisd driven over HTTPS by proxmoxer, the most used Python client of the API.

The admin user is made with pveum, as an operator would; everything after that goes
through proxmoxer's ``https`` backend (ticket and API-token auth, form bodies,
multipart uploads, task polling), plus ``requests`` where the raw status line matters.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from daemon import ADMIN, ADMIN_PW, Daemon
from proxmoxer import AuthenticationError, ProxmoxAPI, ResourceException
from proxmoxer.tools import Tasks

pytestmark = [
    pytest.mark.system,
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

MIB = 1024 * 1024


def connect(d: Daemon, **auth: Any) -> ProxmoxAPI:
    return ProxmoxAPI(d.host, port=d.port, backend="https", verify_ssl=False, timeout=30, **auth)


@pytest.fixture(scope="module")
def px(module_daemon: Daemon) -> ProxmoxAPI:
    return connect(module_daemon, user=ADMIN, password=ADMIN_PW)


@pytest.fixture(scope="module")
def node(module_daemon: Daemon) -> str:
    return module_daemon.node


def wait_task(px: ProxmoxAPI, upid: str, timeout: float = 30) -> dict[str, Any]:
    """Poll a task's status until it stopped, as proxmoxer users do."""
    node = Tasks.decode_upid(upid)["node"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status: dict[str, Any] = px.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        assert status["status"] == "running", status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} still running after {timeout}s")


def volids(px: ProxmoxAPI, node: str, storage: str = "local", **filters: Any) -> set[str]:
    return {v["volid"] for v in px.nodes(node).storage(storage).content.get(**filters)}


# -- session, nodes, version -----------------------------------------------------------


def test_login_lists_nodes_and_version(px: ProxmoxAPI, node: str) -> None:
    ticket, csrf = px.get_tokens()
    assert ticket.startswith(f"PVE:{ADMIN}:")
    assert csrf
    nodes = px.nodes.get()
    assert [n["node"] for n in nodes] == [node]
    assert nodes[0]["status"] == "online"
    version = px.version.get()
    assert version["release"]
    assert version["version"].startswith(version["release"])
    # proxmoxer picks API behaviour by the major version
    assert int(version["version"].split(".")[0]) >= 7


def test_wrong_password_raises_authentication_error(module_daemon: Daemon) -> None:
    with pytest.raises(AuthenticationError, match="401"):
        connect(module_daemon, user=ADMIN, password="not-" + ADMIN_PW)
    with pytest.raises(AuthenticationError):
        connect(module_daemon, user="nobody@pve", password=ADMIN_PW)


# -- storage definitions ---------------------------------------------------------------


def test_dir_storage_create_list_update_delete(px: ProxmoxAPI, tmp_path: Path) -> None:
    path = tmp_path / "store-crud"
    created = px.storage.post(storage="crud1", type="dir", path=str(path), content="iso,images")
    assert created["storage"] == "crud1"
    assert created["type"] == "dir"
    assert (path / "template" / "iso").is_dir()
    assert (path / "images").is_dir()

    listed = {s["storage"]: s for s in px.storage.get()}
    assert listed["crud1"]["type"] == "dir"
    assert listed["crud1"]["path"] == str(path)
    assert set(listed["crud1"]["content"].split(",")) == {"iso", "images"}
    assert "local" in listed
    assert [s["storage"] for s in px.storage.get(type="dir")].count("crud1") == 1

    px.storage("crud1").put(content="iso", disable=1)
    one = px.storage("crud1").get()
    assert one["content"] == "iso"
    assert int(one["disable"]) == 1
    assert one["digest"]
    px.storage("crud1").put(delete="disable")
    assert "disable" not in px.storage("crud1").get()

    px.storage("crud1").delete()
    assert "crud1" not in {s["storage"] for s in px.storage.get()}
    assert path.is_dir(), "removing a storage definition keeps its data"
    with pytest.raises(ResourceException):
        px.storage("crud1").get()


def test_storage_status_on_node(px: ProxmoxAPI, node: str) -> None:
    status = {s["storage"]: s for s in px.nodes(node).storage.get()}
    local = status["local"]
    assert local["active"] == 1
    assert local["total"] > 0
    assert 0 <= local["used"] <= local["total"]
    one = px.nodes(node).storage("local").status.get()
    assert one["type"] == "dir"
    assert one["total"] == local["total"]


# -- volumes ---------------------------------------------------------------------------


def test_volume_alloc_list_info_delete(px: ProxmoxAPI, node: str, module_daemon: Daemon) -> None:
    local = px.nodes(node).storage("local")
    volid = local.content.post(vmid=100, filename="vm-100-disk-0", size="16M", format="qcow2")
    assert volid == "local:100/vm-100-disk-0.qcow2"
    raw = local.content.post(vmid=100, filename="vm-100-disk-1.raw", size="1M")
    assert raw == "local:100/vm-100-disk-1.raw"

    listing = {v["volid"]: v for v in local.content.get(vmid=100)}
    assert set(listing) == {volid, raw}
    assert listing[volid]["format"] == "qcow2"
    assert listing[volid]["size"] == 16 * MIB
    assert int(listing[volid]["vmid"]) == 100
    assert listing[volid]["content"] == "images"
    assert listing[raw]["size"] == MIB

    # proxmoxer splits a resource id on '/', as scripts written for upstream rely on
    info = local.content(volid).get()
    disk = module_daemon.root / "var/lib/vz/images/100/vm-100-disk-0.qcow2"
    assert info["path"] == str(disk)
    assert info["format"] == "qcow2"
    assert info["size"] == 16 * MIB
    assert disk.is_file()

    upid = local.content(volid).delete()
    assert upid.startswith(f"UPID:{node}:")
    status = wait_task(px, upid)
    assert status["exitstatus"] == "OK"
    assert status["type"] == "imgdel"
    assert status["user"] == ADMIN
    assert not disk.exists()
    log = [line["t"] for line in px.nodes(node).tasks(upid).log.get()]
    assert log[-1] == "TASK OK"
    assert any(volid in line for line in log)
    assert volid not in volids(px, node)

    # the same through an encoded volume id, followed with proxmoxer's own helper
    enc = requests.utils.quote(raw, safe="")
    upid = px.nodes(node).storage("local").content.delete(enc)
    done = Tasks.blocking_status(px, upid, timeout=30, polling_interval=0.05)
    assert done is not None
    assert done["exitstatus"] == "OK"
    assert volids(px, node, vmid=100) == set()


def test_volume_errors(px: ProxmoxAPI, node: str) -> None:
    local = px.nodes(node).storage("local")
    with pytest.raises(ResourceException) as exc:
        local.content.post(vmid=101, filename="vm-102-disk-0", size="1M")
    assert exc.value.status_code == 400
    assert "filename" in (exc.value.errors or {})
    with pytest.raises(ResourceException) as exc:
        local.content("local:101/vm-101-disk-9.qcow2").get()
    assert exc.value.status_code >= 400


def test_task_listing_shows_finished_tasks(px: ProxmoxAPI, node: str) -> None:
    local = px.nodes(node).storage("local")
    volid = local.content.post(vmid=103, filename="vm-103-disk-0", size="1M", format="raw")
    upid = local.content(volid).delete()
    wait_task(px, upid)
    tasks = {t["upid"]: t for t in px.nodes(node).tasks.get(typefilter="imgdel")}
    assert upid in tasks
    assert tasks[upid]["status"] == "OK"
    assert tasks[upid]["endtime"] >= tasks[upid]["starttime"]


# -- uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    [
        pytest.param(256 * 1024, id="small"),
        # above proxmoxer's 10 MiB threshold it streams with requests_toolbelt
        pytest.param(11 * MIB, id="streamed"),
    ],
)
def test_upload_iso(
    px: ProxmoxAPI, node: str, module_daemon: Daemon, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    name = f"upload-{size}.iso"
    src = tmp_path / name
    src.write_bytes(data)
    with src.open("rb") as fh:
        upid = px.nodes(node).storage("local").upload.post(content="iso", filename=fh)
    status = wait_task(px, upid)
    assert status["exitstatus"] == "OK", px.nodes(node).tasks(upid).log.get()
    assert status["type"] == "imgcopy"

    iso = {v["volid"]: v for v in px.nodes(node).storage("local").content.get(content="iso")}
    volid = f"local:iso/{name}"
    assert volid in iso
    assert iso[volid]["size"] == size
    assert iso[volid]["format"] == "iso"
    stored = module_daemon.root / "var/lib/vz/template/iso" / name
    assert hashlib.sha256(stored.read_bytes()).digest() == hashlib.sha256(data).digest()


def test_upload_with_checksum(px: ProxmoxAPI, node: str, tmp_path: Path) -> None:
    data = b"pyxis" * 1000
    src = tmp_path / "sum.iso"
    src.write_bytes(data)
    good = hashlib.sha256(data).hexdigest()
    with src.open("rb") as fh:
        upid = (
            px.nodes(node)
            .storage("local")
            .upload.post(
                content="iso", filename=fh, checksum=good, **{"checksum-algorithm": "sha256"}
            )
        )
    assert wait_task(px, upid)["exitstatus"] == "OK"

    bad = tmp_path / "bad.iso"
    bad.write_bytes(data + b"!")
    with bad.open("rb") as fh:
        upid = (
            px.nodes(node)
            .storage("local")
            .upload.post(
                content="iso", filename=fh, checksum=good, **{"checksum-algorithm": "sha256"}
            )
        )
    status = wait_task(px, upid)
    assert status["exitstatus"] != "OK"
    assert "checksum" in status["exitstatus"]
    assert "local:iso/bad.iso" not in volids(px, node, content="iso")


# -- API tokens ------------------------------------------------------------------------


def test_api_token_auth(px: ProxmoxAPI, module_daemon: Daemon, node: str) -> None:
    made = px.access.users(ADMIN).token("automation").post(privsep=0, comment="ci")
    assert made["full-tokenid"] == f"{ADMIN}!automation"
    secret = made["value"]
    assert len(secret) == 36

    tok = connect(module_daemon, user=ADMIN, token_name="automation", token_value=secret)
    assert [n["node"] for n in tok.nodes.get()] == [node]
    assert tok.version.get()["release"]
    # writes need no CSRF token with an API token
    tok.storage.post(storage="tokstore", type="dir", path="/tmp/unused", content="iso", disable=1)
    assert "tokstore" in {s["storage"] for s in tok.storage.get()}
    tok.storage("tokstore").delete()

    bad = connect(module_daemon, user=ADMIN, token_name="automation", token_value="0" * 36)
    with pytest.raises(ResourceException) as exc:
        bad.nodes.get()
    assert exc.value.status_code == 401

    # a privilege-separated token without ACLs of its own sees no storage
    sep = px.access.users(ADMIN).token("separated").post()
    limited = connect(module_daemon, user=ADMIN, token_name="separated", token_value=sep["value"])
    assert limited.storage.get() == []

    px.access.users(ADMIN).token("automation").delete()
    with pytest.raises(ResourceException) as exc:
        tok.nodes.get()
    assert exc.value.status_code == 401


# -- errors on the wire ----------------------------------------------------------------


@pytest.fixture(scope="module")
def session(module_daemon: Daemon) -> requests.Session:
    s = requests.Session()
    s.verify = False
    s.trust_env = False  # REQUESTS_CA_BUNDLE in the environment would override verify
    r = s.post(module_daemon.api("/access/ticket"), data={"username": ADMIN, "password": ADMIN_PW})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    s.cookies.set("PVEAuthCookie", data["ticket"])
    s.headers["CSRFPreventionToken"] = data["CSRFPreventionToken"]
    return s


def test_parameter_error_is_reason_phrase(session: requests.Session, module_daemon: Daemon) -> None:
    r = session.post(
        module_daemon.api("/storage"),
        data={"storage": "bad!id", "type": "dir", "path": "/tmp/x"},
    )
    assert r.status_code == 400
    assert r.reason == "Parameter verification failed."
    body = r.json()
    assert body["data"] is None
    assert "storage" in body["errors"]

    r = session.post(
        module_daemon.api("/storage"),
        data={"storage": "fine", "type": "dir", "path": "/tmp/x", "nonsense": "1"},
    )
    assert r.status_code == 400
    assert r.reason == "Parameter verification failed."
    assert set(r.json()["errors"]) == {"nonsense"}


def test_unknown_path_is_501(session: requests.Session, module_daemon: Daemon) -> None:
    r = session.get(module_daemon.api("/nope"))
    assert r.status_code == 501
    assert r.reason == "Method 'GET /nope' not implemented"
    assert r.json()["data"] is None


def test_error_envelope_through_proxmoxer(px: ProxmoxAPI) -> None:
    with pytest.raises(ResourceException) as exc:
        px.storage.post(storage="bad!id", type="dir", path="/tmp/x")
    assert exc.value.status_code == 400
    assert exc.value.content == "Parameter verification failed."
    assert "storage" in exc.value.errors
    with pytest.raises(ResourceException) as exc:
        px.storage("no-such-storage").get()
    assert exc.value.status_code >= 400
    assert "no-such-storage" in exc.value.content


def test_unauthenticated_request_is_401(module_daemon: Daemon) -> None:
    r = requests.get(module_daemon.api("/nodes"), verify=False, timeout=10)
    assert r.status_code == 401
    assert r.json()["data"] is None
