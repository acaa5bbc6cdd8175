"""``domains.cfg`` and realm secrets in the config store, and password checks by realm.

``RealmStore`` caches the parsed file by store version, applies edits as a
read-modify-write conditional on the digest of what was read (plus an optional
``digest`` the client sent), and keeps secret options in ``priv/realm/<realm>.pw``
(the ``password`` option, as upstream) or ``priv/realm/<realm>.<option>``.
The edit functions (``create_realm``, ``update_realm``, ``delete_realm``) apply one API
request to a parsed file and raise ``ParamError`` with upstream-like messages.
``authenticate`` looks a user's realm up and asks that realm type's hook; login code
calls it instead of branching on realm names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pyxis.access import realms
from pyxis.errors import Conflict, ParamError
from pyxis.schema.sectioncfg import SectionConfig
from pyxis.store.base import digest

if TYPE_CHECKING:
    from pyxis.services import Services

S = dict[str, Any]
DOMAINS_CFG = "domains.cfg"
SECRET_DIR = "priv/realm"  # noqa: S105 - a directory name


def secret_path(realm: str, option: str) -> str:
    suffix = "pw" if option == "password" else option
    return f"{SECRET_DIR}/{realm}.{suffix}"


@dataclass
class Edit:
    """The outcome of applying a request: secrets to store (None = delete) and transients."""

    secrets: dict[str, str | None] = field(default_factory=dict)
    transient: dict[str, Any] = field(default_factory=dict)


def _split(rtype: realms.RealmType, params: Mapping[str, Any], edit: Edit) -> S:
    """Check request options against the type; secrets and transients go to ``edit``."""
    errors: dict[str, str] = {}
    stored: S = {}
    for key, value in params.items():
        opt = rtype.options.get(key)
        if opt is None:
            errors[key] = f"unexpected property for realm type '{rtype.name}'"
        elif opt.secret:
            edit.secrets[key] = str(value)
        elif opt.transient:
            edit.transient[key] = value
        else:
            stored[key] = value
    if errors:
        raise ParamError(errors)
    return stored


def _clear_other_defaults(cfg: SectionConfig, realm: str, data: S) -> None:
    if data.get("default"):
        for other, odata in cfg.ids.items():
            if other != realm:
                odata.pop("default", None)
    else:
        data.pop("default", None)


def create_realm(cfg: SectionConfig, realm: str, stype: str, params: Mapping[str, Any]) -> Edit:
    """Add realm ``realm`` of type ``stype`` with options ``params`` (validated already)."""
    rtype = realms.realm_type(stype)
    if realm in cfg.ids:
        raise ParamError.one("realm", f"domain '{realm}' already exists")
    if rtype.singleton:
        raise ParamError.one("type", f"cannot create another realm of type '{stype}'")
    edit = Edit()
    data = _split(rtype, params, edit)
    missing = {
        key: "property is missing and it is not optional"
        for key, opt in rtype.options.items()
        if not opt.optional and key not in data and key not in edit.secrets
    }
    if missing:
        raise ParamError(missing)
    _clear_other_defaults(cfg, realm, data)
    cfg.add(realm, {"type": stype, **data})
    return edit


def update_realm(
    cfg: SectionConfig, realm: str, params: Mapping[str, Any], delete: list[str]
) -> Edit:
    """Change options of ``realm``; ``delete`` lists options to remove."""
    data = cfg.ids.get(realm)
    if data is None:
        raise ParamError.one("realm", f"domain '{realm}' does not exist")
    rtype = realms.realm_type(str(data["type"]))
    edit = Edit()
    changes = _split(rtype, params, edit)
    errors: dict[str, str] = {}
    for key in delete:
        opt = rtype.options.get(key)
        if opt is None:
            errors[key] = f"unexpected property for realm type '{rtype.name}'"
        elif not opt.optional or opt.fixed:
            errors[key] = f"cannot delete required or fixed option '{key}'"
        elif key in changes or key in edit.secrets:
            errors[key] = f"cannot set and delete '{key}' at the same time"
        elif opt.secret:
            edit.secrets[key] = None
        else:
            data.pop(key, None)
    for key in changes:
        if rtype.options[key].fixed:
            errors[key] = f"can't change value of fixed parameter '{key}'"
    if errors:
        raise ParamError(errors)
    data.update(changes)
    if "default" in changes:
        _clear_other_defaults(cfg, realm, data)
    return edit


def delete_realm(cfg: SectionConfig, realm: str) -> None:
    data = cfg.ids.get(realm)
    if data is None:
        raise ParamError.one("realm", f"domain '{realm}' does not exist")
    if realms.realm_type(str(data["type"])).singleton:
        raise ParamError.one("realm", f"cannot remove the built-in realm '{realm}'")
    cfg.remove(realm)


class RealmStore:
    """Realm configuration of the cluster (one per ``Services``)."""

    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._cached: tuple[int, SectionConfig] | None = None

    def config(self) -> SectionConfig:
        """The parsed ``domains.cfg`` (``pam`` and ``pve`` always present); do not mutate."""
        entry = self.svc.store.get(DOMAINS_CFG)
        version = entry.version if entry else 0
        if self._cached is None or self._cached[0] != version:
            text = entry.data.decode() if entry else ""
            self._cached = (version, realms.parse_domains(text))
        return self._cached[1]

    def get(self, realm: str) -> dict[str, Any] | None:
        data = self.config().ids.get(realm)
        return None if data is None else dict(data)

    def exists(self, realm: str) -> bool:
        return realm in self.config().ids

    def secret(self, realm: str, option: str) -> str | None:
        raw = self.svc.store.read(secret_path(realm, option))
        return None if raw is None else raw.decode().strip()

    async def modify(
        self,
        change: Callable[[SectionConfig], Edit | None],
        *,
        expect: str | None = None,
    ) -> Edit:
        """Apply ``change`` to a fresh parse and write the file back conditionally.

        ``expect`` is the digest a client read earlier (``digest`` parameter).
        """
        store = self.svc.store
        entry = store.get(DOMAINS_CFG)
        raw = entry.data if entry else b""
        cfg = realms.parse_domains(raw.decode())
        if expect and expect != cfg.digest:
            raise Conflict("detected modified configuration - file changed by other user?")
        edit = change(cfg) or Edit()
        await store.write(
            DOMAINS_CFG,
            realms.render_domains(cfg).encode(),
            expect_digest=digest(raw) if entry else None,
            writer=self.svc.node,
        )
        return edit

    async def store_secrets(self, realm: str, secrets: dict[str, str | None]) -> None:
        for option, value in secrets.items():
            path = secret_path(realm, option)
            if value is None:
                if self.svc.store.get(path) is not None:
                    await self.svc.store.delete(path)
            else:
                await self.svc.store.write(path, value.encode() + b"\n", writer=self.svc.node)

    async def drop_secrets(self, realm: str) -> None:
        """Remove every secret of a deleted realm."""
        prefix = f"{realm}."
        for name in self.svc.store.listdir(SECRET_DIR):
            if name.startswith(prefix):
                await self.svc.store.delete(f"{SECRET_DIR}/{name}")

    async def authenticate(self, userid: str, password: str) -> bool:
        """Check a password with the hook of the user's realm type (False if none)."""
        realm = userid.rpartition("@")[2]
        data = self.get(realm)
        if data is None:
            return False
        try:
            rtype = realms.realm_type(str(data["type"]))
        except ParamError:
            return False
        if rtype.authenticate is None:
            return False
        return await rtype.authenticate(self.svc, realm, data, userid, password)
