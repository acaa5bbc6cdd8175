"""Cluster lifecycle pieces over a real local store and fakes for corosync.

No corosync runs here: the node-local files land in a temporary root and processes are
spawned through a recording fake; what needs real corosync is in tests/system.
"""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

import pytest

from pyxis.cluster import certs, control, lifecycle
from pyxis.cluster import corosync_conf as cc
from pyxis.cluster.control import CorosyncControl
from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.paths import Paths
from pyxis.store.local import LocalStore
from pyxis.tasks.manager import TaskManager


class FakeSvc:
    """What the lifecycle functions use of ``Services``."""

    def __init__(self, root: Path, node: str = "n1") -> None:
        self.paths = Paths.at(root)
        self.paths.ensure()
        self.node = node
        self.store = LocalStore.open(self.paths.config_db, node)
        self.spawned: list[list[str]] = []
        self.corosync = CorosyncControl(self.paths, spawner=self._spawn)
        self.tasks = TaskManager(node, self.paths.task_dir)
        self.modes: list[bool] = []

    def _spawn(self, argv: list[str], log: Path, env: dict[str, str]) -> int:
        self.spawned.append(argv)
        return 999999

    async def enter_cluster_mode(self, reset: bool) -> None:
        self.modes.append(reset)


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, line: str) -> None:
        self.lines.append(line)

    def warn(self, line: str) -> None:
        self.lines.append("WARN: " + line)


@pytest.fixture
async def svc(tmp_path: Path) -> Any:
    s = FakeSvc(tmp_path / "n1")
    yield s
    await s.store.close()


async def _make_cluster(svc: FakeSvc) -> None:
    conf = await lifecycle.check_create(svc, {"clustername": "lab", "link0": "192.0.2.1"})  # type: ignore[arg-type]
    await lifecycle.create(svc, conf, Log())  # type: ignore[arg-type]


async def test_create_writes_store_and_local_files(svc: FakeSvc) -> None:
    await _make_cluster(svc)
    conf = cc.parse(svc.store.read_text("corosync.conf"))
    assert conf.totem.cluster_name == "lab"
    assert [(n.name, n.nodeid, n.rings) for n in conf.nodes] == [("n1", 1, {0: "192.0.2.1"})]
    assert svc.modes == [False]
    assert stat.S_IMODE(svc.corosync.authkey_path.stat().st_mode) == 0o400
    assert len(svc.corosync.read_authkey()) == lifecycle.AUTHKEY_BYTES
    local = svc.corosync.conf_path.read_text()
    assert f"state_dir: {svc.corosync.state_dir}" in local
    assert "sched_rr: no" in local and "priority: max" in local  # nodes share the cores
    assert "state_dir" not in svc.store.read_text("corosync.conf")
    assert svc.store.read(certs.CA_CERT) is not None


@pytest.mark.parametrize(
    ("params", "needle"),
    [
        ({"clustername": "bad_name", "link0": "192.0.2.1"}, "invalid cluster name"),
        ({"clustername": "x" * 16, "link0": "192.0.2.1"}, "invalid cluster name"),
        ({"clustername": "ok", "link0": "address=192.0.2.1,priority=999"}, "link0"),
        ({"clustername": "ok", "link9": "192.0.2.1"}, "at most 8 links"),
    ],
)
async def test_create_refuses_bad_input(svc: FakeSvc, params: dict[str, Any], needle: str) -> None:
    with pytest.raises(ParamError) as info:
        await lifecycle.check_create(svc, params)  # type: ignore[arg-type]
    assert needle in str(info.value.errors)
    assert svc.store.get("corosync.conf") is None and not svc.corosync.configured()


async def test_second_create_is_refused(svc: FakeSvc) -> None:
    await _make_cluster(svc)
    before = svc.store.read("corosync.conf")
    with pytest.raises(Conflict, match="already part of a cluster"):
        await lifecycle.check_create(svc, {"clustername": "other", "link0": "192.0.2.1"})  # type: ignore[arg-type]
    assert svc.store.read("corosync.conf") == before


async def test_addnode_answers_conf_and_key(svc: FakeSvc) -> None:
    await _make_cluster(svc)
    out = await lifecycle.addnode(svc, "n2", {"link0": "192.0.2.2"})  # type: ignore[arg-type]
    conf = cc.parse(out["corosync_conf"])
    assert [n.name for n in conf.nodes] == ["n1", "n2"]
    assert conf.node("n2") is not None and conf.node("n2").nodeid == 2  # type: ignore[union-attr]
    assert conf.totem.config_version == 2
    assert bytes.fromhex(out["corosync_authkey"]) == svc.corosync.read_authkey()
    assert svc.store.read_text("corosync.conf") == out["corosync_conf"]


@pytest.mark.parametrize(
    ("name", "params", "needle"),
    [
        ("n1", {"link0": "192.0.2.9"}, "already in use"),
        ("n2", {"link0": "192.0.2.1"}, "already used by node 'n1'"),
        ("n2", {"link0": "192.0.2.2", "nodeid": 1}, "node id 1 is already in use"),
        ("n2", {}, "link0 address is required"),
        ("n2", {"link0": "192.0.2.2", "apiversion": 99}, "join API"),
    ],
)
async def test_addnode_refusals_change_nothing(
    svc: FakeSvc, name: str, params: dict[str, Any], needle: str
) -> None:
    await _make_cluster(svc)
    before = svc.store.read("corosync.conf")
    with pytest.raises(PyxisError) as info:
        await lifecycle.addnode(svc, name, params)  # type: ignore[arg-type]
    assert needle in str(info.value) + str(getattr(info.value, "errors", ""))
    assert svc.store.read("corosync.conf") == before


async def test_delnode(svc: FakeSvc) -> None:
    await _make_cluster(svc)
    await lifecycle.addnode(svc, "n2", {"link0": "192.0.2.2"})  # type: ignore[arg-type]
    with pytest.raises(ParamError, match="Parameter verification"):
        await lifecycle.delnode(svc, "n1")  # type: ignore[arg-type]
    with pytest.raises(ParamError):
        await lifecycle.delnode(svc, "ghost")  # type: ignore[arg-type]
    await lifecycle.delnode(svc, "n2")  # type: ignore[arg-type]
    conf = cc.parse(svc.store.read_text("corosync.conf"))
    assert [n.name for n in conf.nodes] == ["n1"] and conf.totem.config_version == 3


async def test_join_refused_with_guests_or_when_clustered(svc: FakeSvc) -> None:
    await svc.store.write("nodes/n1/qemu-server/100.conf", b"memory: 512\n")
    with pytest.raises(Conflict, match="holds guests"):
        lifecycle.check_join(svc, {})  # type: ignore[arg-type]
    await svc.store.delete("nodes/n1/qemu-server/100.conf")
    lifecycle.check_join(svc, {})  # type: ignore[arg-type]
    await _make_cluster(svc)
    with pytest.raises(Conflict, match="already part of a cluster"):
        lifecycle.check_join(svc, {})  # type: ignore[arg-type]


async def test_spawn_uses_argv_not_shell_interpolation(svc: FakeSvc) -> None:
    svc.corosync.paths.run_dir.mkdir(parents=True, exist_ok=True)
    svc.corosync._spawn_private("corosync", ["-f", "-c", "/tmp/x; rm -rf /"])
    argv = svc.spawned[-1]
    assert argv[:4] == ["unshare", "-m", "sh", "-c"]
    assert argv[4] == control._PRIVATE_RUN and "/tmp/x" not in argv[4]
    assert argv[-1] == "/tmp/x; rm -rf /"
    assert svc.corosync._pidfile("corosync").read_text().strip() == "999999"


class FakeControl:
    def __init__(self) -> None:
        self.applied: list[str] = []

    async def apply(self, text: str) -> None:
        cc.parse(text)
        self.applied.append(text)


async def test_store_watcher_applies_good_and_skips_broken(svc: FakeSvc) -> None:
    fake = FakeControl()
    task = asyncio.create_task(control.watch_store(svc, fake))  # type: ignore[arg-type]
    await asyncio.sleep(0.05)
    good = cc.render(cc.new_cluster("lab", "n1", {0: ("192.0.2.1", None)}))
    await svc.store.write("corosync.conf", b"totem {\n  cluster_name: lab\n")
    await svc.store.write("corosync.conf", good.encode())
    await svc.store.write("other.cfg", b"x")
    for _ in range(50):
        if fake.applied:
            break
        await asyncio.sleep(0.02)
    task.cancel()
    assert fake.applied == [good]


def test_certs_ca_signs_node_cert() -> None:
    ca, ca_key = certs.make_ca()
    cert, _key = certs.issue_node_cert(ca, ca_key, "n1", ["192.0.2.1"])
    assert not certs.needs_new_cert(cert, ca, ["192.0.2.1"])
    assert certs.needs_new_cert(cert, ca, ["192.0.2.7"])  # an address it lacks
    other_ca, _ = certs.make_ca()
    assert certs.needs_new_cert(cert, other_ca, [])
    from pyxis.server.tls import make_self_signed

    self_signed, _ = make_self_signed("n1", [])
    assert certs.needs_new_cert(self_signed, ca, [])


async def test_debian_sample_conf_without_authkey_is_not_a_cluster(svc: FakeSvc) -> None:
    """Debian's corosync package ships a sample corosync.conf but no authkey."""
    svc.corosync.etc.mkdir(parents=True, exist_ok=True)
    svc.corosync.conf_path.write_text(
        "totem {\n  version: 2\n  cluster_name: debian\n}\n"
        "nodelist {\n  node {\n    name: node1\n    nodeid: 1\n    ring0_addr: 127.0.0.1\n  }\n}\n"
    )
    svc.corosync.system = True  # the sample lives in /etc/corosync of a root-/ node
    assert not svc.corosync.configured()
    svc.corosync.authkey_path.write_bytes(b"k" * 128)  # what pvecm create/add write
    assert svc.corosync.configured()
