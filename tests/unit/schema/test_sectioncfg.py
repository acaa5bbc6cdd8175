"""Section-config syntax: parsing, canonical rendering, round trips and malformed lines."""

from __future__ import annotations

import hashlib

import pytest

from pyxis.schema.sectioncfg import SectionConfig, parse, render

STORAGE_CFG = (
    "dir: local\n"
    "\tpath /var/lib/vz\n"
    "\tcontent backup,iso,vztmpl\n"
    "\n"
    "lvmthin: local-lvm\n"
    "\tthinpool data\n"
    "\tvgname pve\n"
    "\tcontent images,rootdir\n"
    "\n"
)

PARSE_CASES = [
    (
        "storage.cfg",
        STORAGE_CFG,
        {
            "local": {"type": "dir", "path": "/var/lib/vz", "content": "backup,iso,vztmpl"},
            "local-lvm": {
                "type": "lvmthin",
                "thinpool": "data",
                "vgname": "pve",
                "content": "images,rootdir",
            },
        },
        ["local", "local-lvm"],
    ),
    (
        "bare flag",
        "nfs: n1\n\tdisable\n\tsparse\n\tserver 10.0.0.1\n",
        {"n1": {"type": "nfs", "disable": 1, "sparse": 1, "server": "10.0.0.1"}},
        ["n1"],
    ),
    (
        "comments and spaces",
        "# top comment\n\npam: pam\n    # inner\n    comment Linux PAM  \n",
        {"pam": {"type": "pam", "comment": "Linux PAM"}},
        ["pam"],
    ),
    (
        "value with spaces",
        "pve: pve\n\tcomment Proxmox VE  authentication server\n",
        {"pve": {"type": "pve", "comment": "Proxmox VE  authentication server"}},
        ["pve"],
    ),
    (
        "no space after colon",
        "vm:100\n\tstate started\n",
        {"100": {"type": "vm", "state": "started"}},
        ["100"],
    ),
    ("crlf", "dir: a\r\n\tpath /x\r\n", {"a": {"type": "dir", "path": "/x"}}, ["a"]),
    ("empty", "", {}, []),
    ("order kept", "dir: b\n\ndir: a\n", {"b": {"type": "dir"}, "a": {"type": "dir"}}, ["b", "a"]),
]


@pytest.mark.parametrize(
    ("desc", "text", "ids", "order"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES]
)
def test_parse(desc: str, text: str, ids: dict[str, dict[str, object]], order: list[str]) -> None:
    cfg = parse(text)
    assert cfg.ids == ids
    assert cfg.order == order
    assert cfg.digest == hashlib.sha1(text.encode()).hexdigest()


BAD_CASES = [
    ("key before header", "\tpath /x\n", 1),
    ("header without id", "dir:\n", 1),
    ("header indented", "dir: a\n\n  dir: b\n", 3),
    ("duplicate section", "dir: a\n\ndir: a\n", 3),
    ("duplicate key", "dir: a\n\tpath /x\n\tpath /y\n", 3),
    ("unindented key", "dir: a\npath /x\n", 2),
    ("type key", "dir: a\n\ttype nfs\n", 2),
    ("bad key", "dir: a\n\t$x 1\n", 2),
    ("garbage", "dir: a\n\tpath /x\n\nthis is not a header\n", 4),
]


@pytest.mark.parametrize(("desc", "text", "line"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_parse_rejects(desc: str, text: str, line: int) -> None:
    with pytest.raises(ValueError, match=rf"^line {line}:"):
        parse(text)


def test_roundtrip_canonical_text() -> None:
    text = (
        "dir: local\n"
        "\tpath /var/lib/vz\n"
        "\tcontent backup,iso,vztmpl\n"
        "\tshared 0\n"
        "\n"
        "nfs: store\n"
        "\tdisable\n"
        "\texport /exports/a\n"
        "\tpath /mnt/pve/store\n"
        "\tserver 10.0.0.1\n"
        "\tcontent images\n"
        "\n"
    )
    first = {"dir": ["path"], "nfs": ["export", "path", "server"]}
    cfg = parse(text)
    assert render(cfg, flags={"disable"}, first=first) == text
    again = parse(render(cfg, flags={"disable"}, first=first))
    assert again.ids == cfg.ids and again.order == cfg.order


def test_render_values() -> None:
    cfg = SectionConfig()
    cfg.add(
        "s",
        {
            "type": "dir",
            "content": {"iso", "backup"},
            "nodes": ["b", "a"],
            "flag": True,
            "off": False,
            "num": 2.0,
            "none": None,
            "empty": "",
            "disable": 0,
        },
    )
    assert render(cfg, flags={"disable"}) == (
        "dir: s\n\tcontent backup,iso\n\tflag 1\n\tnodes b,a\n\tnum 2\n\toff 0\n\n"
    )


def test_render_disable_flag_true() -> None:
    cfg = SectionConfig()
    cfg.add("s", {"type": "dir", "path": "/x", "disable": 1})
    assert render(cfg, flags={"disable"}) == "dir: s\n\tdisable\n\tpath /x\n\n"


@pytest.mark.parametrize(
    "data",
    [
        {"type": "dir", "comment": "two\nlines"},
        {"type": "dir", "bad key": "x"},
        {"type": "bad type"},
    ],
)
def test_render_rejects(data: dict[str, object]) -> None:
    cfg = SectionConfig()
    cfg.add("s", dict(data))
    with pytest.raises(ValueError):
        render(cfg)


def test_add_remove() -> None:
    cfg = SectionConfig()
    cfg.add("a", {"type": "dir"})
    with pytest.raises(ValueError):
        cfg.add("a", {"type": "dir"})
    with pytest.raises(ValueError):
        cfg.add("b", {})
    assert cfg.remove("a") == {"type": "dir"}
    assert cfg.order == [] and cfg.ids == {}


def test_ids_missing_from_order_render_last() -> None:
    cfg = parse("dir: a\n")
    cfg.ids["b"] = {"type": "dir"}
    assert [sid for sid, _ in cfg.sections()] == ["a", "b"]
