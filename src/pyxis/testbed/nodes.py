"""The processes of a testbed node: ``pyxisd`` inside its namespace (and what it starts).

``pyxisd`` starts corosync itself once the node is in a cluster (see
:mod:`pyxis.cluster.control`: a private ``/run`` per instance, so several share one
host; the mount disappears with the process).  ``pyxisd`` runs with ``ip netns exec``;
its unix socket lives under its own root, so the node's CLIs work from the host with
``PYXIS_ROOT=<root>/<node>``.  Everything of a node (daemon, corosync, guests) is found
through ``ip netns pids`` plus the node's container cgroups (a container has a network
namespace of its own), which is how ``kill``/``stop``/``cont`` reach all of it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from pyxis.guests.cgroups import guest_cgroup_name
from pyxis.guests.lxc.runtime import lxcpath_for
from pyxis.paths import Paths
from pyxis.testbed.model import API_PORT, NodeState, Testbed
from pyxis.testbed.net import netns_pids
from pyxis.util.spawn import spawn_detached

READY = "serving https://"
START_TIMEOUT = 60.0
ADMIN = "admin@pve"


class NodeError(RuntimeError):
    """A node process failed to start or a node command failed."""


def tool(name: str) -> str:
    """Path of a console script of this installation (next to the interpreter, else PATH)."""
    candidate = Path(sys.executable).parent / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise NodeError(f"'{name}' not found next to {sys.executable} or on PATH")
    return found


def corosync_binary() -> str | None:
    """The corosync executable, or None when corosync is not installed."""
    return shutil.which("corosync") or next(
        (p for p in ("/usr/sbin/corosync", "/sbin/corosync") if os.access(p, os.X_OK)), None
    )


def _spawn(argv: list[str], log: Path, env: dict[str, str] | None = None) -> int:
    """Start a detached process logging to ``log``; return its pid."""
    return spawn_detached(argv, log, env).pid


def cfs_path(tb: Testbed, node: NodeState) -> Path:
    """Where the node's pyxisd mounts its config store view.  ``ip netns exec`` gives
    pyxisd a mount namespace of its own, so the mount is seen from the node's
    namespaces only (``pyxis testbed exec``) and goes away with the daemon."""
    return node.root(tb.root) / "etc" / "pyxis"


def namespace_argv(tb: Testbed, node: NodeState) -> list[str]:
    """The command prefix that runs a program inside the node: in its running pyxisd's
    network and mount namespaces (so its config store view is there), else in the
    node's network namespace."""
    pid = node.pids.get("pyxisd", 0)
    if pid and alive(pid) and _owned(tb, node, pid):
        return ["nsenter", f"--target={pid}", "--net", "--mount", f"--wd={os.getcwd()}", "--"]
    return ["ip", "netns", "exec", node.netns]


def start_pyxisd(tb: Testbed, node: NodeState) -> int:
    """Start ``pyxisd`` for the node inside its namespace (returns at once)."""
    root = node.root(tb.root)
    root.mkdir(parents=True, exist_ok=True)
    argv = [
        "ip",
        "netns",
        "exec",
        node.netns,
        sys.executable,  # mounts the cgroup hierarchies, then becomes pyxisd
        "-m",
        "pyxis.testbed.nodeinit",
        "--",
        tool("pyxisd"),
        "--root",
        str(root),
        "--node",
        node.name,
        "--listen",
        f"{node.address}:{API_PORT}",
        "--cfs-mount",
        str(cfs_path(tb, node)),
    ]
    env = dict(os.environ, PYXIS_ROOT=str(root))
    log = tb.log_dir / f"{node.name}.pyxisd.log"
    node.pids["pyxisd_log_offset"] = log.stat().st_size if log.exists() else 0
    pid = _spawn(argv, log, env)
    node.pids["pyxisd"] = pid
    return pid


def wait_ready(tb: Testbed, node: NodeState, timeout: float = START_TIMEOUT) -> None:
    """Wait until the node's pyxisd prints that it serves; raise with its log otherwise."""
    log = tb.log_dir / f"{node.name}.pyxisd.log"
    offset = node.pids.get("pyxisd_log_offset", 0)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = ""
        with contextlib.suppress(FileNotFoundError), log.open("rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        if READY in text:
            return
        if not alive(node.pids.get("pyxisd", 0)):
            raise NodeError(f"pyxisd of {node.name} exited before serving:\n{text[-2000:]}")
        time.sleep(0.05)
    raise NodeError(f"pyxisd of {node.name} not ready after {timeout:.0f}s (log: {log})")


def node_cli(tb: Testbed, node: NodeState, *argv: str, input: str = "", timeout: float = 60) -> str:
    """Run one of the node's CLIs on the host with its ``PYXIS_ROOT``; return stdout."""
    env = dict(os.environ, PYXIS_ROOT=str(node.root(tb.root)))
    res = subprocess.run(
        [tool(argv[0]), *argv[1:]],
        input=input,
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=timeout,
    )
    if res.returncode != 0:
        raise NodeError(f"{node.name}: {' '.join(argv)}: {(res.stderr or res.stdout).strip()}")
    return res.stdout


def create_admin(tb: Testbed, node: NodeState, password: str) -> None:
    """Create (or reset) ``admin@pve`` with Administrator on ``/`` on the node."""
    try:
        node_cli(tb, node, "pveum", "user", "add", ADMIN)
    except NodeError as err:
        if "exist" not in str(err):
            raise
    node_cli(tb, node, "pveum", "passwd", ADMIN, input=password + "\n")
    node_cli(tb, node, "pveum", "acl", "modify", "/", "--users", ADMIN, "--roles", "Administrator")


def proc_state(pid: int) -> str | None:
    """The kernel's one-letter state of ``pid`` (``R``, ``S``, ``T``, ...), None if gone."""
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def _owned(tb: Testbed, node: NodeState, pid: int) -> bool:
    """Whether a recorded pid still is this node's process (guards against pid reuse)."""
    try:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    root = str(node.root(tb.root))
    # pyxisd has ``--root <root>``, corosync ``-c <root>/etc/corosync/corosync.conf``:
    # whole arguments or path prefixes, so node1 never matches node10's processes
    return any(a == root or a.startswith(root + "/") for a in args)


def container_pids(tb: Testbed, node: NodeState) -> set[int]:
    """Processes in the node's container cgroups (``pyxis-<lxcpath>-lxc-<vmid>``: the
    lxcpath name carries the node and a hash of its root, so it is this testbed's)."""
    lxcname = lxcpath_for(Paths.at(node.root(tb.root)), node.name).name
    prefix = guest_cgroup_name(lxcname, 0, "lxc").removesuffix("0")
    found: set[int] = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            text = (proc / "cgroup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            parts = line.split(":", 2)[-1].split("/")
            if any(part.startswith(prefix) for part in parts):
                found.add(int(proc.name))
                break
    return found


def node_pids(tb: Testbed, node: NodeState) -> list[int]:
    """Every live process of the node: its namespace's processes, its containers' and
    the recorded ones."""
    pids = set(netns_pids(node.netns)) | container_pids(tb, node)
    for key in ("pyxisd", "corosync"):
        pid = node.pids.get(key, 0)
        if alive(pid) and _owned(tb, node, pid):
            pids.add(pid)
    pids.discard(os.getpid())
    return sorted(p for p in pids if alive(p))


def signal_node(tb: Testbed, node: NodeState, sig: signal.Signals) -> list[int]:
    """Send ``sig`` to every process of the node; return the pids signalled."""
    pids = node_pids(tb, node)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return pids


def kill_node(tb: Testbed, node: NodeState, timeout: float = 10.0) -> list[int]:
    """SIGKILL everything of the node (thawing it first) and wait until it is gone."""
    signal_node(tb, node, signal.SIGCONT)
    pids = signal_node(tb, node, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    left = [p for p in pids if alive(p)]
    if left:
        raise NodeError(f"{node.name}: processes survived SIGKILL: {left}")
    return pids


def node_state(tb: Testbed, node: NodeState) -> str:
    """``running``, ``stopped`` (SIGSTOPped), ``partitioned`` or ``down``."""
    state = proc_state(node.pids.get("pyxisd", 0))
    if state in (None, "Z", "X") or not _owned(tb, node, node.pids["pyxisd"]):
        return "down"
    if state in ("T", "t"):
        return "stopped"
    return "partitioned" if node.name in tb.partitioned else "running"
