"""Parameter and return schemas shared by many endpoint declarations.

Written in the upstream dialect; names, types, formats and limits follow the upstream
contract for the same parameter.
"""

from __future__ import annotations

from typing import Any

S = dict[str, Any]

NODE: S = {"type": "string", "format": "pve-node"}
VMID: S = {"type": "integer", "format": "pve-vmid", "minimum": 100, "maximum": 999999999}
VMID_OPT: S = {**VMID, "optional": 1}
STORAGE_ID: S = {"type": "string", "format": "pve-storage-id"}
USERID: S = {"type": "string", "format": "pve-userid", "maxLength": 64}
TOKENID: S = {"type": "string", "pattern": "(?^:[A-Za-z][A-Za-z0-9\\.\\-_]+)"}
DIGEST: S = {"type": "string", "optional": 1, "maxLength": 64}
DELETE_LIST: S = {"type": "string", "format": "pve-configid-list", "optional": 1}
ALL_USERS: S = {"user": "all"}
WORLD: S = {"user": "world"}


def opt(schema: S, **extra: Any) -> S:
    """A copy of ``schema`` marked optional (plus extra keys)."""
    return {**schema, "optional": 1, **extra}


def obj(**props: S) -> S:
    return {"type": "object", "properties": props}


def array_of(item: S) -> S:
    return {"type": "array", "items": item}


def dir_index() -> S:
    """Return shape of a directory-index GET (list of {subdir} objects)."""
    return array_of({"type": "object", "properties": {}})


def perm(path: str, privs: list[str], *, any_: bool = False) -> S:
    check: list[Any] = ["perm", path, privs]
    if any_:
        check += ["any", 1]
    return {"check": check}


def subdirs(*names: str) -> list[dict[str, str]]:
    return [{"subdir": n} for n in names]


STR: S = {"type": "string"}
INT: S = {"type": "integer"}
NUM: S = {"type": "number"}
BOOL: S = {"type": "boolean"}
