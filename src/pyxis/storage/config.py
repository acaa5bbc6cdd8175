"""storage.cfg: typed parsing, rendering and the create/update/remove edits.

The syntax is the generic section config (``pyxis.schema.sectioncfg``); this module
adds the storage meaning: each section's type must be a registered plugin, its keys
must be options of that type and its values are typed by the plugin schema
(``content`` and ``nodes`` become sets).  As upstream, missing ``content`` gets the
type's default, always-shared types get ``shared 1``, and a ``dir: local`` storage is
always present.  The edit functions apply one API request to a parsed config and
raise ``ParamError``/``Conflict`` with upstream's messages; reading and writing the
file (and locking it) is the caller's job.
"""

from __future__ import annotations

from typing import Any

from pyxis.errors import Conflict, NotFound, ParamError
from pyxis.paths import Paths
from pyxis.schema import sectioncfg
from pyxis.schema.formats import STORAGE_ID_RE
from pyxis.schema.sectioncfg import SectionConfig
from pyxis.storage.registry import PLUGINS, plugin_class

# Flags printed as a bare key (upstream writes only ``disable`` that way).
FLAG_KEYS = frozenset({"disable"})
LOCAL_CONTENT = {"iso", "vztmpl", "backup", "images", "rootdir", "snippets", "import"}


def parse_storage_cfg(
    text: str, *, strict: bool = True, warnings: list[str] | None = None
) -> SectionConfig:
    """Parse and type storage.cfg.

    With ``strict`` an invalid section raises ValueError.  Otherwise invalid keys
    are dropped and sections with a bad id or unknown type skipped, as upstream does
    so that one bad line does not take every storage down; each problem is appended
    to ``warnings``.  Syntax errors always raise (``sectioncfg.parse``).
    """
    raw = sectioncfg.parse(text)
    cfg = SectionConfig(digest=raw.digest)
    for sid, data in raw.sections():
        try:
            cfg.add(sid, _typed_section(sid, data))
        except ParamError as err:
            detail = "; ".join(f"{k}: {v}" for k, v in sorted(err.errors.items()))
            if strict:
                raise ValueError(f"storage '{sid}': {detail}") from err
            if warnings is not None:
                warnings.append(f"storage '{sid}': {detail}")
            if err.errors.keys() & {"storage", "type"}:
                continue
            cleaned = {k: v for k, v in data.items() if k not in err.errors}
            cfg.add(sid, _typed_section(sid, cleaned))
    return cfg


def _typed_section(sid: str, data: dict[str, Any]) -> dict[str, Any]:
    if not STORAGE_ID_RE.match(sid):
        raise ParamError.one("storage", f"invalid storage ID '{sid}'")
    stype = str(data["type"])
    cls = plugin_class(stype)
    opts = cls.check_config(
        {k: v for k, v in data.items() if k != "type"}, create=True, skip_required=True
    )
    return _with_defaults(stype, opts)


def _with_defaults(stype: str, opts: dict[str, Any]) -> dict[str, Any]:
    cls = PLUGINS[stype]
    if "content" not in opts and cls.content[1]:
        opts["content"] = set(cls.content[1])
    if cls.shared:
        opts["shared"] = 1
    return {"type": stype, **opts}


def render_storage_cfg(cfg: SectionConfig) -> str:
    """storage.cfg text: fixed options right after the header, then sorted keys."""
    first = {
        stype: sorted(k for k, o in cls.options.items() if o.get("fixed"))
        for stype, cls in PLUGINS.items()
    }
    return sectioncfg.render(cfg, flags=FLAG_KEYS, first=first)


def ensure_local(cfg: SectionConfig, paths: Paths) -> None:
    """Make sure ``local`` is the node's dir storage at ``<root>/var/lib/vz``.

    Upstream enforces the same (type dir, fixed path, no node restriction) so that
    ``local`` means the same thing on every node.
    """
    path = str(paths.default_storage)
    local = cfg.ids.get("local")
    if local is None or local.get("type") != "dir" or local.get("path", path) != path:
        section = _with_defaults("dir", {"path": path, "content": set(LOCAL_CONTENT)})
        if local is None:
            cfg.add("local", section)
        else:
            cfg.ids["local"] = section
        local = section
    local.setdefault("path", path)
    local.pop("nodes", None)


def default_storage_cfg(paths: Paths) -> str:
    """The storage.cfg a fresh node starts with.

    Upstream's installer gives ``local`` only iso, vztmpl and backup and puts disks
    on LVM-thin; a node without LVM keeps disks and container volumes in ``local``
    too, so that guests can be created out of the box.
    """
    cfg = SectionConfig()
    ensure_local(cfg, paths)
    return render_storage_cfg(cfg)


def assert_digest(cfg: SectionConfig, digest: str | None) -> None:
    if digest and digest != cfg.digest:
        raise Conflict("detected modified configuration - file changed by other user? Try again.")


def create_storage(cfg: SectionConfig, params: dict[str, Any]) -> dict[str, Any]:
    """Add a storage from validated ``POST /storage`` parameters; return its section."""
    storeid = str(params.get("storage", ""))
    if not STORAGE_ID_RE.match(storeid):
        raise ParamError.one("storage", f"invalid storage ID '{storeid}'")
    cls = plugin_class(str(params.get("type", "")))
    opts = cls.check_config(
        {k: v for k, v in params.items() if k not in ("storage", "type")}, create=True
    )
    if storeid in cfg.ids:
        raise Conflict(f"storage ID '{storeid}' already defined")
    section = _with_defaults(cls.type, opts)
    cfg.add(storeid, section)
    return section


def update_storage(cfg: SectionConfig, storeid: str, params: dict[str, Any]) -> dict[str, Any]:
    """Apply validated ``PUT /storage/{storage}`` parameters (incl. ``delete``,
    ``digest``); return the updated section."""
    assert_digest(cfg, params.get("digest"))
    section = cfg.ids.get(storeid)
    if section is None:
        raise NotFound(f"storage '{storeid}' does not exist")
    cls = plugin_class(str(section["type"]))
    if "type" in params:
        raise ParamError.one("type", "can't change value of fixed parameter 'type'")
    changes = {k: v for k, v in params.items() if k not in ("storage", "digest", "delete")}
    opts = cls.check_config(changes, create=False)
    delete = params.get("delete") or []
    if isinstance(delete, str):
        delete = [d for d in delete.replace(";", ",").replace(" ", ",").split(",") if d]
    errors: dict[str, str] = {}
    for key in delete:
        opt = cls.options.get(key)
        if opt is None:
            errors[key] = f"no such option '{key}'"
        elif opt.get("fixed"):
            errors[key] = f"unable to delete fixed option '{key}'"
        elif not opt.get("optional"):
            errors[key] = f"unable to delete required option '{key}'"
        elif key in opts:
            errors[key] = f"cannot set and delete property '{key}' at the same time!"
    if errors:
        raise ParamError(errors)
    for key in delete:
        section.pop(key, None)
    section.update(opts)
    if "content" not in section and cls.content[1]:
        section["content"] = set(cls.content[1])
    return section


def remove_storage(cfg: SectionConfig, storeid: str) -> dict[str, Any]:
    """Drop a storage definition (volumes are left alone, as upstream)."""
    if storeid not in cfg.ids:
        raise NotFound(f"storage '{storeid}' does not exist")
    return cfg.remove(storeid)


def storage_info(cfg: SectionConfig, storeid: str) -> dict[str, Any]:
    """``GET /storage/{storage}`` shape: section with ``storage`` and ``digest``,
    set values as comma lists."""
    section = cfg.ids.get(storeid)
    if section is None:
        raise NotFound(f"storage '{storeid}' does not exist")
    out: dict[str, Any] = {"storage": storeid, "digest": cfg.digest}
    for key, value in section.items():
        out[key] = sectioncfg.format_value(value) if isinstance(value, set) else value
    return out
