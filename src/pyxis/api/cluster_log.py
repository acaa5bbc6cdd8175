"""``GET /cluster/log``: recent audit records and task starts/ends, newest first.

Entries have upstream's shape (``uid``, ``time``, ``pri``, ``tag``, ``pid``, ``node``,
``user``, ``msg``) plus ``severity`` spelled out.  As upstream, holders of
``Sys.Syslog`` on ``/`` see every entry and everybody else only their own.
"""

from __future__ import annotations

import os
from typing import Any

from pyxis.access import audit
from pyxis.api.common import ALL_USERS, opt
from pyxis.api.context import Call
from pyxis.schema.registry import method

DEFAULT_MAX = 50
_SEVERITY = {6: "info", 4: "warning", 3: "err"}


def _entry(
    uid: str, when: int, pri: int, node: str, pid: int, user: str, tag: str, msg: str
) -> dict[str, Any]:
    return {
        "uid": uid,
        "time": when,
        "pri": pri,
        "severity": _SEVERITY.get(pri, "info"),
        "node": node,
        "pid": pid,
        "user": user,
        "tag": tag,
        "msg": msg,
    }


def audit_entries(call: Call, limit: int) -> list[dict[str, Any]]:
    out = []
    pid = os.getpid()
    for rec in audit.log_for(call.svc).entries(limit):
        status = int(rec.get("status", 0))
        pri = 6 if status < 400 else 4 if status < 500 else 3
        params = rec.get("params") or {}
        args = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
        who = rec.get("token") or rec.get("user") or ""
        msg = (
            f"{rec.get('method')} {rec.get('path')} {args} -> {status} "
            f"{rec.get('message', '')} (by {who} from {rec.get('source') or '-'})"
        )
        uid = f"{int(rec.get('time', 0)):08X}:{int(rec.get('seq', 0)):08X}:audit"
        out.append(
            _entry(
                uid,
                int(rec.get("time", 0)),
                pri,
                str(rec.get("node", call.svc.node)),
                pid,
                str(rec.get("user", "")),
                "pyxis-api",
                " ".join(msg.split()),
            )
        )
    return out


def task_entries(call: Call, limit: int) -> list[dict[str, Any]]:
    out = []
    tasks, _total = call.svc.tasks.list(limit=limit, source="all")
    for info in tasks:
        upid, user = str(info["upid"]), str(info.get("user", ""))
        node, pid = str(info.get("node", call.svc.node)), int(info.get("pid", 0))
        out.append(
            _entry(
                f"{upid}:start",
                int(info["starttime"]),
                6,
                node,
                pid,
                user,
                "pyxis-task",
                f"starting task {upid}",
            )
        )
        if "endtime" in info:
            status = str(info.get("status", ""))
            pri = 6 if status == "OK" else 4 if status.startswith("WARNINGS") else 3
            out.append(
                _entry(
                    f"{upid}:end",
                    int(info["endtime"]),
                    pri,
                    node,
                    pid,
                    user,
                    "pyxis-task",
                    f"end task {upid} {status}",
                )
            )
    return out


@method(
    "GET",
    "/cluster/log",
    name="log",
    permissions=ALL_USERS,
    parameters={"max": opt({"type": "integer", "minimum": 1})},
    returns={"type": "array", "items": {"type": "object", "properties": {}}},
)
async def cluster_log(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Recent cluster log entries (own entries only without ``Sys.Syslog`` on ``/``)."""
    limit = int(p.get("max", DEFAULT_MAX))
    everything = call.svc.access.check(call.authid, "/", ["Sys.Syslog"])
    scan = limit if everything else limit * 20
    merged = audit_entries(call, scan) + task_entries(call, scan)
    if not everything:
        merged = [e for e in merged if e["user"] == call.user]
    merged.sort(key=lambda e: (e["time"], e["uid"]), reverse=True)
    return merged[:limit]
