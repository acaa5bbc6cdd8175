"""Pending changes and config views shared by VMs and containers.

Both guest kinds keep changes that wait for the next start in a pending section
(``[PENDING]`` / ``[pve:pending]``) with a ``delete`` list whose entries may carry a
``!`` force mark.  What differs per kind (which keys name volumes, how a stopped guest
applies a change) stays in the kind's ``configure`` module; this module holds the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyxis.errors import ParamError
from pyxis.guests.qemu.config import VmConfig

UNUSED_MAX = 255
KeySchema = Callable[[str], dict[str, Any] | None]
ParseValue = Callable[[str, str], Any]


def split_list(text: str | None) -> list[str]:
    return [x for x in (text or "").replace(";", ",").replace(" ", ",").split(",") if x]


def next_unused(conf: dict[str, str], what: str = "disks") -> str:
    """The lowest free ``unusedN`` key."""
    for i in range(UNUSED_MAX + 1):
        if f"unused{i}" not in conf:
            return f"unused{i}"
    raise ParamError.one("delete", f"too many unused {what}")


def add_pending(cfg: VmConfig, changes: dict[str, str], deletes: list[str], force: bool) -> None:
    for key, value in changes.items():
        cfg.pending[key] = value
        cfg.pending_delete = [d for d in cfg.pending_delete if d.lstrip("!") != key]
    for key in deletes:
        cfg.pending.pop(key, None)
        if key in cfg.main:
            cfg.pending_delete = [d for d in cfg.pending_delete if d.lstrip("!") != key]
            cfg.pending_delete.append(f"!{key}" if force else key)


def revert_pending(cfg: VmConfig, reverts: list[str]) -> None:
    for key in reverts:
        cfg.pending.pop(key, None)
        cfg.pending_delete = [d for d in cfg.pending_delete if d.lstrip("!") != key]


def take_pending(cfg: VmConfig) -> tuple[dict[str, str], list[str]]:
    """Empty the pending section; return its (changes, deletes) for the caller to apply."""
    deletes = [d.lstrip("!") for d in cfg.pending_delete]
    changes = dict(cfg.pending)
    cfg.pending.clear()
    cfg.pending_delete = []
    return changes, deletes


def config_view(
    cfg: VmConfig, current: bool, key_schema: KeySchema, parse_value: ParseValue
) -> dict[str, Any]:
    """GET .../config: main values, or (``current=0``) with pending values applied."""
    out: dict[str, Any] = dict(cfg.main)
    if not current:
        for key in cfg.pending_delete:
            out.pop(key.lstrip("!"), None)
        out.update(cfg.pending)
    return typed_values(out, key_schema, parse_value)


def typed_values(
    values: dict[str, Any], key_schema: KeySchema, parse_value: ParseValue
) -> dict[str, Any]:
    """Numbers and booleans as JSON numbers (as upstream answers), strings as they are."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        typ = (key_schema(key) or {}).get("type")
        if typ in ("integer", "boolean") and isinstance(value, str):
            try:
                out[key] = int(parse_value(key, value))
                continue
            except (ValueError, TypeError):
                pass
        elif typ == "number" and isinstance(value, str):
            try:
                num = float(value)
                out[key] = int(num) if num.is_integer() else num
                continue
            except ValueError:
                pass
        out[key] = value
    return out
