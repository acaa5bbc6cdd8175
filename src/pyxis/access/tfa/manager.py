"""Second factors of users: enrolment, the login challenge and its verification.

``TfaManager`` is the one place that decides whether a login needs a second factor:
a user needs one when any of their entries is enabled or when their realm enforces
TFA (realm option ``tfa``); in the latter case a user without a usable factor cannot
log in at all, so disabling entries never turns TFA off for such a realm.  The
challenge is upstream's JSON (``{"totp": true, "recovery": [slots], "webauthn":
{"publicKey": ...}}``) and travels inside the signed half ticket; the answer is
``<type>:<response>`` and is checked against the current ``tfa.cfg``, so an entry
disabled after the challenge was issued no longer counts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pyxis.access.tfa import recovery, totp
from pyxis.access.tfa import webauthn as wa
from pyxis.access.tfa.store import (
    Cfg,
    StateFile,
    TfaStore,
    add_entry,
    enabled,
    user_data,
)
from pyxis.errors import AuthError, ParamError
from pyxis.schema import propstr

if TYPE_CHECKING:
    from pyxis.services import Services

STATE_FILE = "priv/tfa-challenges.json"
CHALLENGE_LIFETIME = 120


class TfaManager:
    """TFA operations of one node over ``priv/tfa.cfg``."""

    def __init__(self, svc: Services, clock: Callable[[], float]) -> None:
        self.svc = svc
        self.clock = clock

    # the store object is replaced when the node enters cluster mode: never keep it
    @property
    def cfg(self) -> TfaStore:
        return TfaStore(self.svc.store, self.svc.node)

    @property
    def state(self) -> StateFile:
        return StateFile(self.svc.store, STATE_FILE, self.svc.node)

    def now(self) -> int:
        return int(self.clock())

    def relying_party(self) -> wa.RelyingParty:
        raw = self.svc.datacenter().get("webauthn")
        parsed = propstr.parse(wa.CONFIG_FORMAT, raw) if raw else None
        return wa.RelyingParty.from_config(parsed)

    # --- login ----------------------------------------------------------------
    async def login_challenge(self, userid: str, realm_enforces: bool) -> Cfg | None:
        """The challenge for ``userid``; None when no second factor is needed."""
        user = user_data(self.cfg.load(), userid)
        challenge: Cfg = {}
        if any(enabled(e) for e in user.get("totp", [])):
            challenge["totp"] = True
        creds = [e["entry"] for e in user.get("webauthn", []) if enabled(e)]
        if creds:
            options, raw = wa.authentication_options(self.relying_party(), creds)
            await self.state.put(
                f"auth:{userid}:{raw}", {"userid": userid}, self.now(), CHALLENGE_LIFETIME
            )
            challenge["webauthn"] = options
        rec = user.get("recovery")
        if rec and enabled(rec) and recovery.available(rec):
            challenge["recovery"] = recovery.available(rec)
        if not challenge:
            if realm_enforces:
                # upstream refuses such logins; the user must get a factor from an admin
                raise AuthError("authentication failure")
            return None
        return challenge

    async def verify_response(self, userid: str, challenge: Cfg, response: str) -> bool:
        """Check ``<type>:<value>`` against the challenge and the current entries."""
        kind, sep, value = response.partition(":")
        if not sep or not value:
            return False
        if kind == "totp" and challenge.get("totp"):
            return await self._use_totp(userid, value)
        if kind == "recovery" and challenge.get("recovery"):
            return await self._use_recovery(userid, value)
        if kind == "webauthn" and challenge.get("webauthn"):
            return await self._use_webauthn(userid, challenge["webauthn"], value)
        return False

    async def _use_totp(self, userid: str, code: str) -> bool:
        now = self.now()

        def change(cfg: Cfg) -> bool:
            for item in user_data(cfg, userid).get("totp", []):
                if not enabled(item):
                    continue
                step = totp.match_step(item["entry"], code, now, item.get("last-step"))
                if step is not None:
                    item["last-step"] = step
                    return True
            return False

        if not self._has(userid, "totp"):
            return False
        return await self.cfg.modify(change)

    async def _use_recovery(self, userid: str, key: str) -> bool:
        def change(cfg: Cfg) -> bool:
            rec: Cfg | None = user_data(cfg, userid).get("recovery")
            return rec is not None and enabled(rec) and recovery.consume(rec, key)

        if not self._has(userid, "recovery"):
            return False
        return await self.cfg.modify(change)

    async def _use_webauthn(self, userid: str, options: Cfg, response: str) -> bool:
        raw = str(options.get("publicKey", {}).get("challenge", ""))
        if await self.state.take(f"auth:{userid}:{raw}", self.now()) is None:
            return False
        creds = [
            e["entry"] for e in user_data(self.cfg.load(), userid).get("webauthn", []) if enabled(e)
        ]
        result = wa.verify_assertion(self.relying_party(), raw, creds, response)
        if result is None:
            return False
        cred_id, count = result

        def change(cfg: Cfg) -> None:
            for item in user_data(cfg, userid).get("webauthn", []):
                if item["entry"]["credential_id"] == cred_id:
                    item["entry"]["sign_count"] = count

        await self.cfg.modify(change)
        return True

    def _has(self, userid: str, kind: str) -> bool:
        return bool(user_data(self.cfg.load(), userid).get(kind))

    # --- enrolment --------------------------------------------------------------
    async def add(self, userid: str, kind: str, p: dict[str, Any]) -> Cfg:
        """``POST /access/tfa/{userid}``: returns ``{id, challenge?, recovery?}``."""
        description = str(p.get("description", ""))
        if kind == "totp":
            return {"id": await self._add_totp(userid, description, p)}
        if kind == "recovery":
            return await self._add_recovery(userid)
        if kind == "webauthn":
            if "challenge" not in p and "value" not in p:
                return await self._begin_webauthn(userid)
            return {"id": await self._finish_webauthn(userid, description, p)}
        raise ParamError.one("type", f"tfa type '{kind}' is not supported")

    async def _add_totp(self, userid: str, description: str, p: dict[str, Any]) -> str:
        uri, code = p.get("totp"), p.get("value")
        if not uri or not code:
            raise ParamError.one("totp", "'totp' and 'value' are required for type totp")
        now = self.now()
        step = totp.match_step(str(uri), str(code), now, None)
        if step is None:
            raise ParamError.one("value", "TOTP code does not match the secret")

        def change(cfg: Cfg) -> str:
            entry_id = add_entry(cfg, userid, "totp", description, str(uri), now)
            user_data(cfg, userid)["totp"][-1]["last-step"] = step
            return entry_id

        return await self.cfg.modify(change)

    async def _add_recovery(self, userid: str) -> Cfg:
        record, keys = recovery.generate(self.now())

        def change(cfg: Cfg) -> None:
            user = user_data(cfg, userid, create=True)
            if user.get("recovery"):
                raise ParamError.one("type", "user already has recovery keys")
            user["recovery"] = record

        await self.cfg.modify(change)
        return {"id": "recovery", "recovery": keys}

    async def _begin_webauthn(self, userid: str) -> Cfg:
        existing = [e["entry"] for e in user_data(self.cfg.load(), userid).get("webauthn", [])]
        options, raw = wa.registration_options(self.relying_party(), userid, existing)
        await self.state.put(
            f"reg:{userid}:{raw}", {"userid": userid}, self.now(), CHALLENGE_LIFETIME
        )
        return {"challenge": options}

    async def _finish_webauthn(self, userid: str, description: str, p: dict[str, Any]) -> str:
        if not p.get("challenge") or not p.get("value"):
            raise ParamError.one("value", "'challenge' and 'value' are required")
        try:
            raw = str(json.loads(str(p["challenge"]))["publicKey"]["challenge"])
        except (ValueError, KeyError, TypeError) as err:
            raise ParamError.one("challenge", "malformed challenge") from err
        if await self.state.take(f"reg:{userid}:{raw}", self.now()) is None:
            raise ParamError.one("challenge", "no such registration challenge (expired?)")
        cred = wa.verify_registration(self.relying_party(), raw, str(p["value"]))
        now = self.now()
        return await self.cfg.modify(
            lambda cfg: add_entry(cfg, userid, "webauthn", description, cred, now)
        )
