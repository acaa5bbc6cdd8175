"""Cluster lifecycle on the real testbed with real corosync: formation, refusals, quorum.

One 4-node testbed with a corosync-qnetd host serves the whole module (formed by
``pyxis testbed up``, which runs ``pvecm create``/``pvecm add`` through the product);
the tests run in file order and shrink it: refusals first (each must change nothing),
then the votequorum table 4 -> 3 -> 2 nodes (by kill + ``delnode``, as an operator
removes a dead node), then a QDevice keeps a 2-node cluster quorate when one node dies.
``pyxis testbed down`` runs at module teardown, pass or fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import DaemonFactory, tool

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces"),
    pytest.mark.skipif(shutil.which("corosync") is None, reason="needs corosync"),
    pytest.mark.skipif(shutil.which("corosync-qnetd") is None, reason="needs corosync-qnetd"),
]

PW = "cluster-pw-1"


def tb(root: Path, *argv: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("pyxis"), "testbed", argv[0], "--root", str(root), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


class Bed:
    def __init__(self, root: Path, state: dict[str, Any]) -> None:
        self.root = root
        self.state = state
        self.nodes = {n["name"]: n for n in state["nodes"]}

    def cli(
        self, node: str, *argv: str, input: str = "", check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYXIS_ROOT=str(self.root / node))
        res = subprocess.run(
            [tool(argv[0]), *argv[1:]],
            input=input,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if check:
            assert res.returncode == 0, f"{node}: {argv}: {res.stdout}\n{res.stderr}"
        return res

    def json(self, node: str, *argv: str) -> Any:
        return json.loads(self.cli(node, *argv, "--output-format", "json").stdout)

    def quorum(self, node: str) -> dict[str, Any]:
        data: dict[str, Any] = self.json(node, "pvecm", "status")
        return data

    def conf(self, node: str) -> str:
        return str(self.json(node, "pvesh", "get", "/cluster/config/totem")["config_version"])

    def wait(self, node: str, pred: Any, timeout: float = 30.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        q: dict[str, Any] = {}
        while time.monotonic() < deadline:
            res = self.cli(node, "pvecm", "status", "--output-format", "json", check=False)
            if res.returncode == 0:
                q = json.loads(res.stdout)
                if pred(q):
                    return q
            time.sleep(0.5)
        raise AssertionError(f"{node}: condition not reached; last status {q}")


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bed]:
    root = tmp_path_factory.mktemp("cl") / "tb"
    try:
        t0 = time.monotonic()
        res = tb(root, "up", "--nodes", "4", "--qdevice", "--password", PW)
        assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
        print(f"testbed of 4 + qnetd formed in {time.monotonic() - t0:.1f}s")
        yield Bed(root, json.loads((root / "testbed.json").read_text()))
    finally:
        down = tb(root, "down")
        assert down.returncode == 0, down.stderr


def _votes(q: dict[str, Any]) -> tuple[int, int, bool]:
    return q["expected_votes"], q["quorum"], q["quorate"]


def test_formed_cluster_with_qdevice(bed: Bed) -> None:
    for name in bed.nodes:
        q = bed.wait(name, lambda q: q["quorate"] and q["total_votes"] == 5)
        assert _votes(q) == (5, 3, True)  # 4 nodes + ffsplit QDevice vote
        assert "QDEVICE_ALIVE" in q["flags"]
        assert sorted(m["name"] for m in q["members"] if m["online"]) == sorted(bed.nodes)
    nodes = bed.json("node2", "pvesh", "get", "/cluster/config/nodes")
    assert sorted(n["node"] for n in nodes) == ["node1", "node2", "node3", "node4"]
    info = bed.json("node3", "pvesh", "get", "/cluster/config/join")
    assert {n["name"] for n in info["nodelist"]} == set(bed.nodes)
    assert all(len(n["pve_fp"]) == 95 for n in info["nodelist"])
    qd = bed.json("node1", "pvesh", "get", "/cluster/config/qdevice")
    assert qd["algorithm"] == "ffsplit" and qd["tls"] == "off"
    text = bed.cli("node1", "pvecm", "status").stdout
    for heading in ("Cluster information", "Quorum information", "Votequorum information"):
        assert heading in text
    assert "Membership information" in text


def test_refusals_change_nothing(bed: Bed, tmp_path: Path) -> None:
    version = bed.conf("node1")
    res = bed.cli("node1", "pvecm", "create", "again", check=False)
    assert res.returncode != 0 and "already part of a cluster" in res.stderr
    res = bed.cli("node1", "pvecm", "create", "bad_name!", check=False)
    assert res.returncode != 0 and "clustername" in res.stderr
    res = bed.cli("node1", "pvecm", "delnode", "node1", check=False)
    assert res.returncode != 0 and "local node" in res.stderr
    res = bed.cli("node1", "pvecm", "delnode", "ghost", check=False)
    assert res.returncode != 0 and "not a member" in res.stderr
    from pyxis.cluster.joinclient import peer_fingerprint

    fp = peer_fingerprint(bed.nodes["node1"]["address"])
    res = bed.cli("node2", "pvecm", "add", bed.nodes["node1"]["address"], input=PW, check=False)
    assert res.returncode != 0 and "--fingerprint is required" in res.stderr  # unattended
    res = bed.cli(
        "node2",
        "pvecm",
        "add",
        bed.nodes["node1"]["address"],
        "--fingerprint",
        fp,
        input=PW,
        check=False,
    )
    assert res.returncode != 0 and "already part of a cluster" in res.stderr

    # a standalone node on the host joining: wrong password, then a name in use
    factory = DaemonFactory(tmp_path)
    try:
        loner = factory.start("loner", node="node2")
        env = dict(os.environ, PYXIS_ROOT=str(loner.root))
        addr = bed.nodes["node1"]["address"]

        def add(pw: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [
                    *(tool("pvecm"), "add", addr, "--user", "admin@pve"),
                    *("--link0", "10.9.9.9", "--fingerprint", fp),
                ],
                input=pw + "\n",
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
                check=False,
            )

        res = add("wrong")
        assert res.returncode != 0 and "authentication failure" in res.stdout + res.stderr
        res = add(PW)
        assert res.returncode != 0 and "already in use" in res.stdout + res.stderr
        assert not (loner.root / "etc" / "corosync" / "corosync.conf").exists()
    finally:
        factory.close()
    assert bed.conf("node1") == version
    for name in bed.nodes:
        assert bed.quorum(name)["quorate"]


def test_corosync_conf_edited_as_a_file(bed: Bed, tmp_path: Path) -> None:
    """Editing corosync.conf through a node's config store view (as in /etc/pve)."""
    version = int(bed.conf("node1"))
    view = bed.root / "node1" / "etc" / "pyxis"

    def sh(script: str) -> subprocess.CompletedProcess[str]:
        return tb(bed.root, "exec", "node1", "--", "sh", "-c", script, timeout=60)

    cur = sh(f"cat {view}/corosync.conf")
    assert cur.returncode == 0 and f"config_version: {version}" in cur.stdout, cur.stderr
    bad = {
        "syntax": cur.stdout.replace("totem {", "totem {{", 1),
        "version not raised": cur.stdout + "\n",
        "renamed": cur.stdout.replace("cluster_name: ", "cluster_name: x", 1).replace(
            f"config_version: {version}", f"config_version: {version + 1}"
        ),
    }
    for why, text in bad.items():
        f = tmp_path / "bad.conf"
        f.write_text(text)
        res = sh(f"cp {f} {view}/corosync.conf")
        assert res.returncode != 0 and "Invalid argument" in res.stderr, (why, res)
    log = (bed.root / "log" / "node1.pyxisd.log").read_text()
    assert "refused a write of 'corosync.conf' through the file system: corosync.conf line" in log
    assert "must be raised above" in log and "cluster name cannot change" in log
    for name in bed.nodes:  # nothing changed, the cluster is healthy
        assert bed.conf(name) == str(version)
        assert bed.quorum(name)["quorate"]

    # the operator's way: edit a copy, raise config_version, move it into place
    good = tmp_path / "good.conf"
    good.write_text(
        cur.stdout.replace(f"config_version: {version}", f"config_version: {version + 1}")
    )
    res = sh(
        f"cp {good} {view}/corosync.conf.new && mv {view}/corosync.conf.new {view}/corosync.conf"
    )
    assert res.returncode == 0, res.stderr
    deadline = time.monotonic() + 30
    for name in bed.nodes:
        local = bed.root / name / "etc" / "corosync" / "corosync.conf"
        while f"config_version: {version + 1}" not in local.read_text():
            assert time.monotonic() < deadline, f"{name} did not follow the edit"
            time.sleep(0.2)
        assert bed.conf(name) == str(version + 1)
        assert bed.quorum(name)["quorate"]


def _remove(bed: Bed, victim: str, survivors: list[str]) -> None:
    res = tb(bed.root, "kill", victim)
    assert res.returncode == 0, res.stderr
    # as an operator would: remove it once the others see it gone (membership settled)
    bed.wait(
        survivors[0],
        lambda q: (
            q["quorate"] and not any(m["name"] == victim and m["online"] for m in q["members"])
        ),
    )
    time.sleep(1)
    bed.cli(survivors[0], "pvecm", "delnode", victim)
    n = len(survivors)
    for name in survivors:
        bed.wait(name, lambda q: q["expected_votes"] == n and q["total_votes"] == n)


def test_votequorum_table(bed: Bed) -> None:
    bed.cli("node1", "pvecm", "qdevice", "remove")
    for name in bed.nodes:
        q = bed.wait(name, lambda q: q["expected_votes"] == 4 and q["qdevice_votes"] == 0)
        assert _votes(q) == (4, 3, True)  # 4 nodes -> quorum 3
    _remove(bed, "node4", ["node1", "node2", "node3"])
    assert _votes(bed.quorum("node1")) == (3, 2, True)  # 3 -> 2
    _remove(bed, "node3", ["node1", "node2"])
    assert _votes(bed.quorum("node2")) == (2, 2, True)  # 2 -> 2


def test_two_nodes_with_qdevice_survive_one_failure(bed: Bed) -> None:
    qnetd = bed.state["qnetd"]["address"]
    bed.cli("node1", "pvecm", "qdevice", "setup", qnetd)
    for name in ("node1", "node2"):
        q = bed.wait(name, lambda q: q["total_votes"] == 3 and "QDEVICE_ALIVE" in q["flags"])
        assert _votes(q) == (3, 2, True)
    assert tb(bed.root, "kill", "node2").returncode == 0
    q = bed.wait("node1", lambda q: q["total_votes"] == 2, timeout=40)
    assert q["quorate"] and q["quorum"] == 2


@pytest.mark.slow
def test_five_nodes_quorum_three_survive_two_failures(tmp_path: Path) -> None:
    root = tmp_path / "tb5"
    try:
        res = tb(root, "up", "--nodes", "5", "--password", PW, timeout=600)
        assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
        bed = Bed(root, json.loads((root / "testbed.json").read_text()))
        for name in bed.nodes:
            assert _votes(bed.wait(name, lambda q: q["total_votes"] == 5)) == (5, 3, True)
        for victim in ("node4", "node5"):
            assert tb(root, "kill", victim).returncode == 0
        q = bed.wait("node1", lambda q: q["total_votes"] == 3, timeout=40)
        assert _votes(q) == (5, 3, True)  # 5 -> quorum 3: two failures tolerated
    finally:
        down = tb(root, "down")
        assert down.returncode == 0, down.stderr
