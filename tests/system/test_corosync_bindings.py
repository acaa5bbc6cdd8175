"""The ctypes corosync bindings against three real corosync 3 daemons.

Three network namespaces hang off a bridge in a fourth one (10.250.N.1/16 on each veth,
private test addresses); each runs corosync with a private tmpfs ``/run`` (``unshare -m``)
and its own ``state_dir``.  The clients are this file run as a script *inside* each
namespace (libqb IPC uses abstract unix sockets, which are per network namespace).  The
test checks agreed ordering of CPG multicasts, votequorum/cmap/quorum answers, and that
taking one veth down leaves two quorate nodes with 2 votes and a lone inquorate one.
Namespaces and daemons are removed at teardown, pass or fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

pytestmark = pytest.mark.system
NODES = 3
MESSAGES = 200
SRC = str(Path(__file__).resolve().parents[2] / "src")


# --------------------------------------------------------------------------- helper side
async def _cpg_main(group: str, count: int) -> None:
    from pyxis.cluster.corosync.cpg import CpgClient, CpgConfChange, CpgMessage

    client = CpgClient()
    queue = client.use_queue()
    client.connect()
    client.attach()
    client.join(group)
    me = client.local_nodeid()
    got: list[str] = []
    while True:  # wait until every node has joined, so all see the same stream
        ev = await asyncio.wait_for(queue.get(), 20)
        if isinstance(ev, CpgConfChange) and len(ev.members) == NODES:
            break
    for i in range(count):
        await client.send(f"{me}:{i}".encode())
    while len(got) < count * NODES:
        ev = await asyncio.wait_for(queue.get(), 20)
        if isinstance(ev, CpgMessage):
            got.append(ev.data.decode())
    client.close()
    print(json.dumps({"nodeid": me, "messages": got}))


def _quorum_main() -> None:
    from pyxis.cluster.corosync.cmap import Cmap
    from pyxis.cluster.corosync.quorum import Quorum, Votequorum

    with Cmap() as cmap:
        assert isinstance(cmap, Cmap)
        nodes = cmap.nodelist()
        me = cmap.this_node_id()
        name = cmap.cluster_name()
    with Votequorum() as vq:
        assert isinstance(vq, Votequorum)
        info = vq.info(me)
        per_node = vq.nodes(n.nodeid for n in nodes)
    with Quorum() as q:
        assert isinstance(q, Quorum)
        quorate = q.quorate()
    print(
        json.dumps(
            {
                "cluster_name": name,
                "me": me,
                "nodes": [[n.nodeid, n.name, n.ring0_addr] for n in nodes],
                "quorate": info.quorate,
                "lib_quorate": quorate,
                "total_votes": info.total_votes,
                "expected_votes": info.expected_votes,
                "node_states": {str(i.node_id): int(i.node_state) for i in per_node},
            }
        )
    )


# --------------------------------------------------------------------------- test side
def _run(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


class Cluster:
    """Namespaces, bridge, corosync daemons; :meth:`close` removes everything."""

    def __init__(self, tmp: Path, *, realtime: bool = False) -> None:
        tag = uuid.uuid4().hex[:6]
        self.tmp = tmp
        # As on the testbed (cluster/control.py): the instances share this machine's
        # cores, so by default they run at normal scheduling with the highest nice
        # priority; ``realtime`` keeps corosync's own default (round-robin real-time).
        self.realtime = realtime
        self.br = f"pxcsbr{tag}"
        self.ns = [f"pxcs{tag}n{i}" for i in range(1, NODES + 1)]
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs: list[BinaryIO] = []

    def ns_run(self, i: int, *argv: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return _run("ip", "netns", "exec", self.ns[i], *argv, **kw)

    def setup(self) -> None:
        _run("ip", "netns", "add", self.br)
        _run("ip", "-n", self.br, "link", "add", "br0", "type", "bridge")
        _run("ip", "-n", self.br, "link", "set", "br0", "up")
        for i, ns in enumerate(self.ns):
            _run("ip", "netns", "add", ns)
            _run("ip", "-n", ns, "link", "set", "lo", "up")
            _run(
                "ip",
                "link",
                "add",
                f"pxcs{i}a",
                "netns",
                ns,
                "type",
                "veth",
                "peer",
                f"pxcs{i}b",
                "netns",
                self.br,
            )
            _run("ip", "-n", self.br, "link", "set", f"pxcs{i}b", "master", "br0", "up")
            _run("ip", "-n", ns, "addr", "add", f"10.250.{i + 1}.1/16", "dev", f"pxcs{i}a")
            _run("ip", "-n", ns, "link", "set", f"pxcs{i}a", "up")
        nodelist = "".join(
            f"  node {{\n    name: node{i + 1}\n    nodeid: {i + 1}\n"
            f"    ring0_addr: 10.250.{i + 1}.1\n  }}\n"
            for i in range(NODES)
        )
        sched = "" if self.realtime else "  sched_rr: no\n  priority: max\n"
        for i, ns in enumerate(self.ns):
            state = self.tmp / f"state{i}"
            state.mkdir()
            conf = self.tmp / f"corosync{i}.conf"
            conf.write_text(
                "totem {\n  version: 2\n  cluster_name: pyxistest\n  transport: knet\n"
                "  crypto_cipher: none\n  crypto_hash: none\n}\n"
                f"nodelist {{\n{nodelist}}}\n"
                "quorum {\n  provider: corosync_votequorum\n}\n"
                f"system {{\n  state_dir: {state}\n{sched}}}\n"
                "logging {\n  to_stderr: yes\n  to_syslog: no\n}\n"
            )
            log = (self.tmp / f"corosync{i}.log").open("wb")
            self.logs.append(log)
            self.procs.append(
                subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "unshare",
                        "-m",
                        "sh",
                        "-c",
                        "mount -t tmpfs tmpfs /run && mkdir -p /run/corosync && "
                        f"exec corosync -f -c {conf}",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )

    def link(self, i: int, up: bool) -> None:
        _run("ip", "-n", self.ns[i], "link", "set", f"pxcs{i}a", "up" if up else "down")

    def helper(self, i: int, *args: str, timeout: float = 40) -> dict[str, Any]:
        env = {**os.environ, "PYTHONPATH": SRC}
        out = subprocess.run(
            ["ip", "netns", "exec", self.ns[i], sys.executable, __file__, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
        )
        if out.returncode != 0:
            raise AssertionError(f"helper in {self.ns[i]} failed: {out.stderr[-2000:]}")
        result: dict[str, Any] = json.loads(out.stdout)
        return result

    def wait_quorum(self, want: dict[int, tuple[bool, int]], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last: dict[int, Any] = {}
        while time.monotonic() < deadline:
            for i in want:
                with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
                    last[i] = self.helper(i, "quorum", timeout=5)
            if all(
                i in last and (last[i]["quorate"], last[i]["total_votes"]) == w
                for i, w in want.items()
            ):
                return
            time.sleep(0.3)
        raise AssertionError(f"quorum not reached: want {want}, last {last}")

    def close(self) -> None:
        for p in self.procs:
            with contextlib.suppress(ProcessLookupError):
                p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for log in self.logs:
            log.close()
        for ns in [*self.ns, self.br]:
            _run("ip", "netns", "delete", ns, check=False)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if os.geteuid() != 0 or shutil.which("corosync") is None:
        pytest.skip("needs root and corosync")
    c = Cluster(tmp_path)
    try:
        c.setup()
        yield c
    finally:
        c.close()


def test_cpg_agreed_order_and_quorum_partition(cluster: Cluster) -> None:
    everyone = {i: (True, NODES) for i in range(NODES)}
    cluster.wait_quorum(everyone, timeout=20)
    status = cluster.helper(0, "quorum")
    assert status["cluster_name"] == "pyxistest"
    assert status["nodes"] == [[i, f"node{i}", f"10.250.{i}.1"] for i in range(1, NODES + 1)]
    assert status["expected_votes"] == NODES and status["lib_quorate"] is True
    assert status["node_states"] == {str(i): 1 for i in range(1, NODES + 1)}

    group = f"pyxis-test-{uuid.uuid4().hex[:8]}"
    procs = [
        subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, __file__, "cpg", group, str(MESSAGES)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": SRC},
        )
        for ns in cluster.ns
    ]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=40)
        assert p.returncode == 0, err[-2000:]
        results.append(json.loads(out))
    streams = [r["messages"] for r in results]
    assert len(streams[0]) == NODES * MESSAGES
    assert streams[0] == streams[1] == streams[2]
    assert sorted(streams[0]) == sorted(f"{n}:{i}" for n in range(1, 4) for i in range(MESSAGES))
    for r in results:  # per-sender FIFO within the agreed order
        mine = [m for m in streams[0] if m.startswith(f"{r['nodeid']}:")]
        assert mine == [f"{r['nodeid']}:{i}" for i in range(MESSAGES)]

    cluster.link(2, up=False)
    cluster.wait_quorum({0: (True, 2), 1: (True, 2), 2: (False, 1)}, timeout=12)
    lone = cluster.helper(2, "quorum")
    assert lone["lib_quorate"] is False
    cluster.link(2, up=True)
    cluster.wait_quorum(everyone, timeout=15)


if __name__ == "__main__":
    if sys.argv[1] == "cpg":
        asyncio.run(_cpg_main(sys.argv[2], int(sys.argv[3])))
    else:
        _quorum_main()
