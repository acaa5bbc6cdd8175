"""``/access/openid``: log in through an OpenID Connect realm (authorization-code flow).

Both calls are open to the world (the user is not logged in yet); the ``state``
handed out by ``auth-url`` is one-time and expires, and ``login`` answers a failed
exchange with 401 like ``/access/ticket``.
"""

from __future__ import annotations

from typing import Any

from pyxis.access import realm_openid
from pyxis.api.common import ALL_USERS, STR, WORLD, array_of, obj, opt, subdirs
from pyxis.api.context import Call
from pyxis.errors import AuthError
from pyxis.schema.registry import method

REDIRECT = {"type": "string", "maxLength": 255}


@method("GET", "/access/openid", name="index", permissions=ALL_USERS, returns=array_of(obj()))
async def openid_index(call: Call, p: dict[str, Any]) -> list[dict[str, str]]:
    """Directory index."""
    return subdirs("auth-url", "login")


@method(
    "POST",
    "/access/openid/auth-url",
    name="auth_url",
    permissions=WORLD,
    protected=True,
    parameters={
        "realm": {"type": "string", "format": "pve-realm", "maxLength": 32},
        "redirect-url": REDIRECT,
    },
    returns=STR,
)
async def auth_url(call: Call, p: dict[str, Any]) -> str:
    """The provider's authorization URL for this realm (with a fresh state and nonce)."""
    now = int(call.svc.access.clock())
    return await realm_openid.auth_url(call.svc, p["realm"], p["redirect-url"], now)


@method(
    "POST",
    "/access/openid/login",
    name="login",
    permissions=WORLD,
    protected=True,
    parameters={
        "code": {"type": "string", "maxLength": 4096},
        "state": {"type": "string", "maxLength": 1024},
        "redirect-url": REDIRECT,
    },
    # upstream declares the properties without ``type``
    returns={
        "properties": {
            "username": STR,
            "ticket": STR,
            "CSRFPreventionToken": STR,
            "cap": {"type": "object"},
            "clustername": opt(STR),
        }
    },
)
async def openid_login(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """Exchange the provider's code for a Pyxis ticket."""
    access = call.svc.access
    userid = await realm_openid.login(
        call.svc, p["code"], p["state"], p["redirect-url"], int(access.clock())
    )
    if not access.cfg().user_enabled(userid, int(access.clock())):
        raise AuthError("authentication failure")
    return access.grant_ticket(userid)
