"""The cluster-wide config tree (``/etc/pve`` layout) behind one interface.

``ConfigStore`` is the contract; ``LocalStore`` (SQLite, single node) and
``ClusterStore`` (``store/cluster.py``, replicated over corosync CPG) implement it on the
shared deterministic core ``store/tree.py``.
"""

from pyxis.store.base import Change, ConfigStore, Entry, digest

__all__ = ["Change", "ConfigStore", "Entry", "digest"]
