"""Import every endpoint module so that its methods land in the registry."""

from pyxis.api import access, cluster, node_storage, nodes, storage, tasks, version

__all__ = ["access", "cluster", "node_storage", "nodes", "storage", "tasks", "version"]
