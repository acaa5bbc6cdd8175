"""The testbed's state file ``<root>/testbed.json``: what ``up`` created, for every later command.

The file is written before any namespace, link or process exists and updated as each is
made, so ``down`` can tear down whatever a failed ``up`` left behind.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "testbed.json"
API_PORT = 8006


@dataclass
class NodeState:
    """One node: its name, namespace, host-side veth, address and the pids it runs."""

    name: str
    index: int
    netns: str
    veth: str
    address: str
    api_url: str
    pids: dict[str, int] = field(default_factory=dict)
    # addresses on the extra networks: link1 (corosync), link2 (migration)
    extra_addresses: list[str] = field(default_factory=list)

    def root(self, base: Path) -> Path:
        """The node's ``pyxisd --root`` directory (also ``PYXIS_ROOT`` for its CLIs)."""
        return base / self.name


@dataclass
class Testbed:
    """The whole testbed: its id (which picks the subnet), bridge, nodes and partition."""

    root: Path
    tb_id: int
    bridge: str
    host_address: str
    nodes: list[NodeState] = field(default_factory=list)
    partitioned: list[str] = field(default_factory=list)
    corosync: bool = False
    links: int = 1
    cluster_name: str = ""
    # the corosync-qnetd host (``--qdevice``): a node-like namespace without pyxisd
    qnetd: NodeState | None = None

    @property
    def extra_bridges(self) -> list[str]:
        """Bridges of the extra networks (``--links 2|3``)."""
        return [f"{self.bridge}l{i}" for i in range(1, self.links)]

    def subnet(self, link: int) -> str:
        """The /24 prefix (three octets) of network ``link`` (0: management + corosync)."""
        return f"10.{251 + link}.{self.tb_id}"

    @property
    def path(self) -> Path:
        """Where this state is stored."""
        return self.root / STATE_FILE

    @property
    def log_dir(self) -> Path:
        """Directory of the daemons' logs."""
        return self.root / "log"

    def node(self, name: str) -> NodeState:
        """The node called ``name`` (``node2``) or with index ``name`` (``2``)."""
        for n in self.nodes:
            if name in (n.name, str(n.index)):
                return n
        known = ", ".join(n.name for n in self.nodes)
        raise KeyError(f"no node '{name}' in this testbed (nodes: {known})")

    def to_json(self) -> dict[str, Any]:
        """The JSON form written to the state file."""
        data = asdict(self)
        data["root"] = str(self.root)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Testbed:
        """Parse what :meth:`to_json` wrote."""
        nodes = [NodeState(**n) for n in data.get("nodes", [])]
        return cls(
            root=Path(data["root"]),
            tb_id=int(data["tb_id"]),
            bridge=str(data["bridge"]),
            host_address=str(data["host_address"]),
            nodes=nodes,
            partitioned=list(data.get("partitioned", [])),
            corosync=bool(data.get("corosync", False)),
            links=int(data.get("links", 1)),
            cluster_name=str(data.get("cluster_name", "")),
            qnetd=NodeState(**data["qnetd"]) if data.get("qnetd") else None,
        )

    def save(self) -> None:
        """Write the state atomically."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2) + "\n")
        os.replace(tmp, self.path)


def load(root: Path) -> Testbed | None:
    """The testbed stored under ``root``, or None when there is none."""
    path = root / STATE_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    return Testbed.from_json(data)


def remove(root: Path) -> None:
    """Forget the testbed (after ``down``)."""
    (root / STATE_FILE).unlink(missing_ok=True)


def plan(root: Path, tb_id: int, count: int, links: int = 1, qdevice: bool = False) -> Testbed:
    """Names and addresses of a testbed with ``count`` nodes on subnet ``10.251.<tb_id>.0/24``
    (extra networks ``10.252.<tb_id>.0/24`` and ``10.253.<tb_id>.0/24`` with ``links``)."""
    net = f"10.251.{tb_id}"
    nodes = []
    for i in range(1, count + 1):
        addr = f"{net}.{10 + i}"
        nodes.append(
            NodeState(
                name=f"node{i}",
                index=i,
                netns=f"pyxis-{tb_id}-n{i}",
                veth=f"pxtb{tb_id}n{i}",
                address=addr,
                api_url=f"https://{addr}:{API_PORT}",
                extra_addresses=[f"10.{251 + k}.{tb_id}.{10 + i}" for k in range(1, links)],
            )
        )
    qnetd = None
    if qdevice:
        addr = f"{net}.250"
        qnetd = NodeState(
            name="qnetd",
            index=0,
            netns=f"pyxis-{tb_id}-q",
            veth=f"pxtb{tb_id}q",
            address=addr,
            api_url="",
        )
    return Testbed(
        root=root,
        tb_id=tb_id,
        bridge=f"pxtb{tb_id}",
        host_address=f"{net}.1",
        nodes=nodes,
        links=links,
        cluster_name=f"pyxis-tb{tb_id}",
        qnetd=qnetd,
    )
