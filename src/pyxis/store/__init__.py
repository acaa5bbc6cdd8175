"""The cluster-wide config tree (``/etc/pve`` layout) behind one interface.

``ConfigStore`` is the contract; ``LocalStore`` (SQLite, single node) implements it.
The replicated (corosync) mode drops in behind the same interface.
"""

from pyxis.store.base import Change, ConfigStore, Entry, digest

__all__ = ["Change", "ConfigStore", "Entry", "digest"]
