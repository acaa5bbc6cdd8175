"""``GET /version``: the API's release and version."""

from __future__ import annotations

from typing import Any

import pyxis
from pyxis.api.common import ALL_USERS, STR, obj, opt
from pyxis.api.context import Call
from pyxis.schema.registry import method

REPOID = "0" * 8

VERSION_RETURNS = obj(
    release=STR,
    version=STR,
    repoid={"type": "string", "pattern": "[0-9a-fA-F]{8,64}"},
    console=opt({"type": "string", "enum": ["applet", "vv", "html5", "xtermjs"]}),
)


def version_info() -> dict[str, str]:
    # Clients compare the major version to pick API behaviour: we speak the 9.1 API.
    return {
        "release": pyxis.API_RELEASE,
        "version": f"{pyxis.API_RELEASE}.0",
        "repoid": REPOID,
        "pyxis": pyxis.__version__,
    }


@method("GET", "/version", name="version", permissions=ALL_USERS, returns=VERSION_RETURNS)
async def get_version(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """API version details."""
    info: dict[str, Any] = version_info()
    console = call.svc.datacenter().get("console")
    if console:
        info["console"] = console
    return info
