"""Benchmark: how fast the survivors see a node go, against corosync's token timeout.

Builds a 3-node testbed (``pyxis testbed up --nodes 3``, cluster formed with pvecm) in
a temporary root and reads the totem token timeout the cluster runs with from cmap
(``runtime.config.totem.token``, inside node1).  Each round then disturbs node3 in one
of two ways and polls node1's ``GET /cluster/status`` every 20 ms until node3 shows
``online: 0``:

- ``partition``: ``pyxis testbed partition node3`` (its packets to and from the other
  nodes are dropped; node3 keeps running) then ``heal``;
- ``kill``: ``pyxis testbed kill node3`` (daemon and corosync SIGKILLed), once, after
  the partition rounds.

After each heal it waits until node3 is back online.  Prints each detection
time, their median, and the ratio to the token timeout (corosync itself needs the token
timeout plus the consensus timeout, 1.2 x token by default, to form the new membership;
pyxisd adds only its CPG delivery and the HTTP poll).

Usage: ``.venv/bin/python bench/cluster_failover_detect.py [ROUNDS]`` (default 3; root).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import urllib3

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PW = "bench-pw-1"
POLL = 0.02
urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)


def tb(root: Path, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    res = subprocess.run(
        [str(BIN / "pyxis"), "testbed", argv[0], "--root", str(root), *argv[1:]],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if check and res.returncode != 0:
        raise SystemExit(f"pyxis testbed {' '.join(argv)} failed:\n{res.stdout}\n{res.stderr}")
    return res


class Api:
    def __init__(self, root: Path) -> None:
        state = json.loads((root / "testbed.json").read_text())
        self.urls = {n["name"]: n["api_url"] for n in state["nodes"]}
        self.session = requests.Session()
        r = self.session.post(
            self.urls["node1"] + "/api2/json/access/ticket",
            data={"username": "admin@pve", "password": PW},
            timeout=20,
            verify=False,  # per request: a CA bundle in the environment overrides the session
        )
        r.raise_for_status()
        self.session.cookies.set("PVEAuthCookie", r.json()["data"]["ticket"])

    def online(self, via: str) -> dict[str, int]:
        r = self.session.get(self.urls[via] + "/api2/json/cluster/status", timeout=5, verify=False)
        r.raise_for_status()
        entries: list[dict[str, Any]] = r.json()["data"]
        return {e["name"]: int(e["online"]) for e in entries if e["type"] == "node"}


def until(pred: Any, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if pred():
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        time.sleep(POLL)
    raise SystemExit(f"condition not reached in {timeout}s")


def token_ms(root: Path) -> int:
    res = tb(root, "exec", "node1", "--", "corosync-cmapctl", "-g", "runtime.config.totem.token")
    return int(res.stdout.rsplit("=", 1)[1])


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    with tempfile.TemporaryDirectory(prefix="pyxis-failover-") as tmp:
        root = Path(tmp) / "tb"
        try:
            t0 = time.monotonic()
            tb(root, "up", "--nodes", "3", "--password", PW)
            print(f"3-node testbed formed in {time.monotonic() - t0:.1f}s")
            api = Api(root)
            until(lambda: all(api.online("node1").values()), 60)
            token = token_ms(root) / 1000
            print(f"corosync token timeout: {token * 1000:.0f} ms (consensus 1.2 x token)")
            parts: list[float] = []
            for i in range(rounds):
                tb(root, "partition", "node3")
                took = until(lambda: api.online("node1")["node3"] == 0, token * 5 + 10)
                parts.append(took)
                print(f"  partition round {i + 1}: offline on node1 after {took * 1000:.0f} ms")
                tb(root, "heal")
                until(lambda: api.online("node1")["node3"] == 1, 120)
            tb(root, "kill", "node3")
            kill = until(lambda: api.online("node1")["node3"] == 0, token * 5 + 10)
            print(f"  kill: offline on node1 after {kill * 1000:.0f} ms")
            med = statistics.median(parts)
            print(
                f"partition median {med * 1000:.0f} ms = {med / token:.2f} x token; "
                f"kill {kill * 1000:.0f} ms = {kill / token:.2f} x token "
                f"(corosync's own floor: token + consensus = 2.2 x token)"
            )
        finally:
            tb(root, "down", check=False)


if __name__ == "__main__":
    main()
