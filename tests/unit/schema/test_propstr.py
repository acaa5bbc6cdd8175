"""Property strings: parsing and printing, table-driven (shapes from real configs)."""

from __future__ import annotations

from typing import Any

import pytest

from pyxis.schema import propstr

NET_MODELS = ["e1000", "virtio", "rtl8139", "vmxnet3"]
NET: propstr.Format = {
    "model": {"type": "string", "default_key": 1, "enum": NET_MODELS},
    "macaddr": {"type": "string", "optional": 1, "format": "mac-addr"},
    "bridge": {"type": "string", "optional": 1},
    "firewall": {"type": "boolean", "optional": 1},
    "tag": {"type": "integer", "optional": 1, "minimum": 1, "maximum": 4094},
    "rate": {"type": "number", "optional": 1, "minimum": 0},
    "trunks": {"type": "string", "optional": 1, "pattern": r"(?^:\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*)"},
    **{m: {"alias": "macaddr", "keyAlias": "model"} for m in NET_MODELS},
}
DRIVE: propstr.Format = {
    "file": {"type": "string", "default_key": 1},
    "size": {"type": "string", "optional": 1, "format": "disk-size"},
    "iothread": {"type": "boolean", "optional": 1},
    "media": {"type": "string", "optional": 1, "enum": ["cdrom", "disk"]},
}
NEXTID: propstr.Format = {
    "lower": {"type": "integer", "optional": 1},
    "upper": {"type": "integer", "optional": 1},
}
NEEDS: propstr.Format = {"a": {"type": "string"}, "b": {"type": "string", "optional": 1}}

PARSE_OK: list[tuple[str, propstr.Format, str, dict[str, Any]]] = [
    (
        "net with model=MAC",
        NET,
        "virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1",
        {"model": "virtio", "macaddr": "BC:24:11:2C:69:EC", "bridge": "vmbr0", "firewall": 1},
    ),
    ("net with default key", NET, "virtio,bridge=vmbr0", {"model": "virtio", "bridge": "vmbr0"}),
    (
        "net explicit macaddr",
        NET,
        "model=e1000,macaddr=AA:BB:CC:DD:EE:FF",
        {"model": "e1000", "macaddr": "AA:BB:CC:DD:EE:FF"},
    ),
    (
        "semicolon sub-list",
        NET,
        "virtio,trunks=10;20-30",
        {"model": "virtio", "trunks": "10;20-30"},
    ),
    ("boolean spellings", NET, "virtio,firewall=on", {"model": "virtio", "firewall": 1}),
    ("boolean off", NET, "virtio,firewall=no", {"model": "virtio", "firewall": 0}),
    (
        "integer and number",
        NET,
        "virtio,tag=42,rate=12.5",
        {"model": "virtio", "tag": 42, "rate": 12.5},
    ),
    (
        "drive",
        DRIVE,
        "local-lvm:vm-100-disk-0,iothread=1,size=32G",
        {"file": "local-lvm:vm-100-disk-0", "iothread": 1, "size": "32G"},
    ),
    ("cdrom none", DRIVE, "none,media=cdrom", {"file": "none", "media": "cdrom"}),
    ("quoted value with comma", DRIVE, 'file="a,b",media=disk', {"file": "a,b", "media": "disk"}),
    ("empty string", NEXTID, "", {}),
    ("range", NEXTID, "lower=200,upper=300", {"lower": 200, "upper": 300}),
]

PARSE_BAD: list[tuple[str, propstr.Format, str, str]] = [
    ("duplicate key", NET, "virtio,bridge=a,bridge=b", "duplicate key"),
    ("duplicate default key", DRIVE, "a,b", "duplicate key"),
    ("model twice via alias", NET, "virtio=AA:BB:CC:DD:EE:FF,model=e1000", "duplicate key"),
    ("unknown key", NET, "virtio,colour=red", "invalid key"),
    ("no default key", NEXTID, "200", "default key"),
    ("bad enum", NET, "token-ring", "enumeration"),
    ("bad mac", NET, "virtio=zz", "MAC"),
    ("bad int", NEXTID, "lower=abc", "integer"),
    ("range", NET, "virtio,tag=5000", "maximum"),
    ("bad boolean", NET, "virtio,firewall=maybe", "boolean"),
    ("pattern", NET, "virtio,trunks=1;x", "regex"),
    ("missing required", NEEDS, "b=1", "missing"),
    ("unterminated quote", DRIVE, 'file="abc', "unterminated"),
]


@pytest.mark.parametrize(
    ("desc", "fmt", "text", "expected"), PARSE_OK, ids=[c[0] for c in PARSE_OK]
)
def test_parse(desc: str, fmt: propstr.Format, text: str, expected: dict[str, Any]) -> None:
    assert propstr.parse(fmt, text) == expected


@pytest.mark.parametrize(
    ("desc", "fmt", "text", "fragment"), PARSE_BAD, ids=[c[0] for c in PARSE_BAD]
)
def test_parse_rejects(desc: str, fmt: propstr.Format, text: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        propstr.parse(fmt, text)


RENDER: list[tuple[str, propstr.Format, dict[str, Any], str]] = [
    (
        "model=MAC first, then sorted",
        NET,
        {"bridge": "vmbr0", "model": "virtio", "macaddr": "BC:24:11:2C:69:EC", "firewall": 1},
        "virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1",
    ),
    (
        "default key without name",
        DRIVE,
        {"file": "local:iso/x.iso", "media": "cdrom"},
        "local:iso/x.iso,media=cdrom",
    ),
    ("comma gets quoted", DRIVE, {"file": "a,b"}, '"a,b"'),
    ("float without .0", NET, {"model": "e1000", "rate": 10.0}, "e1000,rate=10"),
    ("booleans as 0/1", NET, {"model": "e1000", "firewall": True}, "e1000,firewall=1"),
]


@pytest.mark.parametrize(("desc", "fmt", "data", "text"), RENDER, ids=[c[0] for c in RENDER])
def test_render(desc: str, fmt: propstr.Format, data: dict[str, Any], text: str) -> None:
    assert propstr.render(fmt, data) == text


@pytest.mark.parametrize(
    ("desc", "fmt", "text", "expected"), PARSE_OK, ids=[c[0] for c in PARSE_OK]
)
def test_round_trip(desc: str, fmt: propstr.Format, text: str, expected: dict[str, Any]) -> None:
    assert propstr.parse(fmt, propstr.render(fmt, expected)) == expected


def test_render_rejects_unknown_key() -> None:
    with pytest.raises(ValueError, match="invalid key"):
        propstr.render(NEXTID, {"middle": 1})
