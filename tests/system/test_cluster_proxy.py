"""Request forwarding between two real ``pyxisd`` processes, TLS verified by a cluster CA.

Two daemons listen on 127.0.0.2 and 127.0.0.3 (same port, as cluster nodes do).  Their
stores are made to look like one cluster's without the replicated store: node2 gets
node1's ticket key, CSRF secret, users, tokens and cluster CA (each daemon then issues
itself a CA-signed certificate), and both get the same ``corosync.conf``.  Membership
comes from the fake link (``PYXIS_CLUSTER_LINK=static``: every configured node online),
so this tier proves the proxy itself: real HTTPS, real certificate checks, the target's
own authentication and permission checks.  Live membership over corosync is proven by
``test_cluster_crossnode.py`` on the testbed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from daemon import ADMIN, ADMIN_PW, Daemon, free_port

pytestmark = [
    pytest.mark.system,
    # the test client trusts the nodes blindly; node-to-node TLS is what is verified here
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]
AUDITOR, AUDITOR_PW = "aud@pve", "auditor-pw-1"
SHARED = (
    "user.cfg",
    "priv/shadow.cfg",
    "priv/token.cfg",
    "authkey.pub",
    "priv/authkey.key",
    "pve-www.key",
    "pve-root-ca.pem",
    "priv/pve-root-ca.key",
)


def corosync_conf(nodes: list[Daemon]) -> bytes:
    body = "".join(
        f"  node {{\n    name: {d.node}\n    nodeid: {i}\n    quorum_votes: 1\n"
        f"    ring0_addr: {d.host}\n  }}\n"
        for i, d in enumerate(nodes, 1)
    )
    return (
        "totem {\n  cluster_name: proxytest\n  config_version: 1\n  version: 2\n}\n"
        f"nodelist {{\n{body}}}\nquorum {{\n  provider: corosync_votequorum\n}}\n"
    ).encode()


async def _share(src: Daemon, dst: Daemon, conf: bytes) -> None:
    from pyxis.paths import Paths
    from pyxis.store.local import LocalStore

    a = LocalStore.open(Paths.at(src.root).config_db, src.node)
    b = LocalStore.open(Paths.at(dst.root).config_db, dst.node)
    try:
        for path in SHARED:
            data = a.read(path)
            if data is not None:
                await b.write(path, data, writer=src.node)
        for path in (f"nodes/{dst.node}/pve-ssl.pem", f"nodes/{dst.node}/pve-ssl.key"):
            if b.get(path) is not None:
                await b.delete(path)  # re-issued from the shared CA at start
        for store in (a, b):
            await store.write("corosync.conf", conf, writer=src.node)
    finally:
        await a.close()
        await b.close()


def _run(coro: Any) -> None:
    import asyncio

    asyncio.run(coro)


@dataclass
class Pair:
    n1: Daemon
    n2: Daemon
    token: str

    def login(self, d: Daemon, user: str = ADMIN, pw: str = ADMIN_PW) -> dict[str, Any]:
        r = requests.post(
            d.api("/access/ticket"),
            data={"username": user, "password": pw},
            verify=False,
            timeout=10,
        )
        assert r.status_code == 200, r.text
        return dict(r.json()["data"])

    def call(
        self, d: Daemon, method: str, path: str, auth: dict[str, Any] | None = None, **kw: Any
    ) -> requests.Response:
        headers: dict[str, str] = dict(kw.pop("headers", {}))
        cookies = {}
        if auth is not None:
            cookies["PVEAuthCookie"] = auth["ticket"]
            headers["CSRFPreventionToken"] = auth["CSRFPreventionToken"]
        return requests.request(
            method,
            d.api(path),
            headers=headers,
            cookies=cookies,
            verify=False,
            timeout=30,
            **kw,
        )


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    base = tmp_path_factory.mktemp("proxy")
    port = free_port()
    n1 = Daemon(base / "n1", "pyxis1", port, "127.0.0.2")
    n2 = Daemon(base / "n2", "pyxis2", port, "127.0.0.3")
    old = os.environ.get("PYXIS_CLUSTER_LINK")
    try:
        n1.start()
        n1.add_admin(ADMIN, ADMIN_PW)
        n1.ok("pveum", "user", "add", AUDITOR)
        n1.ok("pveum", "passwd", AUDITOR, input=AUDITOR_PW + "\n")
        add = ["pveum", "user", "token", "add", ADMIN, "fwd", "--privsep", "0"]
        token = json.loads(n1.ok(*add, "--output-format", "json"))
        n1.stop()
        n2.start()
        n2.stop()
        _run(_share(n1, n2, corosync_conf([n1, n2])))
        os.environ["PYXIS_CLUSTER_LINK"] = "static"
        n1.start()
        n2.start()
        # the auditor may audit on node1 only: node2 must refuse what node1 forwards
        n1.ok("pveum", "acl", "modify", "/", "--users", AUDITOR, "--roles", "PVEAuditor")
        yield Pair(n1, n2, f"PVEAPIToken={token['full-tokenid']}={token['value']}")
    finally:
        if old is None:
            os.environ.pop("PYXIS_CLUSTER_LINK", None)
        else:
            os.environ["PYXIS_CLUSTER_LINK"] = old
        n1.stop()
        n2.stop()


def test_cluster_status_lists_both_nodes(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    data = pair.call(pair.n1, "GET", "/cluster/status", auth).json()["data"]
    assert data[0]["type"] == "cluster" and data[0]["nodes"] == 2
    nodes = {e["name"]: e for e in data[1:]}
    assert nodes["pyxis2"]["ip"] == "127.0.0.3" and nodes["pyxis2"]["online"] == 1
    assert nodes["pyxis1"]["local"] == 1


def test_ticket_from_node1_works_on_node2(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    r = pair.call(pair.n2, "GET", "/nodes/pyxis2/version", auth)
    assert r.status_code == 200, r.text


def test_create_vm_on_node2_through_node1(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    r = pair.call(
        pair.n1, "POST", "/nodes/pyxis2/qemu", auth, data={"vmid": "4321", "memory": "128"}
    )
    assert r.status_code == 200, r.text
    upid = r.json()["data"]
    assert upid.startswith("UPID:pyxis2:")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st = pair.call(pair.n1, "GET", f"/nodes/pyxis2/tasks/{upid}/status", auth).json()
        if st["data"]["status"] == "stopped":
            break
        time.sleep(0.2)
    assert st["data"]["exitstatus"] == "OK", st
    log = pair.call(pair.n1, "GET", f"/nodes/pyxis2/tasks/{upid}/log", auth, params={"download": 1})
    assert log.status_code == 200 and log.text.rstrip().endswith("TASK OK"), log.text
    listed = pair.call(pair.n1, "GET", "/nodes/pyxis2/qemu", auth).json()["data"]
    assert [g["vmid"] for g in listed] == [4321]
    cfg = pair.call(pair.n1, "GET", "/nodes/pyxis2/qemu/4321/config", auth).json()["data"]
    assert cfg["memory"] in (128, "128")
    # it exists on node2 only (no replicated store in this tier)
    assert pair.call(pair.n1, "GET", "/nodes/pyxis1/qemu", auth).json()["data"] == []


def test_token_is_forwarded(pair: Pair) -> None:
    r = pair.call(pair.n1, "GET", "/nodes/pyxis2/status", headers={"Authorization": pair.token})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["cpuinfo"]["cpus"] >= 1


def test_target_rechecks_permissions(pair: Pair) -> None:
    auth = pair.login(pair.n1, AUDITOR, AUDITOR_PW)
    assert pair.call(pair.n1, "GET", "/nodes/pyxis1/status", auth).status_code == 200
    r = pair.call(pair.n1, "GET", "/nodes/pyxis2/status", auth)
    assert r.status_code == 403
    assert r.json()["message"] == "Permission check failed (/nodes/pyxis2, Sys.Audit)"
    assert r.reason == "Permission check failed (/nodes/pyxis2, Sys.Audit)"


def test_parameter_errors_of_the_target_pass_through(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    r = pair.call(pair.n1, "GET", "/nodes/pyxis2/qemu/777/config", auth)
    assert r.status_code >= 400
    direct = pair.call(pair.n2, "GET", "/nodes/pyxis2/qemu/777/config", auth)
    assert (r.status_code, r.json()) == (direct.status_code, direct.json())


def test_cli_on_node1_reaches_node2(pair: Pair) -> None:
    out = pair.n1.ok("pvesh", "get", "/nodes/pyxis2/status", "--output-format", "json")
    assert json.loads(out)["cpuinfo"]["cpus"] >= 1


def test_forwarded_request_is_not_forwarded_again(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    r = pair.call(
        pair.n2, "GET", "/nodes/pyxis1/status", auth, headers={"X-Pyxis-Proxied-By": "pyxis1"}
    )
    assert r.status_code == 595
    assert "proxy loop" in r.json()["message"]


def test_unknown_node_is_595(pair: Pair) -> None:
    auth = pair.login(pair.n1)
    r = pair.call(pair.n1, "GET", "/nodes/nosuch/status", auth)
    assert (r.status_code, r.json()["message"]) == (595, "no such cluster node 'nosuch'")


def test_target_certificate_must_chain_to_the_cluster_ca(pair: Pair) -> None:
    """Last: gives node1 a CA of its own, so node2's certificate no longer verifies."""
    from pyxis.cluster import certs

    async def new_ca() -> None:
        from pyxis.paths import Paths
        from pyxis.store.local import LocalStore

        store = LocalStore.open(Paths.at(pair.n1.root).config_db, pair.n1.node)
        cert, key = certs.make_ca("other")
        await store.write(certs.CA_KEY, key, writer="test")
        await store.write(certs.CA_CERT, cert, writer="test")
        await store.close()

    pair.n1.stop()
    _run(new_ca())
    pair.n1.start()
    auth = pair.login(pair.n1)
    r = pair.call(pair.n1, "GET", "/nodes/pyxis2/status", auth)
    assert r.status_code == 595
    assert r.json()["message"] == (
        "proxy to node 'pyxis2' failed: certificate not signed by the cluster CA"
    )
