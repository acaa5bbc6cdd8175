"""storage.cfg typing, defaults, API edits and the merged /storage schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import Conflict, NotFound, ParamError
from pyxis.paths import Paths
from pyxis.schema import validate_params
from pyxis.storage.config import (
    create_storage,
    default_storage_cfg,
    ensure_local,
    parse_storage_cfg,
    remove_storage,
    render_storage_cfg,
    storage_info,
    update_storage,
)
from pyxis.storage.plugins.dir import DirPlugin
from pyxis.storage.registry import create_schema, plugin_class, update_schema

SCHEMA = json.loads((Path(__file__).parents[3] / "src/pyxis/data/schema.json").read_text())

CFG = (
    "dir: local\n"
    "\tpath /var/lib/vz\n"
    "\tcontent backup,iso,vztmpl\n"
    "\n"
    "dir: big\n"
    "\tdisable\n"
    "\tpath /srv/big\n"
    "\tcontent images,rootdir\n"
    "\tnodes n1,n2\n"
    "\tprune-backups keep-last=3\n"
    "\tshared 1\n"
    "\n"
)


def test_parse_types_values() -> None:
    cfg = parse_storage_cfg(CFG)
    assert cfg.order == ["local", "big"]
    big = cfg.ids["big"]
    assert big["content"] == {"images", "rootdir"}
    assert big["nodes"] == {"n1", "n2"}
    assert big["disable"] == 1 and big["shared"] == 1
    assert render_storage_cfg(cfg) == CFG


def test_parse_fills_default_content() -> None:
    cfg = parse_storage_cfg("dir: dd\n\tpath /d\n")
    assert cfg.ids["dd"]["content"] == {"images", "rootdir"}


@pytest.mark.parametrize(
    ("desc", "text", "key"),
    [
        ("unknown type", "foo: xx\n\tpath /x\n", "type"),
        ("unknown key", "dir: xx\n\tpath /x\n\tvgname pve\n", "vgname"),
        ("bad content", "dir: xx\n\tpath /x\n\tcontent isos\n", "content"),
        ("none with others", "dir: xx\n\tpath /x\n\tcontent none,iso\n", "content"),
        ("relative path", "dir: xx\n\tpath var/lib\n", "path"),
        ("bad bool", "dir: xx\n\tpath /x\n\tshared maybe\n", "shared"),
        ("bad format", "dir: xx\n\tpath /x\n\tformat qed\n", "format"),
        (
            "bad prune",
            "dir: xx\n\tpath /x\n\tprune-backups keep-all=1,keep-last=2\n",
            "prune-backups",
        ),
        ("bad storage id", "dir: 1x\n\tpath /x\n", "storage"),
    ],
)
def test_parse_strict_rejects(desc: str, text: str, key: str) -> None:
    with pytest.raises(ValueError, match=key):
        parse_storage_cfg(text)


def test_parse_lenient_drops_bad_parts() -> None:
    warnings: list[str] = []
    text = "foo: xx\n\tpath /x\n\ndir: yy\n\tpath /y\n\tvgname pve\n"
    cfg = parse_storage_cfg(text, strict=False, warnings=warnings)
    assert cfg.order == ["yy"]
    assert "vgname" not in cfg.ids["yy"]
    assert len(warnings) == 2


def test_default_cfg(tmp_path: Path) -> None:
    paths = Paths.at(tmp_path)
    text = default_storage_cfg(paths)
    assert text == (
        "dir: local\n"
        f"\tpath {tmp_path}/var/lib/vz\n"
        "\tcontent backup,images,import,iso,rootdir,snippets,vztmpl\n"
        "\n"
    )
    assert parse_storage_cfg(text).ids["local"]["path"] == f"{tmp_path}/var/lib/vz"


def test_ensure_local_replaces_foreign_local(tmp_path: Path) -> None:
    cfg = parse_storage_cfg("dir: local\n\tpath /elsewhere\n\tnodes a\n")
    ensure_local(cfg, Paths.at(tmp_path))
    assert cfg.ids["local"]["path"] == f"{tmp_path}/var/lib/vz"
    assert "nodes" not in cfg.ids["local"]


def test_create() -> None:
    cfg = parse_storage_cfg(CFG)
    section = create_storage(
        cfg, {"storage": "new", "type": "dir", "path": "/new", "content": "iso,images", "shared": 0}
    )
    assert section == {"type": "dir", "path": "/new", "content": {"iso", "images"}, "shared": 0}
    assert cfg.order[-1] == "new"
    assert "dir: new\n\tpath /new\n\tcontent images,iso\n\tshared 0\n" in render_storage_cfg(cfg)


@pytest.mark.parametrize(
    ("desc", "params", "exc", "key"),
    [
        ("exists", {"storage": "local", "type": "dir", "path": "/x"}, Conflict, None),
        ("missing path", {"storage": "nn", "type": "dir"}, ParamError, "path"),
        ("unknown type", {"storage": "nn", "type": "zzz", "path": "/x"}, ParamError, "type"),
        (
            "foreign option",
            {"storage": "nn", "type": "dir", "path": "/x", "vgname": "a"},
            ParamError,
            "vgname",
        ),
        ("bad id", {"storage": "-n", "type": "dir", "path": "/x"}, ParamError, "storage"),
    ],
)
def test_create_errors(
    desc: str, params: dict[str, Any], exc: type[Exception], key: str | None
) -> None:
    cfg = parse_storage_cfg(CFG)
    with pytest.raises(exc) as err:
        create_storage(cfg, params)
    if key is not None:
        assert isinstance(err.value, ParamError) and key in err.value.errors
    if desc == "exists":
        assert "storage ID 'local' already defined" in str(err.value)


def test_update_and_delete() -> None:
    cfg = parse_storage_cfg(CFG)
    update_storage(
        cfg,
        "big",
        {"storage": "big", "content": "iso", "delete": "nodes,disable", "digest": cfg.digest},
    )
    big = cfg.ids["big"]
    assert big["content"] == {"iso"} and "nodes" not in big and "disable" not in big
    update_storage(cfg, "big", {"delete": "content"})
    assert big["content"] == {"images", "rootdir"}


@pytest.mark.parametrize(
    ("desc", "params", "key"),
    [
        ("fixed option", {"path": "/other"}, "path"),
        ("delete fixed", {"delete": "path"}, "path"),
        ("delete unknown", {"delete": "vgname"}, "vgname"),
        ("set and delete", {"shared": 1, "delete": "shared"}, "shared"),
        ("type change", {"type": "nfs"}, "type"),
    ],
)
def test_update_errors(desc: str, params: dict[str, Any], key: str) -> None:
    cfg = parse_storage_cfg(CFG)
    with pytest.raises(ParamError) as err:
        update_storage(cfg, "big", params)
    assert key in err.value.errors or desc == "type change"


def test_update_digest_and_missing() -> None:
    cfg = parse_storage_cfg(CFG)
    with pytest.raises(Conflict, match="detected modified configuration"):
        update_storage(cfg, "big", {"digest": "0" * 40, "shared": 0})
    with pytest.raises(NotFound):
        update_storage(cfg, "nope", {"shared": 0})


def test_remove_and_info() -> None:
    cfg = parse_storage_cfg(CFG)
    info = storage_info(cfg, "big")
    assert info["content"] == "images,rootdir" and info["digest"] == cfg.digest
    assert info["storage"] == "big"
    remove_storage(cfg, "big")
    assert "big" not in cfg.ids
    with pytest.raises(NotFound):
        remove_storage(cfg, "big")


def test_plugin_class() -> None:
    assert plugin_class("dir") is DirPlugin
    with pytest.raises(ParamError) as err:
        plugin_class("bogus")
    assert "type" in err.value.errors


def _strip(schema: dict[str, Any]) -> dict[str, Any]:
    """Upstream schema facts without prose; numbers compared as text (upstream has "0")."""
    out = {k: v for k, v in schema.items() if k not in ("description", "verbose_description")}
    for key in ("minimum", "maximum"):
        if key in out:
            out[key] = str(out[key])
    if isinstance(out.get("format"), dict):
        out["format"] = {k: _strip(v) for k, v in out["format"].items()}
    return out


@pytest.mark.parametrize(
    ("builder", "path", "method"),
    [(create_schema, "/storage", "POST"), (update_schema, "/storage/{storage}", "PUT")],
)
def test_schema_matches_upstream(builder: Any, path: str, method: str) -> None:
    upstream = SCHEMA[path][method]["parameters"]["properties"]
    ours = builder()
    for key, schema in ours.items():
        assert key in upstream, key
        if key == "type":
            assert set(schema["enum"]) <= set(upstream[key]["enum"])
            continue
        assert _strip(schema) == _strip(upstream[key]), key


def test_update_schema_omits_fixed() -> None:
    props = update_schema()
    assert "path" not in props and "type" not in props
    assert {"delete", "digest", "content", "nodes", "disable"} <= set(props)


def test_create_schema_validates() -> None:
    params = validate_params(
        {"properties": create_schema()},
        {
            "storage": "s1",
            "type": "dir",
            "path": "/s",
            "content": "iso,images",
            "prune-backups": "keep-last=2,keep-daily=1",
            "content-dirs": "iso=my/isos",
            "bwlimit": "default=100",
        },
    )
    assert params["content"] == "iso,images"
    with pytest.raises(ParamError) as err:
        validate_params(
            {"properties": create_schema()},
            {"storage": "s1", "type": "dir", "content-dirs": "iso=../x"},
        )
    assert "content-dirs" in err.value.errors


def test_dir_declarations() -> None:
    assert DirPlugin.options["path"] == {"fixed": 1}
    assert DirPlugin.has_feature("snapshot", "qcow2")
    assert not DirPlugin.has_feature("snapshot", "raw")
    assert DirPlugin.has_feature("clone", "raw", base=True)
