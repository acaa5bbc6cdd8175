"""LDAP and Active Directory realms: password check by bind, directory reads for sync.

A password is checked the way upstream does: with ``bind_dn`` configured (its password
in ``priv/realm/<realm>.pw``) the user's DN is searched under ``base_dn`` by
``user_attr`` (and ``filter``), otherwise it is built as ``<user_attr>=<user>,<base_dn>``;
then the user's own bind must succeed.  AD binds as ``<user>@<domain>``.  An empty
password never reaches the server (an empty simple bind is an anonymous bind).
``ldap3`` is synchronous, so every directory round trip runs in a worker thread.
Both types register themselves in the realm registry on import.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn

from pyxis.access import realms
from pyxis.access.realms import Option, RealmError, RealmType

if TYPE_CHECKING:
    from pyxis.services import Services

TIMEOUT = 10
DEFAULT_USER_CLASSES = "inetorgperson, posixaccount, person, user"
DEFAULT_GROUP_CLASSES = "groupOfNames, group, univentionGroup, ipausergroup"
USER_FIELDS = ("firstname", "lastname", "email", "comment", "keys", "enable", "expire")


@dataclass
class DirUser:
    """A user as the directory returned it: name, DN and mapped user.cfg fields."""

    name: str
    dn: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class DirGroup:
    name: str
    member_dns: list[str] = field(default_factory=list)


def _classes_filter(classes: str) -> str:
    names = [c for c in re.split(r"[,\s]+", classes) if c]
    return "(|" + "".join(f"(objectclass={escape_filter_chars(c)})" for c in names) + ")"


def _wrap(extra: str | None) -> str:
    if not extra:
        return ""
    return extra if extra.startswith("(") else f"({extra})"


class Directory:
    """One realm's directory: connection settings plus the few operations Pyxis needs."""

    def __init__(self, realm: str, cfg: Mapping[str, Any], bind_password: str | None) -> None:
        self.realm = realm
        self.cfg = cfg
        self.is_ad = cfg.get("type") == "ad"
        self.bind_password = bind_password
        self.user_attr = str(cfg.get("user_attr") or ("sAMAccountName" if self.is_ad else "uid"))

    def _servers(self) -> list[ldap3.Server]:
        mode = str(self.cfg.get("mode") or ("ldaps" if self.cfg.get("secure") else "ldap"))
        tls = None
        if mode != "ldap":
            verify = ssl.CERT_REQUIRED if self.cfg.get("verify") else ssl.CERT_NONE
            tls = ldap3.Tls(validate=verify, ca_certs_path=self.cfg.get("capath"))
        port = self.cfg.get("port") or (636 if mode == "ldaps" else 389)
        hosts = [self.cfg.get("server1"), self.cfg.get("server2")]
        return [
            ldap3.Server(
                str(h),
                port=int(port),
                use_ssl=mode == "ldaps",
                tls=tls,
                get_info=ldap3.NONE,
                connect_timeout=TIMEOUT,
            )
            for h in hosts
            if h
        ]

    def _connect(self, user: str | None, password: str | None) -> ldap3.Connection:
        """A bound connection (the first server that answers); RealmError if none does."""
        starttls = self.cfg.get("mode") == "ldap+starttls"
        last: Exception | None = None
        for server in self._servers():
            conn = ldap3.Connection(
                server,
                user=user,
                password=password,
                receive_timeout=TIMEOUT,
                raise_exceptions=False,
                read_only=True,
            )
            try:
                conn.open()
                if starttls:
                    conn.start_tls()
            except LDAPException as err:
                last = err
                continue
            if not conn.bind():
                conn.unbind()
                raise PermissionError(conn.result.get("description", "bind failed"))
            return conn
        raise RealmError(f"LDAP connection to realm '{self.realm}' failed: {last}")

    def _service_conn(self) -> ldap3.Connection:
        bind_dn = self.cfg.get("bind_dn")
        try:
            return self._connect(str(bind_dn) if bind_dn else None, self.bind_password)
        except PermissionError as err:
            raise RealmError(f"LDAP bind as '{bind_dn}' failed: {err}") from err

    def _user_filter(self, username: str | None = None) -> str:
        classes = _classes_filter(str(self.cfg.get("user_classes") or DEFAULT_USER_CLASSES))
        who = f"({self.user_attr}={escape_filter_chars(username)})" if username else ""
        return f"(&{classes}{who}{_wrap(self.cfg.get('filter'))})"

    def _user_dn(self, username: str) -> str | None:
        if self.is_ad and not self.cfg.get("bind_dn"):
            return f"{username}@{self.cfg['domain']}"
        if not self.cfg.get("bind_dn"):
            return f"{self.user_attr}={escape_rdn(username)},{self.cfg['base_dn']}"
        conn = self._service_conn()
        try:
            conn.search(str(self.cfg["base_dn"]), self._user_filter(username), attributes=[])
            entries = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
            return str(entries[0]["dn"]) if len(entries) == 1 else None
        finally:
            conn.unbind()

    def check_password(self, username: str, password: str) -> bool:
        if not password:
            return False
        dn = self._user_dn(username)
        if dn is None:
            return False
        try:
            conn = self._connect(dn, password)
        except PermissionError:
            return False
        conn.unbind()
        return True

    def _search(self, conn: ldap3.Connection, base: str, flt: str, attrs: list[str]) -> list[Any]:
        entries = conn.extend.standard.paged_search(
            base, flt, attributes=attrs, paged_size=500, generator=False
        )
        return [e for e in entries or [] if e.get("type") == "searchResEntry"]

    def fetch(self, *, groups: bool) -> tuple[list[DirUser], list[DirGroup]]:
        """All users (and, if asked, groups) of the directory."""
        mapping = {f: f for f in ("firstname", "lastname", "email", "comment", "keys")}
        for pair in str(self.cfg.get("sync_attributes") or "").split(","):
            key, sep, attr = pair.strip().partition("=")
            if sep:
                mapping[key.strip()] = attr.strip()
        conn = self._service_conn()
        try:
            users: list[DirUser] = []
            attrs = [self.user_attr, *mapping.values()]
            for e in self._search(conn, str(self.cfg["base_dn"]), self._user_filter(), attrs):
                raw = {k.lower(): v for k, v in (e.get("attributes") or {}).items()}
                name = _first(raw.get(self.user_attr.lower()))
                if not name:
                    continue
                fields = {f: _first(raw.get(a.lower())) for f, a in mapping.items()}
                users.append(DirUser(name, str(e["dn"]), {k: v for k, v in fields.items() if v}))
            found: list[DirGroup] = []
            if groups:
                found = self._groups(conn)
        finally:
            conn.unbind()
        return users, found

    def _groups(self, conn: ldap3.Connection) -> list[DirGroup]:
        name_attr = str(self.cfg.get("group_name_attr") or "cn")
        classes = _classes_filter(str(self.cfg.get("group_classes") or DEFAULT_GROUP_CLASSES))
        flt = f"(&{classes}{_wrap(self.cfg.get('group_filter'))})"
        base = str(self.cfg.get("group_dn") or self.cfg["base_dn"])
        out = []
        for e in self._search(conn, base, flt, [name_attr, "member", "uniqueMember"]):
            raw = {k.lower(): v for k, v in (e.get("attributes") or {}).items()}
            name = _first(raw.get(name_attr.lower()))
            if name:
                members = [*_all(raw.get("member")), *_all(raw.get("uniquemember"))]
                out.append(DirGroup(name, members))
        return out


def _all(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _first(value: Any) -> str:
    items = _all(value)
    return items[0] if items else ""


def directory(svc: Services, realm: str) -> Directory:
    cfg = svc.realms.get(realm)
    if cfg is None or cfg.get("type") not in ("ldap", "ad"):
        raise RealmError(f"realm '{realm}' is not an LDAP or AD realm", status=400)
    return Directory(realm, cfg, svc.realms.secret(realm, "password"))


async def _authenticate(
    svc: Services, realm: str, config: Mapping[str, Any], userid: str, password: str
) -> bool:
    username = userid.rpartition("@")[0]
    dirobj = Directory(realm, config, svc.realms.secret(realm, "password"))
    try:
        return await asyncio.to_thread(dirobj.check_password, username, password)
    except (RealmError, LDAPException):
        return False


async def _validate(svc: Services, realm: str, config: Mapping[str, Any], create: bool) -> None:
    if not config.get("check-connection"):
        return
    dirobj = Directory(realm, {k: v for k, v in config.items()}, config.get("password"))
    conn = await asyncio.to_thread(dirobj._service_conn)
    conn.unbind()


_SERVER = {
    **{k: Option() for k in ("server2", "port", "secure", "sslversion", "verify", "capath")},
    **{k: Option() for k in ("cert", "certkey", "bind_dn", "filter", "sync_attributes")},
    **{k: Option() for k in ("user_classes", "group_dn", "group_filter", "group_classes")},
    **{k: Option() for k in ("group_name_attr", "mode", "sync-defaults-options")},
    "case-sensitive": Option(),
    "server1": Option(optional=False),
    "password": Option(secret=True),
    "check-connection": Option(transient=True),
}
realms.register_type(
    RealmType(
        "ldap",
        realms.common_options(
            **_SERVER, base_dn=Option(optional=False), user_attr=Option(optional=False)
        ),
        authenticate=_authenticate,
        validate=_validate,
        description="LDAP server",
    )
)
realms.register_type(
    RealmType(
        "ad",
        realms.common_options(
            **_SERVER, domain=Option(optional=False), base_dn=Option(), user_attr=Option()
        ),
        authenticate=_authenticate,
        validate=_validate,
        description="Active Directory server",
    )
)
