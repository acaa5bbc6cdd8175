"""``POST /access/domains/{realm}/sync``: import users and groups from an LDAP/AD realm.

Runs as a worker task (``auth-realm-sync``, or ``auth-realm-sync-test`` for a dry run)
and returns its UPID, as upstream; options left out come from the realm's
``sync-defaults-options``.
"""

from __future__ import annotations

from typing import Any

from pyxis.access.realmsync import SyncOptions, run_sync
from pyxis.api.common import BOOL, opt
from pyxis.api.context import Call
from pyxis.errors import ParamError
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog


@method(
    "POST",
    "/access/domains/{realm}/sync",
    name="sync",
    permissions={
        "check": [
            "and",
            ["perm", "/access/realm/{realm}", ["Realm.AllocateUser"]],
            ["perm", "/access/groups", ["User.Modify"]],
        ]
    },
    protected=True,
    parameters={
        "realm": {"type": "string", "format": "pve-realm", "maxLength": 32},
        "scope": opt({"type": "string", "enum": ["users", "groups", "both"]}),
        "remove-vanished": opt(
            {
                "type": "string",
                "pattern": "(?:(?:(?:acl|properties|entry);)*(?:acl|properties|entry))|none",
                "default": "none",
            }
        ),
        "enable-new": opt(BOOL, default=1),
        "dry-run": opt(BOOL, default=0),
        "full": opt(BOOL),
        "purge": opt(BOOL),
    },
    returns={"type": "string"},
)
async def sync_realm(call: Call, p: dict[str, Any]) -> str:
    """Sync users and/or groups of an LDAP or AD realm into user.cfg (a task)."""
    realm = p["realm"]
    cfg = call.svc.realms.get(realm)
    if cfg is None or cfg.get("type") not in ("ldap", "ad"):
        raise ParamError.one("realm", f"realm '{realm}' does not support sync")
    keys = ("scope", "remove-vanished", "enable-new", "dry-run")
    opts = SyncOptions.resolve(cfg, {k: p[k] for k in keys if k in p})
    svc = call.svc

    async def work(log: TaskLog) -> None:
        await run_sync(svc, realm, opts, log)

    task = "auth-realm-sync-test" if opts.dry_run else "auth-realm-sync"
    return await svc.tasks.start(task, realm, call.authid, work)
