"""Import every endpoint module so that its methods land in the registry."""

from pyxis.api import (
    access,
    cluster,
    node_storage,
    nodes,
    qemu,
    qemu_status,
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
    "qemu_status",
    "storage",
    "tasks",
    "version",
]
