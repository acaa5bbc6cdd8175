"""Console tickets: short-lived capabilities for one user on one ACL path.

``vncproxy``/``termproxy`` hand one out and the console websocket redeems it.  As
upstream, a console ticket is ``PVEVNC:<8 hex time>::<base64 signature>`` signed with
the cluster ticket key; it carries no data part, the signature covers
``<authid>:<path>`` as a never-transmitted suffix, so the ticket is only good for the
user (or API token) it was made for and the path it names (``/vms/<vmid>``).  It must be
used within ``VNC_MAX_AGE`` seconds (clock skew ``VNC_MIN_AGE`` allowed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyxis.errors import AuthError

if TYPE_CHECKING:
    from pyxis.access.service import AccessService

VNC_PREFIX = "PVEVNC"
VNC_MIN_AGE = -20
VNC_MAX_AGE = 40


def _aad(authid: str, path: str) -> str:
    return f"{authid}:{path}"


def create_vnc_ticket(access: AccessService, authid: str, path: str) -> str:
    """A console ticket for ``authid`` on ``path``, issued now."""
    now = int(access.clock())
    return access.signer().create_ticket(None, now, VNC_PREFIX, aad=_aad(authid, path))


def verify_vnc_ticket(access: AccessService, ticket: str, authid: str, path: str) -> None:
    """Raise AuthError unless ``ticket`` was made for ``authid`` on ``path`` moments ago."""
    now = int(access.clock())
    data, _age = access.signer().verify_data(
        ticket,
        now,
        VNC_PREFIX,
        aad=_aad(authid, path),
        min_age=VNC_MIN_AGE,
        max_age=VNC_MAX_AGE,
    )
    if data is not None:
        raise AuthError("invalid ticket")
