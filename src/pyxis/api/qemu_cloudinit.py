"""``/nodes/{node}/qemu/{vmid}/cloudinit``: cloud-init pending changes, regenerate, dump.

``GET`` compares the cloud-init keys of the config with what the drive was last
generated from (``[special:cloudinit]``); ``PUT`` regenerates the drive now; ``dump``
shows the generated user, network or meta data.
"""

from __future__ import annotations

from typing import Any

from pyxis.api.common import INT, NODE, STR, VMID, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.guests.qemu import cloudinit_drive
from pyxis.schema.registry import method

BASE = {"node": NODE, "vmid": VMID}
PATH = "/nodes/{node}/qemu/{vmid}/cloudinit"


@method(
    "GET",
    PATH,
    name="cloudinit_pending",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    proxyto="node",
    parameters=BASE,
    returns=array_of(
        obj(
            key=STR,
            value=opt(STR),
            pending=opt(STR),
            delete=opt(INT, minimum=0, maximum=1),
        )
    ),
)
async def cloudinit_pending(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Cloud-init keys: the generated value and a pending (changed) one."""
    cfg, _ = call.svc.qemu.load(int(p["vmid"]))
    return cloudinit_drive.pending(cfg)


@method(
    "PUT",
    PATH,
    name="cloudinit_update",
    permissions=perm("/vms/{vmid}", ["VM.Config.Cloudinit"]),
    protected=True,
    proxyto="node",
    parameters=BASE,
    returns={"type": "null"},
)
async def cloudinit_update(call: Call, p: dict[str, Any]) -> None:
    """Regenerate the cloud-init drive from the current config."""
    await cloudinit_drive.update_now(call.svc.qemu, int(p["vmid"]))


@method(
    "GET",
    f"{PATH}/dump",
    name="cloudinit_generated_config_dump",
    permissions=perm("/vms/{vmid}", ["VM.Audit"]),
    proxyto="node",
    parameters={**BASE, "type": {"type": "string", "enum": ["user", "network", "meta"]}},
    returns=STR,
)
async def cloudinit_dump(call: Call, p: dict[str, Any]) -> str:
    """The generated cloud-init user, network or meta data."""
    vmid = int(p["vmid"])
    cfg, _ = call.svc.qemu.load(vmid)
    data = await cloudinit_drive.generate(call.svc, vmid, cfg.main)
    return {"user": data.user, "network": data.network, "meta": data.meta}[str(p["type"])]
