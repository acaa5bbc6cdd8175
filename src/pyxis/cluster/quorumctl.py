"""Quorum as corosync reports it, expected votes, and the QDevice (corosync-qnetd) setup.

:func:`quorum_status` reads votequorum and cmap through the bindings (what ``pvecm
status``/``nodes`` print).  :func:`qdevice_setup` adds ``quorum.device`` (model ``net``)
to corosync.conf in the store: algorithm ``ffsplit`` with one vote for an even number of
nodes, ``lms`` only when forced for an odd number, as upstream's pvecm decides.  The
device runs with ``tls: off``: upstream exchanges NSS certificates with the qnetd host
over ssh, which Pyxis does not do (documented in docs/cluster.md).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from pyxis.cluster import corosync_conf as cc
from pyxis.cluster.control import STORE_PATH
from pyxis.cluster.corosync._lib import CorosyncError
from pyxis.errors import Conflict, ParamError, PyxisError

if TYPE_CHECKING:
    from pyxis.services import Services


def _read_quorum() -> dict[str, Any]:
    from pyxis.cluster.corosync.cmap import Cmap
    from pyxis.cluster.corosync.quorum import NodeState, Quorum, VoteFlag, Votequorum

    with Cmap() as cmap, Votequorum() as vq, Quorum() as q:
        assert isinstance(cmap, Cmap) and isinstance(vq, Votequorum) and isinstance(q, Quorum)
        me = cmap.this_node_id()
        info = vq.info(me)
        members: list[dict[str, Any]] = []
        for node in cmap.nodelist():
            try:
                ni = vq.info(node.nodeid)
            except CorosyncError:
                continue
            members.append(
                {
                    "nodeid": node.nodeid,
                    "name": node.name,
                    "ring0_addr": node.ring0_addr,
                    "votes": ni.node_votes,
                    "online": ni.node_state == NodeState.MEMBER,
                    "local": node.nodeid == me,
                }
            )
        flags = [f.name for f in VoteFlag if f in info.flags and f.name]
        return {
            "cluster_name": cmap.cluster_name(),
            "config_version": _u64(cmap, "totem.config_version"),
            "nodeid": me,
            "quorate": q.quorate(),
            "expected_votes": info.expected_votes,
            "highest_expected": info.highest_expected,
            "total_votes": info.total_votes,
            "quorum": info.quorum,
            "node_votes": info.node_votes,
            "qdevice_votes": info.qdevice_votes,
            "qdevice_name": info.qdevice_name,
            "flags": flags,
            "members": members,
        }


def _u64(cmap: Any, key: str) -> int:
    try:
        return int(cmap.get_u64(key))
    except CorosyncError:
        return 0


async def quorum_status(svc: Services) -> dict[str, Any]:
    """Votequorum's view from this node; raises when corosync does not answer."""
    if not svc.corosync.configured():
        raise Conflict("this node is not part of a cluster (no corosync.conf)")
    try:
        return await asyncio.to_thread(_read_quorum)
    except CorosyncError as err:
        raise PyxisError(f"cannot talk to corosync: {err} (is it running?)") from err


def _set_expected(expected: int) -> None:
    from pyxis.cluster.corosync.quorum import Votequorum

    with Votequorum() as vq:
        assert isinstance(vq, Votequorum)
        vq.set_expected(expected)


async def set_expected(svc: Services, expected: int) -> None:
    """Lower (or raise) the expected votes at runtime, e.g. ``1`` to regain quorum."""
    if not svc.corosync.configured():
        raise Conflict("this node is not part of a cluster (no corosync.conf)")
    try:
        await asyncio.to_thread(_set_expected, expected)
    except CorosyncError as err:
        if err.name == "CS_ERR_INVALID_PARAM":  # e.g. below the votes present
            raise ParamError.one(
                "expected", f"corosync refused expected votes {expected}: {err.name}"
            ) from err
        raise PyxisError(
            f"unable to set expected votes to {expected}: {err.name} (is corosync running?)"
        ) from err


def _conf(svc: Services) -> tuple[cc.CorosyncConf, bytes]:
    raw = svc.store.read(STORE_PATH)
    if raw is None:
        raise Conflict("this node is not part of a cluster (no corosync.conf)")
    return cc.parse(raw.decode()), raw


async def qdevice_setup(svc: Services, address: str, force: bool = False) -> dict[str, Any]:
    """Add the quorum device ``address`` (a corosync-qnetd host) to the cluster."""
    from pyxis.cluster.lifecycle import write_conf

    conf, raw = _conf(svc)
    if conf.quorum.device is not None and not force:
        raise ParamError.one(
            "address", f"a QDevice ({conf.quorum.device.host}) is already set up: remove it first"
        )
    n = len(conf.nodes)
    if n % 2 == 1 and not force:
        raise ParamError.one(
            "address",
            f"the cluster has an odd number of nodes ({n}): a QDevice adds a tie-breaker for "
            "even clusters only; use --force to set it up with algorithm lms",
        )
    algorithm = "ffsplit" if n % 2 == 0 else "lms"
    conf.quorum.device = cc.QDevice(
        host=address, algorithm=algorithm, tls="off", votes=1 if algorithm == "ffsplit" else None
    )
    conf.bump()
    await write_conf(svc, conf, raw)
    return {"host": address, "algorithm": algorithm}


async def qdevice_remove(svc: Services) -> None:
    from pyxis.cluster.lifecycle import write_conf

    conf, raw = _conf(svc)
    if conf.quorum.device is None:
        raise Conflict("no QDevice configured")
    conf.quorum.device = None
    conf.bump()
    await write_conf(svc, conf, raw)


async def qdevice_status(svc: Services) -> dict[str, Any]:
    conf, _ = _conf(svc)
    dev = conf.quorum.device
    if dev is None:
        return {}
    out: dict[str, Any] = {
        "model": dev.model,
        "host": dev.host,
        "algorithm": dev.algorithm,
        "tls": dev.tls,
        "votes": dev.votes or 1,
        "running": svc.corosync.pid("corosync-qdevice") is not None or svc.corosync.system,
    }
    try:
        q = await quorum_status(svc)
        out["state"] = "alive" if "QDEVICE_ALIVE" in q["flags"] else "unreachable"
        out["cast_vote"] = int("QDEVICE_CAST_VOTE" in q["flags"])
    except PyxisError:
        out["state"] = "unknown"
    return out
