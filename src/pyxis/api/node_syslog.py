"""``GET /nodes/{node}/syslog`` and ``GET /nodes/{node}/journal``: the host's system log.

Both need ``Sys.Syslog`` on the node and run on it (``proxyto``).  ``syslog`` pages
lines (``start``/``limit``; ``since``/``until`` as ``YYYY-MM-DD[ HH:MM[:SS]]``;
``service`` names a systemd unit) and reports ``total``; ``journal`` answers the newest
``lastentries`` lines (or those of ``since``..``until``, epoch seconds, or those after
``startcursor``/before ``endcursor``) framed by two cursors.  Which log is read is
decided per request by ``pyxis.host.syslog.pick_source`` (journald, else a text file).
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import INT, NODE, STR, array_of, obj, opt, perm
from pyxis.api.context import Call, Listing
from pyxis.host import syslog
from pyxis.schema.registry import method

SYSLOG = perm("/nodes/{node}", ["Sys.Syslog"])
_DATE = r"^\d{4}-\d{2}-\d{2}( \d{2}:\d{2}(:\d{2})?)?$"


@method(
    "GET",
    "/nodes/{node}/syslog",
    name="syslog",
    permissions=SYSLOG,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "start": opt(INT, minimum=0),
        "limit": opt(INT, minimum=0),
        "since": opt(STR, pattern=_DATE),
        "until": opt(STR, pattern=_DATE),
        "service": opt(STR, maxLength=128),
    },
    returns=array_of(obj(n=INT, t=STR)),
)
async def node_syslog(call: Call, p: dict[str, Any]) -> Listing:
    """Lines of the system log, oldest first, a page at a time."""
    source = syslog.pick_source(call.svc.paths.root)
    q = syslog.SyslogQuery(
        start=int(p.get("start") or 0),
        limit=int(p.get("limit") or syslog.DEFAULT_LIMIT),
        since=p.get("since"),
        until=p.get("until"),
        service=p.get("service"),
    )
    lines, total = await source.syslog(q)
    return Listing(lines, total)


@method(
    "GET",
    "/nodes/{node}/journal",
    name="journal",
    permissions=SYSLOG,
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "since": opt(INT, minimum=0),
        "until": opt(INT, minimum=0),
        "lastentries": opt(INT, minimum=0),
        "startcursor": opt(STR),
        "endcursor": opt(STR),
    },
    returns=array_of(STR),
)
async def node_journal(call: Call, p: dict[str, Any]) -> list[str]:
    """Journal lines framed by the cursors before the first and after the last."""
    source = syslog.pick_source(call.svc.paths.root)
    q = syslog.JournalQuery(
        since=p.get("since"),
        until=p.get("until"),
        lastentries=p.get("lastentries"),
        startcursor=p.get("startcursor"),
        endcursor=p.get("endcursor"),
    )
    return await source.journal(q)
