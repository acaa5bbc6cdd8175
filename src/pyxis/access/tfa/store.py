"""``priv/tfa.cfg`` (JSON, as upstream) and short-lived challenge state in the store.

``tfa.cfg`` holds ``{"users": {userid: {"totp": [...], "webauthn": [...],
"recovery": {...}}}, "webauthn": {...}}``; a list entry is upstream's flattened
``TfaEntry``: ``{id, description, created, enable, entry}`` where ``entry`` is the
factor's data.  Every change is a read-modify-write conditional on the digest read.
``StateFile`` keeps one-time challenges (WebAuthn, OpenID ``state``) with an expiry
in a private JSON file; taking a challenge removes it, so none can be used twice.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from pyxis.errors import NotFound
from pyxis.store.base import ConfigStore, digest

TFA_CFG = "priv/tfa.cfg"
LIST_TYPES = ("totp", "webauthn", "u2f", "yubico")
ALL_TYPES = ("totp", "u2f", "webauthn", "recovery", "yubico")
RECOVERY_ID = "recovery"

T = TypeVar("T")
Cfg = dict[str, Any]


async def _modify_json(store: ConfigStore, path: str, writer: str, change: Callable[[Cfg], T]) -> T:
    entry = store.get(path)
    raw = entry.data if entry else b""
    data: Cfg = json.loads(raw) if raw.strip() else {}
    before = json.dumps(data, sort_keys=True)
    result = change(data)
    if json.dumps(data, sort_keys=True) != before:  # failed attempts write nothing
        await store.write(
            path,
            json.dumps(data, sort_keys=True, indent=1).encode() + b"\n",
            expect_digest=digest(raw) if entry else None,
            writer=writer,
        )
    return result


class TfaStore:
    """Reads and conditionally rewrites ``priv/tfa.cfg``."""

    def __init__(self, store: ConfigStore, writer: str) -> None:
        self.store = store
        self.writer = writer

    def load(self) -> Cfg:
        text = self.store.read_text(TFA_CFG)
        data: Cfg = json.loads(text) if text.strip() else {}
        data.setdefault("users", {})
        return data

    async def modify(self, change: Callable[[Cfg], T]) -> T:
        def wrapped(data: Cfg) -> T:
            data.setdefault("users", {})
            return change(data)

        return await _modify_json(self.store, TFA_CFG, self.writer, wrapped)


def user_data(cfg: Cfg, userid: str, create: bool = False) -> Cfg:
    users: Cfg = cfg.setdefault("users", {})
    if create:
        return users.setdefault(userid, {})  # type: ignore[no-any-return]
    return users.get(userid) or {}  # type: ignore[no-any-return]


def entry_info(kind: str, item: Cfg) -> Cfg:
    """An entry as the API shows it (no secrets)."""
    return {
        "id": item["id"],
        "type": kind,
        "description": item.get("description", ""),
        "created": item.get("created", 0),
        "enable": int(item.get("enable", True)),
    }


def list_entries(cfg: Cfg, userid: str) -> list[Cfg]:
    user = user_data(cfg, userid)
    out = [entry_info(kind, item) for kind in LIST_TYPES for item in user.get(kind, [])]
    rec = user.get("recovery")
    if rec:
        out.append(
            {
                "id": RECOVERY_ID,
                "type": "recovery",
                "description": "recovery keys",
                "created": rec.get("created", 0),
                "enable": int(rec.get("enable", True)),
            }
        )
    return out


def find_entry(cfg: Cfg, userid: str, entry_id: str) -> tuple[str, Cfg]:
    """(type, stored item) of one entry; NotFound otherwise."""
    user = user_data(cfg, userid)
    if entry_id == RECOVERY_ID and user.get("recovery"):
        return "recovery", user["recovery"]
    for kind in LIST_TYPES:
        for item in user.get(kind, []):
            if item["id"] == entry_id:
                return kind, item
    raise NotFound(f"no such tfa entry '{entry_id}'")


def delete_entry(cfg: Cfg, userid: str, entry_id: str) -> None:
    kind, item = find_entry(cfg, userid, entry_id)
    user = user_data(cfg, userid, create=True)
    if kind == "recovery":
        del user["recovery"]
    else:
        user[kind] = [i for i in user[kind] if i is not item]
        if not user[kind]:
            del user[kind]
    if not any(user.get(k) for k in (*LIST_TYPES, "recovery")):
        cfg["users"].pop(userid, None)


def add_entry(cfg: Cfg, userid: str, kind: str, description: str, data: Any, now: int) -> str:
    entry_id = f"{kind}-{uuid.uuid4()}"
    user = user_data(cfg, userid, create=True)
    user.setdefault(kind, []).append(
        {"id": entry_id, "description": description, "created": now, "enable": True, "entry": data}
    )
    return entry_id


def enabled(item: Cfg) -> bool:
    return bool(item.get("enable", True))


class StateFile:
    """One-time challenges with an expiry, kept in a private JSON file of the store."""

    def __init__(self, store: ConfigStore, path: str, writer: str) -> None:
        self.store = store
        self.path = path
        self.writer = writer

    @staticmethod
    def _prune(data: Cfg, now: int) -> None:
        for key in [k for k, v in data.items() if int(v.get("expires", 0)) <= now]:
            del data[key]

    async def put(self, key: str, value: Cfg, now: int, lifetime: int) -> None:
        def change(data: Cfg) -> None:
            self._prune(data, now)
            data[key] = {**value, "expires": now + lifetime}

        await _modify_json(self.store, self.path, self.writer, change)

    async def take(self, key: str, now: int) -> Cfg | None:
        """Remove and return the state under ``key`` if present and not expired."""
        entry = self.store.get(self.path)
        if entry is None or key not in json.loads(entry.data or b"{}"):
            return None

        def change(data: Cfg) -> Cfg | None:
            value: Cfg | None = data.pop(key, None)
            self._prune(data, now)
            if value is None or int(value.get("expires", 0)) <= now:
                return None
            return value

        return await _modify_json(self.store, self.path, self.writer, change)
