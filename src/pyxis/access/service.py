"""Access control of one node, over the config store.

Keeps parsed ``user.cfg`` and the permission engine cached by store version; signs and
verifies tickets with the key pair kept in the store (``priv/authkey.key``,
``authkey.pub``, previous key in ``authkey.pub.old``, rotated every 24 h); checks CSRF
tokens, API tokens and passwords (``pam`` realm via the host's shadow file, ``pve``
realm via ``priv/shadow.cfg``).  Every change to ``user.cfg`` is a read-modify-write
conditional on the digest of what was read.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from pyxis.access import passwords, realm_ldap, realm_openid, tickets
from pyxis.access.perms import Permissions
from pyxis.access.tfa.manager import TfaManager
from pyxis.access.usercfg import (
    User,
    UserCfg,
    parse_shadow_cfg,
    parse_token_cfg,
    parse_user_cfg,
    render_shadow_cfg,
    render_token_cfg,
    render_user_cfg,
)
from pyxis.errors import AuthError, ParamError
from pyxis.store.base import ConfigStore, digest

if TYPE_CHECKING:
    from pyxis.services import Services

USER_CFG = "user.cfg"
SHADOW_CFG = "priv/shadow.cfg"
TOKEN_CFG = "priv/token.cfg"  # noqa: S105 - a file name
AUTHKEY = "priv/authkey.key"
AUTHPUB = "authkey.pub"
AUTHPUB_OLD = "authkey.pub.old"
WWW_KEY = "pve-www.key"
DOMAINS_CFG = "domains.cfg"
# a half ticket only lives long enough to fetch a code or touch a key
TFA_TICKET_LIFETIME = 300
# importing registers the ldap, ad and openid realm types
_REALM_MODULES = (realm_ldap, realm_openid)
DEFAULT_USER_CFG = "user:root@pam:1:0:::root@localhost::\n"
DEFAULT_DOMAINS = (
    "pam: pam\n\tcomment Linux PAM standard authentication\n\n"
    "pve: pve\n\tcomment Pyxis authentication server\n\tdefault 0\n"
)


class AccessService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._cfg: tuple[int, UserCfg, Permissions] | None = None
        self._signer: tuple[tuple[int, int], tickets.TicketSigner] | None = None
        self._csrf: tuple[int, bytes] | None = None
        self.clock: Callable[[], float] = time.time
        self.tfa = TfaManager(svc, lambda: self.clock())

    @property
    def store(self) -> ConfigStore:
        """The node's current store (replaced when the node enters cluster mode)."""
        return self.svc.store

    # --- bootstrap ----------------------------------------------------------
    async def bootstrap(self) -> None:
        w = self.svc.node
        if self.store.get(USER_CFG) is None:
            await self.store.write(USER_CFG, DEFAULT_USER_CFG.encode(), writer=w)
        if self.store.get(DOMAINS_CFG) is None:
            await self.store.write(DOMAINS_CFG, DEFAULT_DOMAINS.encode(), writer=w)
        if self.store.get(WWW_KEY) is None:
            await self.store.write(WWW_KEY, secrets.token_hex(64).encode() + b"\n", writer=w)
        if self.store.get(AUTHKEY) is None or self.store.get(AUTHPUB) is None:
            priv, pub = tickets.generate_keypair()
            await self.store.write(AUTHKEY, priv, writer=w)
            await self.store.write(AUTHPUB, pub, writer=w)
        await self.rotate_key_if_due()

    async def rotate_key_if_due(self) -> bool:
        """Rotate the ticket key pair once it is 24 h old; the old public key stays valid."""
        pub = self.store.get(AUTHPUB)
        now = int(self.clock())
        if pub is None or not tickets.needs_rotation(pub.mtime, now):
            return False
        await self.rotate_key()
        return True

    async def rotate_key(self) -> None:
        holder = f"{self.svc.node}:authkey"
        await self.store.lock("authkey", holder)
        try:
            old = self.store.read(AUTHPUB)
            priv, pub = tickets.generate_keypair()
            if old is not None:
                await self.store.write(AUTHPUB_OLD, old, writer=self.svc.node)
            await self.store.write(AUTHKEY, priv, writer=self.svc.node)
            await self.store.write(AUTHPUB, pub, writer=self.svc.node)
        finally:
            await self.store.unlock("authkey", holder)

    # --- cached views -------------------------------------------------------
    def cfg(self) -> UserCfg:
        return self._load()[0]

    def perms(self) -> Permissions:
        return self._load()[1]

    def _load(self) -> tuple[UserCfg, Permissions]:
        entry = self.store.get(USER_CFG)
        version = entry.version if entry else 0
        if self._cfg is None or self._cfg[0] != version:
            cfg = parse_user_cfg(entry.data.decode() if entry else DEFAULT_USER_CFG)
            self._cfg = (version, cfg, Permissions(cfg, clock=self.clock))
        return self._cfg[1], self._cfg[2]

    def signer(self) -> tickets.TicketSigner:
        priv, pub, old = (
            self.store.get(AUTHKEY),
            self.store.get(AUTHPUB),
            self.store.get(AUTHPUB_OLD),
        )
        if priv is None or pub is None:
            raise AuthError("authentication key missing")
        key = (pub.version, old.version if old else 0)
        if self._signer is None or self._signer[0] != key:
            signer = tickets.TicketSigner(
                priv.data,
                pub.data,
                old.data if old else None,
                pub_mtime=pub.mtime,
                prev_mtime=pub.mtime if old else None,
            )
            self._signer = (key, signer)
        return self._signer[1]

    def _csrf_secret(self) -> bytes:
        entry = self.store.get(WWW_KEY)
        if entry is None:
            raise AuthError("CSRF key missing")
        if self._csrf is None or self._csrf[0] != entry.version:
            self._csrf = (entry.version, tickets.csrf_secret(entry.data))
        return self._csrf[1]

    # --- authentication -----------------------------------------------------
    def authenticate_ticket(self, ticket: str) -> str:
        now = int(self.clock())
        userid, _age = self.signer().verify_ticket(ticket, now)
        if userid != "root@pam" and not self.cfg().user_enabled(userid, now):
            raise AuthError("user account disabled or expired")
        return userid

    def authenticate_token(self, header: str) -> str:
        tokenid, secret = tickets.parse_token_header(header)
        now = int(self.clock())
        expected = parse_token_cfg(self.store.read_text(TOKEN_CFG)).get(tokenid)
        if expected is None or not tickets.token_secret_matches(expected, secret):
            raise AuthError("invalid token value")
        if not self.cfg().token_valid(tokenid, now):
            raise AuthError("API token expired, disabled or unknown")
        return tokenid

    def verify_csrf(self, token: str, userid: str) -> bool:
        return tickets.verify_csrf(token, userid, self._csrf_secret(), int(self.clock()))

    def make_csrf(self, userid: str) -> str:
        return tickets.create_csrf(userid, self._csrf_secret(), int(self.clock()))

    def check_password(self, userid: str, password: str) -> bool:
        user, _, realm = userid.rpartition("@")
        if realm == "pam":
            if userid != "root@pam" and userid not in self.cfg().users:
                return False
            return passwords.verify_pam(user, password)
        if realm == "pve":
            stored = parse_shadow_cfg(self.store.read_text(SHADOW_CFG)).get(userid)
            return stored is not None and passwords.verify_password(password, stored)
        return False

    async def authenticate_user(self, userid: str, password: str) -> bool:
        """Check a password with the hook of the user's realm type (pam, pve, ldap, ...)."""
        if userid.rpartition("@")[2] in ("pam", "pve"):
            return self.check_password(userid, password)
        return await self.svc.realms.authenticate(userid, password)

    def realm_enforces_tfa(self, userid: str) -> bool:
        realm_cfg = self.svc.realms.get(userid.rpartition("@")[2])
        return bool(realm_cfg and realm_cfg.get("tfa"))

    def grant_ticket(self, userid: str) -> dict[str, Any]:
        """A full login: ticket, CSRF token and capabilities of ``userid``."""
        return {
            "username": userid,
            "ticket": self.signer().create_ticket(userid, int(self.clock())),
            "CSRFPreventionToken": self.make_csrf(userid),
            "cap": self.perms().compute_cap(userid),
        }

    async def login(
        self,
        username: str,
        password: str,
        realm: str | None,
        *,
        otp: str | None = None,
        tfa_challenge: str | None = None,
    ) -> dict[str, Any]:
        """Issue a ticket for valid credentials or a valid ticket (renewal).

        A user with second factors (or in a realm enforcing TFA) first gets a half
        ticket (``NeedTFA``) whose signed data is the challenge, bound to the userid;
        the second call passes it as ``tfa_challenge`` with ``<type>:<response>`` as
        the password.  A half ticket is only ever issued after the password checked out.
        """
        userid = username if "@" in username or not realm else f"{username}@{realm}"
        if "@" not in userid:
            raise AuthError("authentication failure")
        await self.rotate_key_if_due()
        now = int(self.clock())
        if tfa_challenge is not None:
            return await self._finish_tfa(userid, tfa_challenge, password, now)
        renewal = False
        if password.startswith("PVE:"):
            try:
                renewal = self.authenticate_ticket(password) == userid
            except AuthError:
                renewal = False
        ok = renewal or await self.authenticate_user(userid, password)
        if not ok or (userid != "root@pam" and not self.cfg().user_enabled(userid, now)):
            raise AuthError("authentication failure")
        if not renewal:
            challenge = await self.tfa.login_challenge(userid, self.realm_enforces_tfa(userid))
            if challenge is not None:
                if otp is None:
                    data = quote(json.dumps(challenge, separators=(",", ":")), safe="")
                    half = self.signer().create_tfa_ticket(data, userid, now)
                    return {"username": userid, "ticket": half, "NeedTFA": 1}
                if not await self.tfa.verify_response(userid, challenge, f"totp:{otp}"):
                    raise AuthError("authentication failure")
        return self.grant_ticket(userid)

    async def _finish_tfa(self, userid: str, half: str, response: str, now: int) -> dict[str, Any]:
        try:
            data, _age = self.signer().verify_data(
                half, now, aad=userid, max_age=TFA_TICKET_LIFETIME
            )
        except AuthError as err:
            raise AuthError("authentication failure") from err
        if data is None or not data.startswith(tickets.TFA_MARK):
            raise AuthError("authentication failure")
        try:
            # verify_data already undid the URI escaping of the data part
            challenge = json.loads(data[len(tickets.TFA_MARK) :])
        except ValueError as err:
            raise AuthError("authentication failure") from err
        if userid != "root@pam" and not self.cfg().user_enabled(userid, now):
            raise AuthError("authentication failure")
        if not isinstance(challenge, dict) or not await self.tfa.verify_response(
            userid, challenge, response
        ):
            raise AuthError("authentication failure")
        return self.grant_ticket(userid)

    # --- permission checks ----------------------------------------------------
    def evaluate(self, perm: dict[str, Any], authid: str, params: dict[str, Any]) -> bool:
        return self.perms().evaluate(perm, authid or None, params)

    def check(self, authid: str, path: str, privs: list[str], *, any_: bool = False) -> bool:
        return self.perms().check(authid, path, privs, any=any_)

    # --- modifications --------------------------------------------------------
    async def modify(self, change: Callable[[UserCfg], None]) -> None:
        """Apply ``change`` to a fresh parse of user.cfg and write it back conditionally."""
        entry = self.store.get(USER_CFG)
        raw = entry.data if entry else DEFAULT_USER_CFG.encode()
        cfg = parse_user_cfg(raw.decode())
        change(cfg)
        await self.store.write(
            USER_CFG,
            render_user_cfg(cfg).encode(),
            expect_digest=digest(raw) if entry else None,
            writer=self.svc.node,
        )

    async def set_password(self, userid: str, password: str) -> None:
        realm = userid.rpartition("@")[2]
        if realm != "pve":
            raise ParamError.one(
                "userid",
                f"cannot set the password of a '{realm}' realm user here (only realm 'pve')",
            )
        if userid not in self.cfg().users:
            raise ParamError.one("userid", f"no such user ('{userid}')")
        entry = self.store.get(SHADOW_CFG)
        raw = entry.data if entry else b""
        hashes = parse_shadow_cfg(raw.decode())
        hashes[userid] = passwords.hash_password(password)
        await self.store.write(
            SHADOW_CFG,
            render_shadow_cfg(hashes).encode(),
            expect_digest=digest(raw) if entry else None,
            writer=self.svc.node,
        )

    async def drop_secrets(self, userid: str, token: str | None = None) -> None:
        """Remove a user's password hash and token secrets (or one token's secret)."""
        if token is None:
            entry = self.store.get(SHADOW_CFG)
            if entry is not None:
                hashes = parse_shadow_cfg(entry.data.decode())
                if hashes.pop(userid, None) is not None:
                    await self.store.write(
                        SHADOW_CFG,
                        render_shadow_cfg(hashes).encode(),
                        expect_digest=digest(entry.data),
                        writer=self.svc.node,
                    )
        entry = self.store.get(TOKEN_CFG)
        if entry is not None:
            secrets_ = parse_token_cfg(entry.data.decode())
            prefix = f"{userid}!" if token is None else f"{userid}!{token}"
            keep = {
                k: v
                for k, v in secrets_.items()
                if not (k == prefix or (token is None and k.startswith(prefix)))
            }
            if keep != secrets_:
                await self.store.write(
                    TOKEN_CFG,
                    render_token_cfg(keep).encode(),
                    expect_digest=digest(entry.data),
                    writer=self.svc.node,
                )

    async def new_token_secret(self, full_tokenid: str) -> str:
        value = str(uuid.uuid4())
        entry = self.store.get(TOKEN_CFG)
        raw = entry.data if entry else b""
        secrets_ = parse_token_cfg(raw.decode())
        secrets_[full_tokenid] = value
        await self.store.write(
            TOKEN_CFG,
            render_token_cfg(secrets_).encode(),
            expect_digest=digest(raw) if entry else None,
            writer=self.svc.node,
        )
        return value


def user_record(userid: str, user: User) -> dict[str, Any]:
    """A user as the API shows it (list and get share this shape)."""
    out: dict[str, Any] = {"userid": userid, "enable": int(user.enable), "expire": user.expire}
    for key in ("firstname", "lastname", "email", "comment", "keys"):
        value = getattr(user, key)
        if value:
            out[key] = value
    return out
