"""A node's services, wired together: config store, tasks, access control, storage.

``Services.open`` also bootstraps a fresh node with its embedded defaults (one ``dir``
storage ``local``, ``user.cfg`` with root@pam, the ticket signing key, the CSRF secret
and a self-signed node certificate), each written only when missing.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable
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
        from pyxis.cluster.control import CorosyncControl

        self.corosync = CorosyncControl(paths)
        # set by the daemon: re-read the node certificate into the running HTTPS server
        self.tls_reload: Callable[[], Awaitable[None]] | None = None
        self._cc_watch: asyncio.Task[None] | None = None
        from pyxis.cluster.view import ClusterView

        self.cluster = ClusterView(self)  # membership, status bus, proxy

    @classmethod
    async def open(cls, paths: Paths, node: str, settings: Settings | None = None) -> Services:
        from pyxis.cluster.control import CorosyncControl

        paths.ensure()
        control = CorosyncControl(paths)
        # as pmxcfs: a node with corosync.conf (and our authkey) is a cluster member
        clustered = control.configured()
        if clustered:
            await control.ensure_running()
            store: ConfigStore = await _open_cluster_store(paths, node, reset=False)
        else:
            store = LocalStore.open(paths.config_db, node)
        svc = cls(node, paths, settings or Settings(), store)
        svc.corosync = control
        svc.tasks.recover()
        if clustered:
            await svc._after_cluster_open(wait=15.0)
        else:
            await svc.bootstrap()
        return svc

    async def bootstrap(self) -> None:
        await self.storage.bootstrap()
        await self.access.bootstrap()
        await self._ensure_cert()

    async def close(self) -> None:
        if self._cc_watch is not None:
            self._cc_watch.cancel()
        await self.cluster.stop()
        await self.store.close()

    # --- cluster mode -----------------------------------------------------
    async def enter_cluster_mode(self, reset: bool) -> None:
        """Switch the store to replicated mode over corosync (after create or join).

        The corosync files must be written already.  ``reset`` empties the local state
        so that a joining node takes the cluster's; the state before it is kept in
        ``config.db.pre-join`` and put back if the switch fails."""
        await self.store.close()  # checkpoints the WAL: the file alone is the state
        db = self.paths.config_db
        backup = db.with_name(db.name + ".pre-join")
        if reset:
            shutil.copy2(db, backup)
        try:
            await self.corosync.ensure_running()
            self.store = await _open_cluster_store(self.paths, self.node, reset=reset)
        except BaseException:
            # back to local mode with the state from before, so the caller can undo
            if reset:
                for suffix in ("-wal", "-shm"):
                    db.with_name(db.name + suffix).unlink(missing_ok=True)
                shutil.copy2(backup, db)
            self.store = LocalStore.open(db, self.node)
            raise
        finally:
            self._forget_caches()
        await self._after_cluster_open(wait=120.0)
        backup.unlink(missing_ok=True)

    async def _after_cluster_open(self, wait: float) -> None:
        from pyxis.cluster import corosync_conf as cc
        from pyxis.cluster.control import watch_store

        log = logging.getLogger("pyxis.services")

        try:
            await self.wait_writable(wait)
        except PyxisError as err:
            log.warning("%s", err)
        # defaults are written only into a synced, quorate store: never over the cluster's
        if self.store.writable:
            try:
                await self.bootstrap()
            except PyxisError as err:
                log.warning("cluster bootstrap: %s", err)
        conf = self.store.read("corosync.conf")
        if conf is not None:
            try:
                device = cc.parse(conf.decode()).quorum.device
                await self.corosync.ensure_qdevice(device is not None)
            except PyxisError as err:
                log.warning("corosync-qdevice: %s", err)
        if self._cc_watch is not None:
            self._cc_watch.cancel()
        self._cc_watch = asyncio.get_running_loop().create_task(
            watch_store(self, self.corosync), name="corosync-conf-watch"
        )
        cluster = getattr(self, "cluster", None)
        if cluster is not None and hasattr(cluster, "start"):
            await cluster.start()

    async def wait_writable(self, timeout: float) -> None:
        """Wait until the replicated store is quorate and synced with the members."""
        deadline = time.monotonic() + timeout
        while not self.store.writable:
            if time.monotonic() > deadline:
                raise PyxisError(
                    f"cluster store not writable after {timeout:.0f}s (no quorum or not synced)"
                )
            await asyncio.sleep(0.2)

    def _forget_caches(self) -> None:
        """Drop caches keyed by store version: the new store counts versions anew."""
        self._dc_cache = None
        self._status_cache.clear()
        for attr in ("_cfg", "_signer", "_csrf"):
            if hasattr(self.access, attr):
                setattr(self.access, attr, None)

    async def update_certs(self, force: bool = False) -> bool:
        """Make sure the node certificate is signed by the cluster CA; reload TLS if changed."""
        from pyxis.cluster import certs
        from pyxis.cluster.lifecycle import local_addresses

        changed = await certs.ensure_node_cert(
            self.store, self.node, await local_addresses(), force=force
        )
        if changed and self.tls_reload is not None:
            await self.tls_reload()
        return changed

    # --- node certificate -------------------------------------------------
    def _cert_paths(self) -> tuple[str, str]:
        return f"nodes/{self.node}/pve-ssl.pem", f"nodes/{self.node}/pve-ssl.key"

    async def _ensure_cert(self) -> None:
        """A node certificate signed by the cluster CA (made with the CA when missing)."""
        await self.update_certs()

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
        return self.cluster.status_entries()

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
        return await self.cluster.forwarder.forward(call, params)


async def _open_cluster_store(paths: Paths, node: str, *, reset: bool) -> ConfigStore:
    """The replicated store over corosync CPG (same config.db as local mode)."""
    from pyxis.store.cluster import ClusterStore
    from pyxis.store.replication.cpg_transport import CpgTransport

    return await ClusterStore.open(paths.config_db, node, CpgTransport(), reset=reset)
