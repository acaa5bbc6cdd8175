"""A node's services, wired together: config store, tasks, access control, storage.

``Services.open`` also bootstraps a fresh node with its embedded defaults (one ``dir``
storage ``local``, ``user.cfg`` with root@pam, the ticket signing key, the CSRF secret
and a self-signed node certificate), each written only when missing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.cluster import datacenter
from pyxis.errors import ParamError, PyxisError
from pyxis.metrics import host
from pyxis.paths import Paths
from pyxis.store.base import ConfigStore, digest
from pyxis.store.local import LocalStore
from pyxis.store.virtual import vmlist_json
from pyxis.tasks.manager import TaskManager

if TYPE_CHECKING:
    from pyxis.access.service import AccessService
    from pyxis.api.context import Call
    from pyxis.storage.service import StorageService


# Status shown by /cluster/resources and /nodes is at most this old (upstream: ~10 s).
STATUS_TTL = 2.0


@dataclass
class Settings:
    """Tunables of one daemon (command-line flags)."""

    auth_fail_delay: float = 3.0


class Services:
    def __init__(self, node: str, paths: Paths, settings: Settings, store: ConfigStore) -> None:
        from pyxis.access.service import AccessService
        from pyxis.storage.service import StorageService

        self.node = node
        self.paths = paths
        self.settings = settings
        self.store = store
        self.started = time.time()
        self.tasks = TaskManager(node, paths.task_dir)
        self.access: AccessService = AccessService(self)
        self.storage: StorageService = StorageService(self)
        from pyxis.access.realmstore import RealmStore

        self.realms = RealmStore(self)
        from pyxis.guests.qemu.service import QemuService

        self.qemu = QemuService(self)
        from pyxis.guests.lxc.service import LxcService

        self.lxc = LxcService(self)
        from pyxis.metrics.collector import Collector

        self.metrics = Collector(self)  # sampled by the daemon's background task
        self._dc_cache: tuple[int, dict[str, Any]] | None = None
        self._status_cache: dict[str, tuple[float, int, list[dict[str, Any]]]] = {}

    @classmethod
    async def open(cls, paths: Paths, node: str, settings: Settings | None = None) -> Services:
        paths.ensure()
        store = LocalStore.open(paths.config_db, node)
        svc = cls(node, paths, settings or Settings(), store)
        svc.tasks.recover()
        await svc.bootstrap()
        return svc

    async def bootstrap(self) -> None:
        await self.storage.bootstrap()
        await self.access.bootstrap()
        await self._ensure_cert()

    async def close(self) -> None:
        await self.store.close()

    # --- node certificate -------------------------------------------------
    def _cert_paths(self) -> tuple[str, str]:
        return f"nodes/{self.node}/pve-ssl.pem", f"nodes/{self.node}/pve-ssl.key"

    async def _ensure_cert(self) -> None:
        from pyxis.server.tls import make_self_signed

        cert_path, key_path = self._cert_paths()
        if self.store.get(cert_path) is None or self.store.get(key_path) is None:
            cert, key = make_self_signed(self.node, [])
            await self.store.write(key_path, key, writer=self.node)
            await self.store.write(cert_path, cert, writer=self.node)

    async def tls_files(self) -> tuple[Path, Path]:
        """Write the node certificate to the run dir for the TLS server; return the paths."""
        from pyxis.server.tls import write_private

        cert_path, key_path = self._cert_paths()
        certfile, keyfile = self.paths.run_dir / "pve-ssl.pem", self.paths.run_dir / "pve-ssl.key"
        write_private(certfile, self.store.read(cert_path) or b"")
        write_private(keyfile, self.store.read(key_path) or b"")
        return certfile, keyfile

    def ssl_fingerprint(self) -> str:
        from pyxis.server.tls import fingerprint

        cert = self.store.read(self._cert_paths()[0])
        return fingerprint(cert) if cert else ""

    # --- datacenter.cfg ---------------------------------------------------
    def datacenter(self) -> dict[str, Any]:
        entry = self.store.get("datacenter.cfg")
        if entry is None:
            return {}
        if self._dc_cache is None or self._dc_cache[0] != entry.version:
            try:
                self._dc_cache = (entry.version, datacenter.parse(entry.data.decode()))
            except ValueError as err:
                raise PyxisError(f"datacenter.cfg: {err}") from err
        return dict(self._dc_cache[1])

    async def update_datacenter(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        entry = self.store.get("datacenter.cfg")
        old = entry.data if entry else b""
        cfg = change(self.datacenter())
        text = datacenter.render(cfg).encode()
        try:
            datacenter.parse(text.decode())
        except ValueError as err:
            raise ParamError.one("datacenter.cfg", str(err)) from err
        await self.store.write(
            "datacenter.cfg", text, expect_digest=digest(old) if entry else None, writer=self.node
        )

    # --- cluster view (single node until clustering lands) ----------------
    def cluster_status(self) -> list[dict[str, Any]]:
        return [
            {
                "id": f"node/{self.node}",
                "name": self.node,
                "type": "node",
                "ip": "127.0.0.1",
                "level": "",
                "local": 1,
                "nodeid": 0,
                "online": 1,
            },
        ]

    def _cached(self, key: str, version: int) -> list[dict[str, Any]] | None:
        hit = self._status_cache.get(key)
        if hit and hit[1] == version and time.monotonic() - hit[0] < STATUS_TTL:
            return list(hit[2])
        return None

    def _remember(self, key: str, version: int, value: list[dict[str, Any]]) -> None:
        self._status_cache[key] = (time.monotonic(), version, value)

    def node_resources(self) -> list[dict[str, Any]]:
        """This node's status, at most ``STATUS_TTL`` old (as upstream's status cache)."""
        cached = self._cached("node", 0)
        if cached is not None:
            return cached
        value = self._node_resources()
        self._remember("node", 0, value)
        return list(value)

    async def storage_resources(self) -> list[dict[str, Any]]:
        cached = self._cached("storage", self.store.version)
        if cached is not None:
            return cached
        value = await self.storage.resources()
        self._remember("storage", self.store.version, value)
        return list(value)

    def _node_resources(self) -> list[dict[str, Any]]:
        mem = host.meminfo()
        rootfs = host.fs_usage(str(self.paths.root))
        return [
            {
                "id": f"node/{self.node}",
                "type": "node",
                "node": self.node,
                "status": "online",
                "cpu": host.cpu_usage(),
                "maxcpu": host.cpuinfo()["cpus"],
                "mem": mem["used"],
                "maxmem": mem["total"],
                "disk": rootfs["used"],
                "maxdisk": rootfs["total"],
                "uptime": int(time.time() - self.started),
                "level": "",
                "ssl_fingerprint": self.ssl_fingerprint(),
            }
        ]

    def guest_resources(self) -> list[dict[str, Any]]:
        cached = self._cached("guests", self.store.version)
        if cached is not None:
            return cached
        value = self._guest_resources()
        self._remember("guests", self.store.version, value)
        return list(value)

    def _guest_resources(self) -> list[dict[str, Any]]:
        out = []
        for vmid, info in vmlist_json(self.store)["ids"].items():
            res: dict[str, Any] = {
                "id": f"{info['type']}/{vmid}",
                "type": info["type"],
                "vmid": int(vmid),
                "node": info["node"],
                "status": "unknown",
            }
            if info["type"] == "qemu" and info["node"] == self.node:
                try:
                    cfg, _ = self.qemu.load(int(vmid))
                    res.update(self.qemu.basic_status(int(vmid), cfg))
                except PyxisError:
                    pass
            elif info["type"] == "lxc" and info["node"] == self.node:
                try:
                    ct_cfg, _ = self.lxc.load(int(vmid))
                    res.update(self.lxc.basic_status(int(vmid), ct_cfg))
                except PyxisError:
                    pass
            out.append(res)
        return out

    def used_vmids(self) -> set[int]:
        return {int(v) for v in vmlist_json(self.store)["ids"]}

    async def proxy(self, call: Call, params: dict[str, Any]) -> Any:
        """Forward a ``proxyto`` request to another node (cluster mode only)."""
        node = params.get(call.method.proxyto or "node")
        raise PyxisError(f"no such cluster node '{node}'", status=595)
