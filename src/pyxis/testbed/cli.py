"""``pyxis testbed``: build, inspect, disturb and tear down a multi-node testbed.

Every subcommand takes ``--root DIR`` (default ``$PYXIS_TESTBED_ROOT`` or
``/var/tmp/pyxis-testbed``) to find its testbed's state file.  Needs root (namespaces).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyxis.testbed import cluster as tbcluster
from pyxis.testbed import model, net, nodes
from pyxis.testbed.model import Testbed

DEFAULT_ROOT = "/var/tmp/pyxis-testbed"
MAX_NODES = 32


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        default=os.environ.get("PYXIS_TESTBED_ROOT", DEFAULT_ROOT),
        help="directory holding the testbed's state, node roots and logs",
    )
    ap = argparse.ArgumentParser(prog="pyxis testbed", description="multi-node testbed")
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", parents=[common], help="create and start N nodes")
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--password", help="admin@pve password (default: generated, printed)")
    up.add_argument("--qdevice", action="store_true", help="add a corosync-qnetd host")
    up.add_argument(
        "--links",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="networks per node: 2 adds corosync link1, 3 also a migration network",
    )
    up.add_argument("--no-cluster", action="store_true", help="leave the nodes standalone")
    st = sub.add_parser("status", parents=[common], help="nodes, API URLs and states")
    st.add_argument("--output-format", choices=("text", "json", "json-pretty"), default="text")
    ex = sub.add_parser("exec", parents=[common], help="run a command inside a node")
    ex.add_argument("node")
    ex.add_argument("command", nargs="*", help="after --: the command and its arguments")
    for name, text in (
        ("kill", "kill a node's daemon, corosync and guests"),
        ("stop", "freeze a node (SIGSTOP)"),
        ("cont", "thaw a node (SIGCONT)"),
    ):
        sub.add_parser(name, parents=[common], help=text).add_argument("node")
    pa = sub.add_parser("partition", parents=[common], help="cut nodes off from the others")
    pa.add_argument("nodes", nargs="+")
    sub.add_parser("heal", parents=[common], help="undo every partition")
    sub.add_parser("down", parents=[common], help="tear everything down")
    return ap


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``pyxis testbed``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    tail: list[str] | None = None
    if "--" in argv:  # exec NODE [--root DIR] -- CMD ARGS...: options may precede the "--"
        cut = argv.index("--")
        argv, tail = argv[:cut], argv[cut + 1 :]
    args = _parser().parse_args(argv)
    if tail is not None:
        args.command = [*getattr(args, "command", []), *tail]
    root = Path(args.root).resolve()
    if args.cmd == "up":
        return _up(root, args.nodes, args.password, args)
    tb = model.load(root)
    if tb is None:
        if args.cmd == "down":
            print(f"pyxis testbed: no testbed under {root}")
            return 0
        return _fail(f"no testbed under {root} (run 'pyxis testbed up --root {root}')")
    try:
        if args.cmd == "status":
            return _status(tb, args.output_format)
        if args.cmd == "exec":
            return _exec(tb, args.node, args.command)
        if args.cmd in ("kill", "stop", "cont"):
            return _signal(tb, args.cmd, args.node)
        if args.cmd == "partition":
            net.partition(tb, args.nodes)
            tb.save()
            print(f"pyxis testbed: partitioned {', '.join(tb.partitioned)} from the others")
            return 0
        if args.cmd == "heal":
            net.heal(tb)
            tb.save()
            print("pyxis testbed: healed")
            return 0
        return _down(tb)
    except (KeyError, net.NetError, nodes.NodeError) as err:
        return _fail(str(err).strip("'\""))


def _fail(msg: str) -> int:
    print(f"pyxis testbed: {msg}", file=sys.stderr)
    return 1


def _up(root: Path, count: int, password: str | None, opts: argparse.Namespace) -> int:
    """Create the bridge, namespaces and processes; on any failure tear them down again."""
    if os.geteuid() != 0:
        return _fail("needs root (network namespaces, bridges)")
    if not 1 <= count <= MAX_NODES:
        return _fail(f"--nodes must be between 1 and {MAX_NODES}")
    for needed in ("ip", "nft"):
        if shutil.which(needed) is None:
            return _fail(f"'{needed}' is not installed")
    if model.load(root) is not None:
        return _fail(f"a testbed exists under {root}; run 'pyxis testbed down --root {root}'")
    tb = model.plan(root, net.pick_id(root), count, links=opts.links, qdevice=opts.qdevice)
    binary = nodes.corosync_binary()
    tb.corosync = binary is not None and not opts.no_cluster
    tb.save()
    if binary is None and not opts.no_cluster:
        print(
            "pyxis testbed: warning: corosync is not installed; nodes stay standalone",
            file=sys.stderr,
        )
    generated = password is None
    password = password or secrets.token_urlsafe(12)
    try:
        net.create_bridge(tb)
        for node in tb.nodes:
            net.create_node(tb, node)
        if tb.qnetd is not None:
            net.create_node(tb, tb.qnetd)
            tb.save()
            tbcluster.start_qnetd(tb)
        for node in tb.nodes:
            nodes.start_pyxisd(tb, node)
            tb.save()
        for node in tb.nodes:
            nodes.wait_ready(tb, node)
        with ThreadPoolExecutor(max_workers=len(tb.nodes)) as pool:
            list(pool.map(lambda n: nodes.create_admin(tb, n, password), tb.nodes))
        if tb.corosync:
            tbcluster.form(tb, password)
    except BaseException as err:
        print(f"pyxis testbed: up failed: {err}; tearing down", file=sys.stderr)
        _down(tb, quiet=True)
        if isinstance(err, Exception):
            return 1
        raise
    tb.save()
    print(
        f"pyxis testbed: {count} node(s) up under {root} (bridge {tb.bridge}, "
        f"host {tb.host_address})"
    )
    for node in tb.nodes:
        print(f"  {node.name:<8} {node.api_url}  netns {node.netns}")
    shown = password if generated else "(as given with --password)"
    print(f"  login: {nodes.ADMIN} password: {shown}")
    if tb.corosync:
        extra = f", qdevice {tb.qnetd.address}" if tb.qnetd else ""
        print(f"  cluster: {tb.cluster_name} ({count} node(s){extra})")
    else:
        print("  standalone nodes (no cluster)")
    return 0


def _status(tb: Testbed, fmt: str) -> int:
    rows: list[dict[str, Any]] = [
        {
            "name": n.name,
            "address": n.address,
            "api_url": n.api_url,
            "netns": n.netns,
            "state": nodes.node_state(tb, n),
            "root": str(n.root(tb.root)),
        }
        for n in tb.nodes
    ]
    for row, n in zip(rows, tb.nodes, strict=True):
        q = (
            tbcluster.quorum(tb, n)
            if tb.corosync and row["state"] in ("running", "partitioned")
            else None
        )
        row["corosync"] = q is not None
        row["quorate"] = bool(q and q.get("quorate"))
        members: Any = q.get("members", []) if q else []
        row["online"] = sorted(
            str(m["name"]) for m in members if isinstance(m, dict) and m.get("online")
        )
    if fmt != "text":
        print(json.dumps(rows, indent=2 if fmt == "json-pretty" else None))
        return 0
    print(f"testbed {tb.root} bridge {tb.bridge} host {tb.host_address}")
    for r in rows:
        coro = ("quorate" if r["quorate"] else "not quorate") if r["corosync"] else "no corosync"
        print(f"  {r['name']:<8} {r['api_url']:<28} {r['state']:<12} {coro}")
    return 0


def _exec(tb: Testbed, name: str, command: list[str]) -> int:
    node = tb.node(name)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        return _fail("exec needs a command: pyxis testbed exec NODE -- CMD ARGS...")
    if not net.netns_exists(node.netns):
        return _fail(f"{node.name}: namespace {node.netns} is gone")
    env = dict(os.environ, PYXIS_ROOT=str(node.root(tb.root)))
    sys.stdout.flush()
    prefix = nodes.namespace_argv(tb, node)
    os.execvpe(prefix[0], [*prefix, *command], env)  # noqa: S606


def _signal(tb: Testbed, cmd: str, name: str) -> int:
    node = tb.node(name)
    if cmd == "kill":
        pids = nodes.kill_node(tb, node)
        print(f"pyxis testbed: killed {node.name} ({len(pids)} process(es))")
        return 0
    sig = signal.SIGSTOP if cmd == "stop" else signal.SIGCONT
    pids = nodes.signal_node(tb, node, sig)
    print(
        f"pyxis testbed: {'froze' if cmd == 'stop' else 'thawed'} {node.name} "
        f"({len(pids)} process(es))"
    )
    return 0


def _down(tb: Testbed, quiet: bool = False) -> int:
    """Kill every node's processes, delete namespaces, veths and the bridge, forget the state."""
    errors: list[str] = []
    for node in [*tb.nodes, *([tb.qnetd] if tb.qnetd else [])]:
        try:
            nodes.kill_node(tb, node)
        except nodes.NodeError as err:
            errors.append(str(err))
    errors += net.teardown(tb)
    if errors:
        return _fail("down left behind: " + "; ".join(errors))
    model.remove(tb.root)
    if not quiet:
        print(f"pyxis testbed: {tb.root} torn down")
    return 0
