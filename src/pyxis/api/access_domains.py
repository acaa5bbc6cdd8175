"""``/access/domains``: authentication realms stored in ``domains.cfg``.

The parameter lists are the union of every realm type's options (``realms.PROPERTIES``);
which of them a given realm accepts is decided by its type's entry in the registry, so
new realm types need no change here.  Secret options (an LDAP bind password) never
appear in ``domains.cfg`` or in a GET answer.
"""

from __future__ import annotations

from typing import Any

from pyxis.access import realms, realmstore
from pyxis.access.usercfg import split_list
from pyxis.api.common import DELETE_LIST, DIGEST, STR, WORLD, array_of, obj, opt, perm
from pyxis.api.context import Call
from pyxis.errors import NotFound
from pyxis.schema.registry import method
from pyxis.schema.sectioncfg import SectionConfig

REALM = {"type": "string", "format": "pve-realm", "maxLength": 32}
TYPE = {"type": "string", "enum": list(realms.REALM_TYPES_WIRE)}
ALLOCATE = perm("/access/realm", ["Realm.Allocate"])


@method(
    "GET",
    "/access/domains",
    name="index",
    permissions=WORLD,
    returns=array_of(
        obj(
            realm=STR,
            type=STR,
            comment=opt(STR),
            tfa=opt({"type": "string", "enum": ["yubico", "oath"]}),
        )
    ),
)
async def list_domains(call: Call, p: dict[str, Any]) -> list[dict[str, Any]]:
    """Authentication realms (no login needed: the login form lists them)."""
    return [realms.realm_record(r, d) for r, d in call.svc.realms.config().sections()]


@method(
    "POST",
    "/access/domains",
    name="create",
    protected=True,
    permissions=ALLOCATE,
    parameters={"realm": REALM, "type": TYPE, **realms.PROPERTIES},
)
async def create_realm(call: Call, p: dict[str, Any]) -> None:
    """Add a realm of one of the registered types."""
    realm, stype = p.pop("realm"), p.pop("type")
    realms.realm_type(stype)
    rtype = realms.REALM_TYPES[stype]
    if rtype.validate is not None:
        probe = SectionConfig()
        realmstore.create_realm(probe, realm, stype, p)  # option checks before side effects
        await rtype.validate(call.svc, realm, {"type": stype, **p}, True)

    def change(cfg: SectionConfig) -> realmstore.Edit:
        return realmstore.create_realm(cfg, realm, stype, p)

    edit = await call.svc.realms.modify(change)
    await call.svc.realms.store_secrets(realm, edit.secrets)


@method(
    "GET",
    "/access/domains/{realm}",
    name="read",
    permissions=perm("/access/realm", ["Realm.Allocate", "Sys.Audit"], any_=True),
    parameters={"realm": REALM},
    returns={},
)
async def read_realm(call: Call, p: dict[str, Any]) -> dict[str, Any]:
    """A realm's stored configuration (secrets omitted) with the file digest."""
    data = call.svc.realms.get(p["realm"])
    if data is None:
        raise NotFound(f"domain '{p['realm']}' does not exist")
    return {**data, "digest": call.svc.realms.config().digest}


@method(
    "PUT",
    "/access/domains/{realm}",
    name="update",
    protected=True,
    permissions=ALLOCATE,
    parameters={
        "realm": REALM,
        **realms.UPDATE_PROPERTIES,
        "delete": {**DELETE_LIST, "maxLength": 4096},
        "digest": DIGEST,
    },
)
async def update_realm(call: Call, p: dict[str, Any]) -> None:
    """Change a realm's options; ``delete`` removes options."""
    realm = p.pop("realm")
    delete = split_list(p.pop("delete", ""))
    expect = p.pop("digest", None)

    def change(cfg: SectionConfig) -> realmstore.Edit:
        return realmstore.update_realm(cfg, realm, p, delete)

    current = call.svc.realms.config()
    probe = realms.parse_domains(realms.render_domains(current))
    edit = realmstore.update_realm(probe, realm, p, delete)
    await _validate_probe(call, probe, realm, edit)
    edit = await call.svc.realms.modify(change, expect=expect)
    await call.svc.realms.store_secrets(realm, edit.secrets)


async def _validate_probe(
    call: Call, probe: SectionConfig, realm: str, edit: realmstore.Edit
) -> None:
    data = probe.ids[realm]
    rtype = realms.realm_type(str(data["type"]))
    if rtype.validate is None:
        return
    full: dict[str, Any] = dict(data)
    for key, opt_ in rtype.options.items():
        if opt_.secret:
            value = edit.secrets.get(key, call.svc.realms.secret(realm, key))
            if value is not None:
                full[key] = value
    await rtype.validate(call.svc, realm, {**full, **edit.transient}, False)


@method(
    "DELETE",
    "/access/domains/{realm}",
    name="delete",
    protected=True,
    permissions=ALLOCATE,
    parameters={"realm": REALM},
)
async def delete_realm(call: Call, p: dict[str, Any]) -> None:
    """Remove a realm (``pam`` and ``pve`` stay); its users stay in user.cfg."""
    realm = p["realm"]

    def change(cfg: SectionConfig) -> None:
        realmstore.delete_realm(cfg, realm)

    await call.svc.realms.modify(change)
    await call.svc.realms.drop_secrets(realm)
