"""The storage type registry and the ``/storage`` create/update parameter schemas.

``PLUGINS`` is the one explicit name -> class table for storage types;
``plugin_class`` looks a type up and answers unknown names with a ``ParamError``.
``create_schema`` and ``update_schema`` merge the base options and every plugin's
properties into the parameter properties of ``POST /storage`` and
``PUT /storage/{storage}``, following upstream: on create every option is optional
(which ones a type requires is checked per type by ``check_config``); on update
``type`` and options fixed in every type that has them are absent, and ``delete``
and ``digest`` are added.  The storage-specific named formats (``prune-backups``,
``pve-dir-override``) are registered here, next to the schemas that use them.
"""

from __future__ import annotations

import re
from typing import Any

from pyxis.errors import ParamError
from pyxis.schema import formats, propstr
from pyxis.storage.plugin import BASE_PROPERTIES, Schema, StoragePlugin
from pyxis.storage.plugins.btrfs import BtrfsPlugin
from pyxis.storage.plugins.dir import DirPlugin

PLUGINS: dict[str, type[StoragePlugin]] = {
    DirPlugin.type: DirPlugin,
    BtrfsPlugin.type: BtrfsPlugin,
}

PRUNE_BACKUPS_FORMAT: dict[str, Schema] = {
    "keep-all": {"type": "boolean", "optional": 1},
    **{
        f"keep-{k}": {"type": "integer", "minimum": 0, "optional": 1}
        for k in ("last", "hourly", "daily", "weekly", "monthly", "yearly")
    },
}
DIR_OVERRIDE_RE = re.compile(r"^([a-z]+)=(.+)\Z")


def _prune_backups(value: str) -> str:
    opts = propstr.parse(PRUNE_BACKUPS_FORMAT, value)
    if opts.get("keep-all") and len(opts) > 1:
        raise ValueError("keep-all cannot be set together with other options.")
    return value


def _dir_override(value: str) -> str:
    m = DIR_OVERRIDE_RE.match(value)
    if not m:
        raise ValueError(f"invalid content directory override '{value}'")
    formats.storage_content(m.group(1))
    rel = m.group(2)
    parts = [p for p in rel.split("/") if p]
    # The override is joined below the storage path: it must not climb out of it.
    if not parts or any(p in (".", "..") for p in parts) or "\0" in rel or "\n" in rel:
        raise ValueError(f"invalid content directory '{rel}'")
    if len(rel) >= 1023 or any(len(p) >= 255 for p in parts):
        raise ValueError("content directory path too long")
    return value


for _name, _fn in (("prune-backups", _prune_backups), ("pve-dir-override", _dir_override)):
    if formats.lookup(_name) is None:
        formats.register(_name)(_fn)


def plugin_class(stype: str, param: str = "type") -> type[StoragePlugin]:
    """The class for storage type ``stype``; ParamError when unknown."""
    cls = PLUGINS.get(stype)
    if cls is None:
        raise ParamError.one(param, f"unknown storage type '{stype}'")
    return cls


def _merged_properties() -> dict[str, tuple[Schema, list[type[StoragePlugin]]]]:
    """Every option name -> (schema, types that accept it); one schema per name."""
    merged: dict[str, tuple[Schema, list[type[StoragePlugin]]]] = {}
    for cls in PLUGINS.values():
        props = cls.all_properties()
        for key in cls.options:
            schema = props.get(key)
            if schema is None:
                raise TypeError(f"storage type '{cls.type}' accepts undeclared option '{key}'")
            if key in merged and merged[key][0] != schema:
                raise TypeError(f"storage option '{key}' declared twice with different schemas")
            merged.setdefault(key, (schema, []))[1].append(cls)
    return merged


def create_schema() -> dict[str, Schema]:
    """Parameter properties of ``POST /storage``."""
    out: dict[str, Schema] = {
        "storage": {"type": "string", "format": "pve-storage-id"},
        "type": {"type": "string", "enum": sorted(PLUGINS)},
    }
    for key, (schema, _types) in sorted(_merged_properties().items()):
        out[key] = {**schema, "optional": 1}
    return out


def update_schema() -> dict[str, Schema]:
    """Parameter properties of ``PUT /storage/{storage}``."""
    out: dict[str, Schema] = {
        "storage": {"type": "string", "format": "pve-storage-id"},
    }
    for key, (schema, types) in sorted(_merged_properties().items()):
        if all(cls.options[key].get("fixed") for cls in types):
            continue
        out[key] = {**schema, "optional": 1}
    out["delete"] = {
        "type": "string",
        "format": "pve-configid-list",
        "maxLength": 4096,
        "optional": 1,
    }
    out["digest"] = {"type": "string", "maxLength": 64, "optional": 1}
    return out


def base_option_names() -> list[str]:
    """Options shared by all storage types (for docs and the compat test)."""
    return sorted(BASE_PROPERTIES)


def describe(stype: str) -> dict[str, Any]:
    """Declared facts about one type (content, formats, options), for listings."""
    cls = plugin_class(stype)
    return {
        "type": cls.type,
        "content": sorted(cls.content[0]),
        "default-content": sorted(cls.content[1]),
        "formats": sorted(cls.formats[0]),
        "default-format": cls.formats[1],
        "options": dict(cls.options),
        "shared": int(cls.shared),
    }
