"""Three ``ClusterStore`` harness processes on three real corosync instances.

Builds on the corosync cluster of ``tests/system/test_corosync_bindings.py`` (network
namespaces on a bridge, one corosync per namespace): :class:`StoreCluster` adds one
:mod:`pyxis.store.replication.harness` process per node (JSON lines over pipes),
partitions with nftables drop rules (as ``pyxis.testbed.net.partition`` does), SIGKILL
and SIGSTOP/SIGCONT of harnesses or whole nodes, and the randomized fault run shared by
the system test and ``bench/store_soak.py``.  ``close()`` removes everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "system"))

from test_corosync_bindings import NODES, SRC, Cluster  # noqa: E402

from pyxis.store.replication.checker import COUNTER, Call, Report, check  # noqa: E402

NFT_TABLE = "pyxis_store_test"


class Harness:
    """One harness process; :meth:`req` sends a command and awaits its answer."""

    def __init__(self, proc: asyncio.subprocess.Process, index: int, log: Path) -> None:
        self.proc = proc
        self.index = index
        self.log = log
        self.nodeid = 0
        self._next = 0
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def ready(self, timeout: float = 30) -> None:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise AssertionError(f"harness {self.index} died: {self.log.read_text()[-3000:]}")
        self.nodeid = json.loads(line)["nodeid"]
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            resp = json.loads(line)
            fut = self._waiting.pop(resp["id"], None)
            if fut is not None and not fut.done():
                fut.set_result(resp)
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"harness {self.index} exited"))
        self._waiting.clear()

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None and self._reader is not None and not self._reader.done()

    async def req(self, timeout: float = 120, **cmd: Any) -> dict[str, Any]:
        if not self.alive:
            raise ConnectionError(f"harness {self.index} is not running")
        self._next += 1
        cmd["id"] = self._next
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd).encode() + b"\n")
        return await asyncio.wait_for(fut, timeout)

    def send(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(sig)

    async def stop(self, sig: int | None = signal.SIGKILL) -> None:
        """Signal the harness (None: close its stdin, a clean exit) and wait for it."""
        self.send(signal.SIGCONT)
        if sig is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        else:
            self.send(sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.proc.wait(), 10)
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._reader, 5)


class StoreCluster(Cluster):
    """The corosync cluster plus store harnesses; node indexes are 0..NODES-1."""

    def __init__(self, tmp: Path, *, realtime: bool = False) -> None:
        super().__init__(tmp, realtime=realtime)
        self.harness: dict[int, Harness] = {}
        self.run_id = 0

    def db(self, i: int) -> Path:
        return self.tmp / f"store{self.run_id}" / f"node{i + 1}" / "config.db"

    async def start_harness(self, i: int, *, reset: bool = False) -> Harness:
        log = self.tmp / f"harness{self.run_id}-{i}.log"
        argv = [
            "ip",
            "netns",
            "exec",
            self.ns[i],
            sys.executable,
            "-m",
            "pyxis.store.replication.harness",
            "--db",
            str(self.db(i)),
            "--node",
            f"node{i + 1}",
        ]
        if reset:
            argv.append("--reset")
        with log.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                env={**os.environ, "PYTHONPATH": SRC},
                limit=1 << 26,
            )
        h = Harness(proc, i, log)
        await h.ready()
        self.harness[i] = h
        return h

    async def start_all(self, timeout: float = 60) -> None:
        self.wait_quorum({i: (True, NODES) for i in range(NODES)}, timeout=30)
        for i in range(NODES):
            await self.start_harness(i)
        await self.wait_writable(list(range(NODES)), timeout)

    async def wait_writable(self, nodes: list[int], timeout: float = 60) -> list[dict[str, Any]]:
        res = await asyncio.gather(
            *(self.harness[i].req(cmd="wait", within=timeout, timeout=timeout + 10) for i in nodes)
        )
        bad = [r for r in res if not r["ok"]]
        assert not bad, f"not writable in {timeout}s: {bad}"
        return list(res)

    async def statuses(self) -> dict[int, dict[str, Any]]:
        live = [i for i, h in self.harness.items() if h.alive]
        res = await asyncio.gather(*(self.harness[i].req(cmd="status") for i in live))
        return dict(zip(live, res, strict=True))

    async def wait_converged(self, timeout: float = 60) -> dict[int, dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            st = await self.statuses()
            sums = {s["checksum"] for s in st.values()}
            if len(sums) == 1 and all(s["mode"] == "synced" for s in st.values()):
                return st
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas did not converge: {st}")
            await asyncio.sleep(0.2)

    async def wait_stable(self, timeout: float = 90, quiet: float = 2.0) -> None:
        """Until every live node shows all live nodes as members, synced and writable,
        unchanged for ``quiet`` seconds (corosync may re-merge a healed link late)."""
        deadline = time.monotonic() + timeout
        since, last = time.monotonic(), None
        while True:
            st = await self.statuses()
            view = {i: (tuple(s["members"]), s["rounds"]) for i, s in st.items()}
            ok = all(
                len(s["members"]) == len(st) and s["mode"] == "synced" and s["round_quorate"]
                for s in st.values()
            )
            if not ok or view != last:
                since, last = time.monotonic(), view
            elif time.monotonic() - since >= quiet:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"cluster not stable in {timeout}s: {st}")
            await asyncio.sleep(0.2)

    def partition(self, cut: list[int]) -> None:
        """Cut nodes ``cut`` off from the others (nft drop rules in their namespaces)."""
        self.heal()
        others = [i for i in range(NODES) if i not in cut]
        addrs = ", ".join(f"10.250.{j + 1}.1" for j in others)
        rules = (
            f"table inet {NFT_TABLE} {{\n"
            f"  chain input {{ type filter hook input priority -10; policy accept;"
            f" ip saddr {{ {addrs} }} drop; }}\n"
            f"  chain output {{ type filter hook output priority -10; policy accept;"
            f" ip daddr {{ {addrs} }} drop; }}\n"
            "}\n"
        )
        for i in cut:
            subprocess.run(
                ["ip", "netns", "exec", self.ns[i], "nft", "-f", "-"],
                input=rules,
                text=True,
                check=True,
                capture_output=True,
            )

    def heal(self) -> None:
        for ns in self.ns:
            subprocess.run(
                ["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", NFT_TABLE],
                capture_output=True,
                check=False,
            )

    def node_signal(self, i: int, sig: int) -> None:
        """Signal every process of node ``i`` (corosync and harness)."""
        out = subprocess.run(["ip", "netns", "pids", self.ns[i]], capture_output=True, text=True)
        for pid in out.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), sig)

    async def stop_harnesses(self, sig: int | None = signal.SIGKILL) -> None:
        for h in self.harness.values():
            await h.stop(sig)
        self.harness.clear()

    def close(self) -> None:
        for i in range(NODES):
            self.node_signal(i, signal.SIGCONT)
        for h in self.harness.values():
            h.send(signal.SIGKILL)
        self.heal()
        super().close()


async def fault_run(c: StoreCluster, seconds: float, seed: int, writers: int = 3) -> Report:
    """Writers on every node under random partitions, kills, freezes and heals."""
    rng = random.Random(seed)
    history: list[Call] = []
    stop = asyncio.Event()

    async def writer(i: int, w: int) -> None:
        n = 0
        while not stop.is_set():
            h = c.harness.get(i)
            if h is None or not h.alive:
                await asyncio.sleep(0.1)
                continue
            n += 1
            kind = "incr" if rng.random() < 0.15 else "write"
            call = Call(f"node{i + 1}", kind, f"w/{i}/{w}/{n}", f"{seed}:{i}:{w}:{n}")
            try:
                resp = await h.req(
                    cmd="call", kind=kind, path=call.path, value=call.value, timeout=90
                )
                call.outcome, call.error, call.value = resp["outcome"], resp["error"], resp["value"]
            except (ConnectionError, TimeoutError) as err:
                call.outcome, call.error = "unknown", f"{type(err).__name__}: {err}"
            history.append(call)
            if call.outcome != "ok":
                await asyncio.sleep(0.05)

    async def restart(i: int, delay: float) -> None:
        await asyncio.sleep(delay)
        await c.start_harness(i)

    tasks = [asyncio.create_task(writer(i, w)) for i in range(NODES) for w in range(writers)]
    aside: list[asyncio.Task[None]] = []
    actions: dict[str, int] = {}
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        await asyncio.sleep(rng.uniform(2, 5))
        action = rng.choice(["partition", "partition", "heal", "kill", "freeze", "freeze_node"])
        actions[action] = actions.get(action, 0) + 1
        i = rng.randrange(NODES)
        if action == "partition":
            c.partition([i])
        elif action == "heal":
            c.heal()
        elif action == "kill" and c.harness.get(i) is not None and c.harness[i].alive:
            h = c.harness[i]
            await h.stop(signal.SIGKILL)
            aside.append(asyncio.create_task(restart(i, rng.uniform(0.5, 4))))
        elif action == "freeze" and c.harness.get(i) is not None:
            h = c.harness[i]
            h.send(signal.SIGSTOP)
            asyncio.get_running_loop().call_later(rng.uniform(0.5, 3), h.send, signal.SIGCONT)
        elif action == "freeze_node":
            c.node_signal(i, signal.SIGSTOP)
            asyncio.get_running_loop().call_later(
                rng.uniform(1, 6), c.node_signal, i, signal.SIGCONT
            )
    await asyncio.sleep(6.5)  # pending SIGCONTs and restarts
    await asyncio.gather(*aside)
    c.heal()
    for i in range(NODES):
        c.node_signal(i, signal.SIGCONT)
    await c.wait_writable(list(range(NODES)), timeout=90)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 120)
    statuses = await c.wait_converged(60)
    paths = sorted({x.path for x in history} | {COUNTER})
    final = (await c.harness[0].req(cmd="read", paths=paths))["data"]
    outside = sum(s["acks_outside_quorum"] for s in statuses.values())
    report = check(
        history,
        {p: (v.encode("latin-1") if v is not None else None) for p, v in final.items()},
        {f"node{i + 1}": s["checksum"] for i, s in statuses.items()},
        outside,
    )
    print(f"fault run {seconds:.0f}s seed {seed}: actions {actions}; {report.summary()}")
    for p in report.problems[:10]:
        print("  problem:", p)
    return report
