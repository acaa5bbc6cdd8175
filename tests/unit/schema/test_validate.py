"""Parameter validation: types, limits, formats, families, requires; errors per parameter."""

from __future__ import annotations

from typing import Any

import pytest

from pyxis.errors import ParamError
from pyxis.schema.validate import validate_params

SCHEMA: dict[str, Any] = {
    "additionalProperties": 0,
    "properties": {
        "node": {"type": "string", "format": "pve-node"},
        "vmid": {
            "type": "integer",
            "format": "pve-vmid",
            "minimum": 100,
            "maximum": 999999999,
            "optional": 1,
        },
        "force": {"type": "boolean", "optional": 1},
        "name": {"type": "string", "optional": 1, "maxLength": 8},
        "kind": {"type": "string", "optional": 1, "enum": ["a", "b"]},
        "content": {"type": "string", "optional": 1, "format": "pve-storage-content-list"},
        "ratio": {"type": "number", "optional": 1, "minimum": 0},
        "path": {"type": "string", "optional": 1, "requires": "privs"},
        "privs": {"type": "string", "optional": 1},
        "ids": {"type": "array", "optional": 1, "items": {"type": "integer"}},
        "net[n]": {
            "type": "string",
            "optional": 1,
            "x-index-max": 3,
            "format": {"model": {"type": "string", "default_key": 1}},
        },
    },
}

OK: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "strings from a form",
        {"node": "pve1", "vmid": "100", "force": "1"},
        {"node": "pve1", "vmid": 100, "force": 1},
    ),
    (
        "typed JSON values",
        {"node": "pve1", "vmid": 101, "force": True},
        {"node": "pve1", "vmid": 101, "force": 1},
    ),
    ("number", {"node": "n", "ratio": "0.5"}, {"node": "n", "ratio": 0.5}),
    (
        "list format normalised",
        {"node": "n", "content": "iso;images"},
        {"node": "n", "content": "iso,images"},
    ),
    (
        "indexed family",
        {"node": "n", "net0": "virtio", "net3": "e1000"},
        {"node": "n", "net0": "virtio", "net3": "e1000"},
    ),
    ("repeated key into an array", {"node": "n", "ids": ["1", "2"]}, {"node": "n", "ids": [1, 2]}),
    (
        "requires satisfied",
        {"node": "n", "path": "/", "privs": "Sys.Audit"},
        {"node": "n", "path": "/", "privs": "Sys.Audit"},
    ),
]

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("missing required", {}, "node", "missing"),
    ("unknown parameter", {"node": "n", "colour": "red"}, "colour", "not defined in schema"),
    ("true is not a form boolean", {"node": "n", "force": "true"}, "force", "boolean"),
    ("integer type", {"node": "n", "vmid": "abc"}, "vmid", "integer"),
    ("below minimum", {"node": "n", "vmid": "99"}, "vmid", "minimum|VM ID"),
    ("too long", {"node": "n", "name": "123456789"}, "name", "9|8 characters"),
    ("enum", {"node": "n", "kind": "c"}, "kind", "enumeration"),
    ("bad named format", {"node": "bad node!"}, "node", "node name"),
    ("bad list item", {"node": "n", "content": "iso,movies"}, "content", "content type"),
    ("family index too high", {"node": "n", "net4": "virtio"}, "net4", "not defined"),
    ("family leading zero", {"node": "n", "net01": "virtio"}, "net01", "not defined"),
    ("requires missing", {"node": "n", "path": "/"}, "privs", "requires"),
    ("duplicate scalar", {"node": ["a", "b"]}, "node", "duplicate"),
    ("NUL byte", {"node": "n", "name": "a\0b"}, "name", "NUL"),
    ("negative number", {"node": "n", "ratio": "-1"}, "ratio", "minimum"),
]


@pytest.mark.parametrize(("desc", "raw", "expected"), OK, ids=[c[0] for c in OK])
def test_valid(desc: str, raw: dict[str, Any], expected: dict[str, Any]) -> None:
    assert validate_params(SCHEMA, raw) == expected


@pytest.mark.parametrize(("desc", "raw", "param", "fragment"), BAD, ids=[c[0] for c in BAD])
def test_invalid_names_the_parameter(
    desc: str, raw: dict[str, Any], param: str, fragment: str
) -> None:
    with pytest.raises(ParamError) as info:
        validate_params(SCHEMA, raw)
    assert param in info.value.errors
    assert info.value.status == 400
    import re

    assert re.search(fragment, info.value.errors[param])


def test_all_errors_reported_together() -> None:
    with pytest.raises(ParamError) as info:
        validate_params(SCHEMA, {"vmid": "x", "kind": "z"})
    assert set(info.value.errors) == {"node", "vmid", "kind"}
