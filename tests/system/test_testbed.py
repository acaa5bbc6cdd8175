"""``pyxis testbed``: three namespaced nodes on one machine, disturbed and torn down.

Up with three nodes in a temporary root; every node's API answers the host and accepts
``admin@pve``; ``exec`` runs inside a node's namespace; ``partition`` cuts node3 off from
node1 while the host still reaches it; ``heal`` undoes that; ``kill`` ends node2; ``down``
leaves no namespace, link or process behind.  ``down`` runs in a finally, pass or fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
import urllib3

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import tool

from pyxis.testbed.nodes import alive

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("nft") is None, reason="needs nft"),
    pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning"),
]

PW = "testbed-pw-1"


def tb(root: Path, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("pyxis"), "testbed", argv[0], "--root", str(root), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(root: Path, *argv: str) -> str:
    res = tb(root, *argv)
    assert res.returncode == 0, f"{argv}: {res.returncode}\n{res.stdout}\n{res.stderr}"
    return res.stdout


def login(url: str) -> int:
    urllib3.disable_warnings()
    res = requests.post(
        f"{url}/api2/json/access/ticket",
        data={"username": "admin@pve", "password": PW},
        verify=False,
        timeout=10,
    )
    if res.status_code != 200:
        return res.status_code
    ticket = res.json()["data"]["ticket"]
    ver = requests.get(
        f"{url}/api2/json/version",
        cookies={"PVEAuthCookie": ticket},
        verify=False,
        timeout=10,
    )
    return ver.status_code


def reachable(root: Path, node: str, addr: str) -> bool:
    """Whether ``node`` can open a TCP connection to ``addr``:8006 within 2 s."""
    code = f"import socket; socket.create_connection(({addr!r}, 8006), 2).close()"
    res = tb(root, "exec", node, "--", sys.executable, "-c", code, timeout=30)
    return res.returncode == 0


def live_processes(marker: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmd:
            found.append(f"{proc.name}: {cmd}")
    return found


TEMPLATE = "busybox-1.35-pyxis_1.0-1_amd64.tar.zst"


def _node_cli(root: Path, node: str) -> Any:
    env = dict(os.environ, PYXIS_ROOT=str(root / node))

    def cli(*argv: str) -> str:
        res = subprocess.run(
            [tool(argv[0]), *argv[1:]], capture_output=True, text=True, env=env, timeout=300
        )
        assert res.returncode == 0, f"{argv}: {res.stdout}\n{res.stderr}"
        return res.stdout

    return cli


def test_three_node_testbed(tmp_path: Path) -> None:
    root = tmp_path / "tb"
    state: dict[str, Any] = {}
    try:
        out = ok(root, "up", "--nodes", "3", "--password", PW)
        assert "node3" in out
        status = json.loads(ok(root, "status", "--output-format", "json"))
        state = json.loads((root / "testbed.json").read_text())
        assert [n["name"] for n in status] == ["node1", "node2", "node3"]
        assert all(n["state"] == "running" for n in status)
        by_name = {n["name"]: n for n in status}
        for n in status:
            assert n["api_url"] == f"https://{n['address']}:8006"
            assert login(n["api_url"]) == 200

        addrs = ok(root, "exec", "node2", "--", "ip", "-br", "addr")
        assert by_name["node2"]["address"] in addrs
        assert ok(root, "exec", "node1", "--", "sh", "-c", "echo $PYXIS_ROOT").strip() == str(
            root / "node1"
        )

        # a container of node2 (its own network namespace) must die with node2 (below);
        # made before the partition: writes during the healed ring's re-merge are refused
        pct = _node_cli(root, "node2")
        pct("pveam", "download", "local", TEMPLATE)
        pct("pct", "create", "200", f"local:vztmpl/{TEMPLATE}", "--rootfs", "local:0")
        pct("pct", "start", "200")
        current = pct("pvesh", "get", "/nodes/node2/lxc/200/status/current",
                      "--output-format", "json")  # fmt: skip
        ct_init = int(json.loads(current)["pid"])
        assert alive(ct_init)
        assert "pyxis-node2-" in Path(f"/proc/{ct_init}/cgroup").read_text()
        n3 = by_name["node3"]["address"]
        assert reachable(root, "node1", n3)
        ok(root, "partition", "node3")
        assert not reachable(root, "node1", n3)
        assert login(by_name["node3"]["api_url"]) == 200  # the host still reaches node3
        status = json.loads(ok(root, "status", "--output-format", "json"))
        assert status[2]["state"] == "partitioned"
        ok(root, "heal")
        assert reachable(root, "node1", n3)

        ok(root, "kill", "node2")
        assert not alive(ct_init)  # dead (a zombie until its new parent reaps it)
        with pytest.raises(requests.ConnectionError):
            requests.get(
                by_name["node2"]["api_url"] + "/api2/json/version", verify=False, timeout=5
            )
        status = json.loads(ok(root, "status", "--output-format", "json"))
        assert [n["state"] for n in status] == ["running", "down", "running"]
    finally:
        down = tb(root, "down")
    assert down.returncode == 0, down.stderr
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True).stdout
    for node in state.get("nodes", []):
        assert node["netns"] not in netns
        assert node["veth"] not in links
    if state:
        assert f"{state['bridge']} " not in links
    assert live_processes(str(root)) == []
    assert not (root / "testbed.json").exists()


def test_down_without_testbed_and_bad_node(tmp_path: Path) -> None:
    assert tb(tmp_path, "down").returncode == 0
    res = tb(tmp_path, "status")
    assert res.returncode == 1 and "no testbed" in res.stderr
