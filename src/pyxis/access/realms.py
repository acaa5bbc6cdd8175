"""Authentication realms: the realm-type registry and ``domains.cfg``.

One explicit table maps a realm type (``pam``, ``pve``, ``ldap``, ``ad``, ``openid``)
to a ``RealmType``: which configuration options it accepts (each optional or required,
fixed after creation or not), which of them are secrets kept out of ``domains.cfg``
(in ``priv/realm/<realm>.pw`` and siblings), and optional hooks to validate a new
configuration and to check a password.  The wire schema of every option lives once in
``PROPERTIES`` (the API's parameter list for ``/access/domains`` is built from it);
a type only chooses from it.  ``pam`` and ``pve`` are registered here; other modules
register further types with ``register_type`` at import time.  Unknown types raise
``UnknownRealmType``.

``domains.cfg`` is an ordinary section-config file; ``pam`` and ``pve`` sections are
always present (added on parse if missing) and cannot be removed, and at most one
realm is the default.  Editing functions apply one API request to a parsed file and
live in ``pyxis.access.realmstore``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.errors import ParamError, PyxisError
from pyxis.schema import formats, propstr, sectioncfg
from pyxis.schema.scalars import check_scalar
from pyxis.schema.sectioncfg import SectionConfig

if TYPE_CHECKING:
    from pyxis.services import Services

S = dict[str, Any]

# -- option wire schemas (one table for all realm types) -------------------------------------

_STR: S = {"type": "string", "optional": 1}
_BOOL: S = {"type": "boolean", "optional": 1}

TFA_FORMAT: propstr.Format = {
    "type": {"type": "string", "enum": ["oath", "yubico"]},
    "id": {"type": "string", "optional": 1},
    "key": {"type": "string", "optional": 1},
    "url": {"type": "string", "optional": 1},
    "digits": {"type": "integer", "minimum": 6, "maximum": 8, "optional": 1},
    "step": {"type": "integer", "minimum": 10, "optional": 1},
}
SYNC_OPTIONS_FORMAT: propstr.Format = {
    "scope": {"type": "string", "enum": ["users", "groups", "both"], "optional": 1},
    "remove-vanished": {"type": "string", "optional": 1},
    "enable-new": {"type": "boolean", "optional": 1},
    "full": {"type": "boolean", "optional": 1},
    "purge": {"type": "boolean", "optional": 1},
}
LDAP_ATTR_RE = r"\w[\w-]*"

PROPERTIES: dict[str, S] = {
    "comment": {**_STR, "maxLength": 4096},
    "default": dict(_BOOL),
    "tfa": {**_STR, "format": "pve-tfa-config", "maxLength": 128},
    # directory servers (ldap, ad)
    "server1": {**_STR, "format": "address", "maxLength": 256},
    "server2": {**_STR, "format": "address", "maxLength": 256},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "optional": 1},
    "secure": dict(_BOOL),
    "mode": {**_STR, "enum": ["ldap", "ldaps", "ldap+starttls"], "default": "ldap"},
    "sslversion": {**_STR, "enum": ["tlsv1", "tlsv1_1", "tlsv1_2", "tlsv1_3"]},
    "verify": {**_BOOL, "default": 0},
    "capath": {**_STR, "default": "/etc/ssl/certs"},
    "cert": dict(_STR),
    "certkey": dict(_STR),
    "base_dn": {**_STR, "maxLength": 256},
    "bind_dn": {**_STR, "maxLength": 256},
    "password": dict(_STR),
    "user_attr": {**_STR, "maxLength": 256, "pattern": "\\S{2,}"},
    "domain": {**_STR, "maxLength": 256, "pattern": "\\S+"},
    "filter": {**_STR, "maxLength": 2048},
    "user_classes": {
        **_STR,
        "format": "ldap-simple-attr-list",
        "default": "inetorgperson, posixaccount, person, user",
    },
    "group_classes": {
        **_STR,
        "format": "ldap-simple-attr-list",
        "default": "groupOfNames, group, univentionGroup, ipausergroup",
    },
    "group_dn": {**_STR, "maxLength": 256},
    "group_filter": {**_STR, "maxLength": 2048},
    "group_name_attr": {**_STR, "format": "ldap-simple-attr", "maxLength": 256},
    "sync_attributes": {**_STR, "pattern": "\\w+=[^,]+(,\\s*\\w+=[^,]+)*"},
    "sync-defaults-options": {**_STR, "format": "realm-sync-options"},
    "case-sensitive": {**_BOOL, "default": 1},
    "check-connection": {**_BOOL, "default": 0},
    # OpenID Connect
    "issuer-url": {**_STR, "maxLength": 256},
    "client-id": {**_STR, "maxLength": 256},
    "client-key": {**_STR, "maxLength": 256},
    "autocreate": {**_BOOL, "default": 0},
    "username-claim": dict(_STR),
    "scopes": {**_STR, "default": "email profile"},
    "prompt": {**_STR, "pattern": "(?:none|login|consent|select_account|\\S+)"},
    "acr-values": {**_STR, "pattern": '^[^\\x00-\\x1F\\x7F <>#"]*$'},
    "groups-claim": {**_STR, "maxLength": 256, "pattern": "(?^:[A-Za-z0-9\\.\\-_]+)"},
    "groups-autocreate": {**_BOOL, "default": 0},
    "groups-overwrite": {**_BOOL, "default": 0},
    "query-userinfo": {**_BOOL, "default": 1},
}
# options only settable at creation are not parameters of the update call
CREATE_ONLY = frozenset({"username-claim"})
UPDATE_PROPERTIES: dict[str, S] = {k: v for k, v in PROPERTIES.items() if k not in CREATE_ONLY}
REALM_TYPES_WIRE = ("ad", "ldap", "openid", "pam", "pve")
# options valid for every type
COMMON_OPTIONS = ("comment", "default", "tfa")


def _check_tfa(value: str) -> str:
    propstr.parse(TFA_FORMAT, value)
    return value


def _check_sync_options(value: str) -> str:
    propstr.parse(SYNC_OPTIONS_FORMAT, value)
    return value


def _check_ldap_attr(value: str) -> str:
    if not re.fullmatch(LDAP_ATTR_RE, value):
        raise ValueError(f"invalid LDAP attribute name '{value}'")
    return value


formats.register("pve-tfa-config")(_check_tfa)
formats.register("realm-sync-options")(_check_sync_options)
formats.register("ldap-simple-attr")(_check_ldap_attr)


# -- the registry ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """How a type uses one option of ``PROPERTIES``.

    ``fixed`` options can only be set at creation; ``secret`` ones are stored outside
    ``domains.cfg``; ``transient`` ones (``check-connection``) steer the request and are
    never stored.
    """

    optional: bool = True
    fixed: bool = False
    secret: bool = False
    transient: bool = False


# (svc, realm, config, userid, password) -> password valid?
AuthenticateFn = Callable[["Services", str, Mapping[str, Any], str, str], Awaitable[bool]]
# (svc, realm, full new config incl. secrets and transient keys, create?) -> None or raise
ValidateFn = Callable[["Services", str, Mapping[str, Any], bool], Awaitable[None]]


@dataclass(frozen=True)
class RealmType:
    """A kind of realm: its options and behaviour.

    ``singleton`` types have exactly one realm whose id equals the type name (``pam``,
    ``pve``); they are created automatically and cannot be created or deleted through
    the API.  ``authenticate`` checks a password (None: the type has no password login,
    as ``openid``); ``validate`` may refuse a configuration beyond per-option checks.
    """

    name: str
    options: Mapping[str, Option]
    singleton: bool = False
    authenticate: AuthenticateFn | None = None
    validate: ValidateFn | None = None
    description: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)


class UnknownRealmType(ParamError):
    """A realm type that no module registered."""

    def __init__(self, name: str) -> None:
        super().__init__({"type": f"unknown realm type '{name}'"})
        self.name = name


REALM_TYPES: dict[str, RealmType] = {}


def register_type(rtype: RealmType) -> RealmType:
    """Add (or replace) a realm type; every option must be declared in ``PROPERTIES``."""
    if rtype.name not in REALM_TYPES_WIRE:
        raise ValueError(f"realm type '{rtype.name}' is not part of the API")
    unknown = sorted(set(rtype.options) - set(PROPERTIES))
    if unknown:
        raise ValueError(f"realm type '{rtype.name}': options {unknown} not in PROPERTIES")
    REALM_TYPES[rtype.name] = rtype
    return rtype


def realm_type(name: str) -> RealmType:
    rtype = REALM_TYPES.get(name)
    if rtype is None:
        raise UnknownRealmType(name)
    return rtype


def common_options(**extra: Option) -> dict[str, Option]:
    """The options every type accepts, plus ``extra``."""
    return {**{key: Option() for key in COMMON_OPTIONS}, **extra}


async def _auth_local(
    svc: Services, realm: str, config: Mapping[str, Any], userid: str, password: str
) -> bool:
    return svc.access.check_password(userid, password)


register_type(
    RealmType(
        "pam",
        common_options(),
        singleton=True,
        authenticate=_auth_local,
        description="Linux PAM standard authentication",
    )
)
register_type(
    RealmType(
        "pve",
        common_options(),
        singleton=True,
        authenticate=_auth_local,
        description="Pyxis authentication server",
    )
)


# -- domains.cfg -------------------------------------------------------------------------------


def parse_domains(text: str, *, warnings: list[str] | None = None) -> SectionConfig:
    """Parse ``domains.cfg`` leniently: bad sections and keys are dropped (with a warning)."""
    raw = sectioncfg.parse(text)
    cfg = SectionConfig(digest=raw.digest)
    for realm, data in raw.sections():
        stype = str(data["type"])
        rtype = REALM_TYPES.get(stype)
        if not formats.REALM_RE.match(realm):
            _warn(warnings, f"ignoring realm with invalid id '{realm}'")
            continue
        if rtype is None:
            # kept verbatim: a type whose module is not loaded must not lose its config
            _warn(warnings, f"realm '{realm}': unknown type '{stype}', kept unchecked")
            cfg.add(realm, dict(data))
            continue
        if rtype.singleton and realm != stype:
            _warn(warnings, f"ignoring realm '{realm}': type '{stype}' must be named '{stype}'")
            continue
        typed: S = {"type": stype}
        for key, value in data.items():
            if key == "type":
                continue
            try:
                typed[key] = _check_option(rtype, key, value, lenient=True)
            except ValueError as err:
                _warn(warnings, f"realm '{realm}': dropping '{key}': {err}")
        cfg.add(realm, typed)
    for name in ("pve", "pam"):
        if name not in cfg.ids:
            cfg.add(name, {"type": name, "comment": REALM_TYPES[name].description})
            cfg.order.insert(0, cfg.order.pop())
    return cfg


def render_domains(cfg: SectionConfig) -> str:
    return sectioncfg.render(cfg)


def _warn(warnings: list[str] | None, msg: str) -> None:
    if warnings is not None:
        warnings.append(msg)


def _check_option(rtype: RealmType, key: str, value: Any, *, lenient: bool = False) -> Any:
    opt = rtype.options.get(key)
    if opt is None:
        raise ValueError(f"unexpected property for realm type '{rtype.name}'")
    if opt.transient or opt.secret:
        raise ValueError("not stored in domains.cfg")
    return check_scalar(PROPERTIES[key], value, lenient_bool=lenient)


def realm_record(realm: str, data: Mapping[str, Any]) -> S:
    """A realm as ``GET /access/domains`` lists it."""
    out: S = {"realm": realm, "type": data["type"]}
    if data.get("comment"):
        out["comment"] = data["comment"]
    if data.get("tfa"):
        out["tfa"] = str(propstr.parse(TFA_FORMAT, str(data["tfa"]))["type"])
    return out


class RealmError(PyxisError):
    """A realm's backend refused or failed (500)."""
