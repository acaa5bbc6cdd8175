"""Import every endpoint module so that its methods land in the registry."""

from pyxis.api import (
    access,
    cluster,
    node_storage,
    nodes,
    qemu,
    qemu_agent,
    qemu_cloudinit,
    qemu_console,
    qemu_disk,
    qemu_showcmd,
    qemu_snapshot,
    qemu_status,
    rrd,
    storage,
    tasks,
    version,
)

__all__ = [
    "access",
    "cluster",
    "node_storage",
    "nodes",
    "qemu",
    "qemu_agent",
    "qemu_cloudinit",
    "qemu_console",
    "qemu_disk",
    "qemu_showcmd",
    "qemu_snapshot",
    "qemu_status",
    "rrd",
    "storage",
    "tasks",
    "version",
]
