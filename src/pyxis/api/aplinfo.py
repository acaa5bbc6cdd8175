"""``/nodes/{node}/aplinfo``: the appliance (container template) list and its download.

The list is what this node can build locally (``pyxis.guests.lxc.templates``), since
it has no internet; ``POST`` builds the template (or reuses a cached build) and stores
it on a storage as ``STORAGE:vztmpl/<template>``, as a task answering with its UPID.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import ALL_USERS, NODE, STORAGE_ID, array_of, perm
from pyxis.api.context import Call
from pyxis.errors import ParamError, PyxisError
from pyxis.guests.lxc import templates
from pyxis.schema.registry import method
from pyxis.tasks.manager import TaskLog


@method(
    "GET",
    "/nodes/{node}/aplinfo",
    name="aplinfo",
    permissions=ALL_USERS,
    proxyto="node",
    parameters={"node": NODE},
    returns=array_of({"type": "object", "properties": {}}),
)
async def aplinfo(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Get list of appliances."""
    return templates.read_index(call.svc.paths)


@method(
    "POST",
    "/nodes/{node}/aplinfo",
    name="apl_download",
    permissions=perm("/storage/{storage}", ["Datastore.AllocateTemplate"]),
    protected=True,
    proxyto="node",
    parameters={
        "node": NODE,
        "storage": STORAGE_ID,
        "template": {"type": "string", "maxLength": 255},
    },
    returns={"type": "string"},
)
async def apl_download(call: Call, p: dict[str, Any]) -> str:
    """Download appliance templates (here: build them locally)."""
    known = {d["template"] for d in templates.read_index(call.svc.paths)}
    if p["template"] not in known:
        raise ParamError.one("template", f"no such template '{p['template']}'")
    app = templates.appliance(p["template"])
    plugin = await call.svc.storage.plugin(p["storage"])
    if "vztmpl" not in plugin.enabled_content():
        raise ParamError.one(
            "storage", f"storage '{p['storage']}' does not support templates (content vztmpl)"
        )
    target = plugin.upload_path("vztmpl", app.template)

    async def work(log: TaskLog) -> None:
        log.log(f"building template '{app.template}' locally (no download source)")
        try:
            await templates.install_template(app.template, target, log=log.log)
        except PyxisError:
            raise
        except OSError as err:
            raise PyxisError(f"storing template failed: {err}") from err
        log.log(f"download of '{app.template}' to '{p['storage']}:vztmpl/{app.template}' finished")

    return await call.svc.tasks.start("download", app.template, call.authid, work)
