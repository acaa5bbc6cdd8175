"""Pyxis extensions under ``/cluster/config`` behind ``pvecm status|nodes|expected|qdevice|
updatecerts``.

Upstream's pvecm does these inside the CLI process as root (corosync-quorumtool,
votequorum, ssh to the qnetd host); Pyxis CLIs always talk to the daemon, so the daemon
answers.  Listed in ``data/extensions.json``.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import BOOL, INT, STR, obj, opt, perm
from pyxis.api.context import Call
from pyxis.cluster import quorumctl
from pyxis.schema.registry import method

AUDIT = perm("/", ["Sys.Audit"])
MODIFY = perm("/", ["Sys.Modify"])


@method(
    "GET",
    "/cluster/config/quorum",
    name="quorum",
    permissions=AUDIT,
    protected=True,
    extension=True,
    returns={"type": "object"},
)
async def quorum(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Votequorum as this node's corosync reports it: votes, quorum, members."""
    return await quorumctl.quorum_status(call.svc)


@method(
    "POST",
    "/cluster/config/expected",
    name="expected",
    permissions=MODIFY,
    protected=True,
    extension=True,
    parameters={"expected": {"type": "integer", "minimum": 1}},
)
async def expected(call: Call, p: dict[str, Any]) -> None:
    """Set the expected votes at runtime (``pvecm expected N``)."""
    await quorumctl.set_expected(call.svc, int(p["expected"]))


@method(
    "POST",
    "/cluster/config/qdevice",
    name="qdevice_setup",
    permissions=MODIFY,
    protected=True,
    extension=True,
    parameters={"address": {"type": "string", "format": "address"}, "force": opt(BOOL)},
    returns=obj(host=STR, algorithm=STR),
)
async def qdevice_setup(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Add a corosync-qnetd host as the cluster's quorum device."""
    return await quorumctl.qdevice_setup(call.svc, str(p["address"]), bool(p.get("force")))


@method(
    "DELETE",
    "/cluster/config/qdevice",
    name="qdevice_remove",
    permissions=MODIFY,
    protected=True,
    extension=True,
)
async def qdevice_remove(call: Call, p: dict[str, Any]) -> None:
    """Remove the quorum device."""
    await quorumctl.qdevice_remove(call.svc)


@method(
    "POST",
    "/cluster/config/updatecerts",
    name="updatecerts",
    permissions=MODIFY,
    protected=True,
    extension=True,
    parameters={"force": opt(BOOL)},
    returns=INT,
)
async def updatecerts(call: Call, p: dict[str, Any]) -> int:
    """Renew this node's certificate from the cluster CA if needed (or ``force``)."""
    return int(await call.svc.update_certs(force=bool(p.get("force"))))


@method(
    "GET",
    "/cluster/config/store",
    name="store_status",
    permissions=AUDIT,
    protected=True,
    extension=True,
    returns={"type": "object"},
)
async def store_status(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """This node's config store: mode, epoch, version, checksum, replication members.

    Equal checksums on every node prove byte-identical replicas (``pvecm status``)."""
    store = call.svc.store
    out = dict(store.status())
    out.update(node=call.svc.node, checksum=store.checksum(), version=store.version)
    out["writable"] = 1 if store.writable else 0
    return out
