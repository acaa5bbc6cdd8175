"""Recovery keys: ten one-time keys shown once, stored only as keyed hashes.

The record keeps a random secret and, per key, the hex HMAC-SHA256 of the key under
that secret; a used key's slot becomes ``None`` so that the remaining slot numbers
(what the login challenge lists) stay stable.  Keys look like upstream's:
four groups of four hex digits, ``1a2b-3c4d-5e6f-7a8b``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

COUNT = 10


def _hash(secret: str, key: str) -> str:
    return hmac.new(bytes.fromhex(secret), key.encode(), hashlib.sha256).hexdigest()


def _new_key() -> str:
    raw = secrets.token_hex(8)
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def generate(now: int) -> tuple[dict[str, Any], list[str]]:
    """A fresh record and the clear-text keys (returned to the caller exactly once)."""
    secret = secrets.token_hex(32)
    keys = [_new_key() for _ in range(COUNT)]
    record = {"secret": secret, "entries": [_hash(secret, k) for k in keys], "created": now}
    return record, keys


def available(record: dict[str, Any]) -> list[int]:
    """Slot numbers of the keys not used yet."""
    return [i for i, h in enumerate(record.get("entries", [])) if h]


def consume(record: dict[str, Any], key: str) -> bool:
    """Mark ``key`` used in ``record`` (in place); False when it is unknown or used."""
    key = key.strip().lower()
    wanted = _hash(record["secret"], key)
    entries: list[str | None] = record.get("entries", [])
    for i, h in enumerate(entries):
        if h and hmac.compare_digest(h, wanted):
            entries[i] = None
            return True
    return False
