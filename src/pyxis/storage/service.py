"""Storage of one node: storage.cfg in the store, plugin instances, volume access rules.

``plugin(storeid)`` returns an activated plugin for a storage enabled on this node;
``modify`` applies an edit to storage.cfg conditionally on what was read;
``check_volume_access`` decides who may read or change a volume, as upstream
(``Datastore.Allocate`` on the storage, or ``Datastore.AllocateSpace`` plus the owning
guest's ``VM.Config.Disk``/``VM.Backup``, or template rights for ISOs and templates).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.errors import Conflict, NotFound, PermissionDenied, PyxisError
from pyxis.schema.sectioncfg import SectionConfig
from pyxis.storage.config import default_storage_cfg, parse_storage_cfg, render_storage_cfg
from pyxis.storage.plugin import StoragePlugin
from pyxis.storage.registry import plugin_class
from pyxis.storage.volid import Volume, parse_volname, split_volid
from pyxis.store.base import digest

if TYPE_CHECKING:
    from pyxis.services import Services

STORAGE_CFG = "storage.cfg"


class StorageService:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self._cache: tuple[int, SectionConfig] | None = None
        self.warnings: list[str] = []

    async def bootstrap(self) -> None:
        if self.svc.store.get(STORAGE_CFG) is None:
            text = default_storage_cfg(self.svc.paths)
            await self.svc.store.write(STORAGE_CFG, text.encode(), writer=self.svc.node)

    def config(self) -> SectionConfig:
        entry = self.svc.store.get(STORAGE_CFG)
        version = entry.version if entry else 0
        if self._cache is None or self._cache[0] != version:
            warnings: list[str] = []
            text = entry.data.decode() if entry else ""
            self._cache = (version, parse_storage_cfg(text, strict=False, warnings=warnings))
            self.warnings = warnings
        return self._cache[1]

    async def modify(self, change: Callable[[SectionConfig], Any]) -> Any:
        """Apply ``change`` to a fresh parse and write storage.cfg back conditionally."""
        entry = self.svc.store.get(STORAGE_CFG)
        raw = entry.data if entry else b""
        cfg = parse_storage_cfg(raw.decode(), strict=False)
        result = change(cfg)
        await self.svc.store.write(
            STORAGE_CFG,
            render_storage_cfg(cfg).encode(),
            expect_digest=digest(raw) if entry else None,
            writer=self.svc.node,
        )
        return result

    def section(self, storeid: str) -> dict[str, Any]:
        section = self.config().ids.get(storeid)
        if section is None:
            raise NotFound(f"storage '{storeid}' does not exist")
        return section

    def enabled_here(self, section: dict[str, Any]) -> bool:
        nodes = section.get("nodes")
        return not section.get("disable") and (not nodes or self.svc.node in nodes)

    def instance(self, storeid: str) -> StoragePlugin:
        section = self.section(storeid)
        cls = plugin_class(str(section["type"]))
        return cls(storeid, section, self.svc.paths)

    async def plugin(self, storeid: str) -> StoragePlugin:
        """An activated plugin for a storage that is enabled on this node."""
        section = self.section(storeid)
        # upstream answers these with a generic 500; a refused request is a Conflict here
        if section.get("disable"):
            raise Conflict(f"storage '{storeid}' is disabled")
        if not self.enabled_here(section):
            raise Conflict(f"storage '{storeid}' is not available on node '{self.svc.node}'")
        plugin = self.instance(storeid)
        await plugin.activate()
        return plugin

    def upload_tmpdir(self, storeid: str) -> Path:
        """Where an upload's temporary file goes: inside the storage when it has a path."""
        try:
            section = self.section(storeid)
        except NotFound:
            section = {}
        base = section.get("path")
        target = Path(str(base)) if base else self.svc.paths.run_dir
        target.mkdir(parents=True, exist_ok=True)
        return target

    async def resources(self) -> list[dict[str, Any]]:
        out = []
        for sid in self.config().order:
            section = self.config().ids[sid]
            if not self.enabled_here(section):
                continue
            res: dict[str, Any] = {
                "id": f"storage/{self.svc.node}/{sid}",
                "type": "storage",
                "storage": sid,
                "node": self.svc.node,
                "plugintype": section["type"],
                "content": ",".join(sorted(section.get("content") or [])),
                "shared": int(bool(section.get("shared"))),
                "status": "unknown",
            }
            try:
                st = await self.instance(sid).status()
                res.update(status="available", disk=st["used"], maxdisk=st["total"])
            except PyxisError:
                pass
            out.append(res)
        return out

    def check_volume_access(
        self, authid: str, storeid: str, volname: str, *, write: bool
    ) -> Volume:
        """Raise PermissionDenied unless ``authid`` may read (or change) the volume."""
        access = self.svc.access
        vol = parse_volname(volname)
        spath = f"/storage/{storeid}"
        if access.check(authid, spath, ["Datastore.Allocate"]):
            return vol
        if vol.vtype in ("iso", "vztmpl", "import", "snippets"):
            need = (
                ["Datastore.AllocateTemplate"]
                if write
                else ["Datastore.AllocateSpace", "Datastore.Audit"]
            )
            if access.check(authid, spath, need, any_=True):
                return vol
        elif vol.vmid is not None and access.check(authid, spath, ["Datastore.AllocateSpace"]):
            priv = "VM.Backup" if vol.vtype == "backup" else "VM.Config.Disk"
            if access.check(authid, f"/vms/{vol.vmid}", [priv]):
                return vol
        raise PermissionDenied(f"Permission check failed ({spath}, Datastore.Allocate)")


def split_volume_param(storage: str | None, volume: str) -> tuple[str, str]:
    """``volume`` may be a full volume id or a volname of the path's storage."""
    if ":" in volume:
        sid, volname = split_volid(volume)
        if storage and sid != storage:
            raise PermissionDenied(f"volume '{volume}' is not on storage '{storage}'")
        return sid, volname
    if not storage:
        raise NotFound(f"unable to parse volume ID '{volume}'", status=400)
    return storage, volume
