"""What local and cluster mode share: reads served from the in-memory ``Tree`` and the
watch feed.  Only how a mutation reaches the tree differs (one SQLite transaction here,
agreed-order replication there), so the subclasses implement the mutations alone."""

from __future__ import annotations

import time

from pyxis.store.base import ConfigStore, Entry, check_path
from pyxis.store.tree import Tree
from pyxis.store.watch import Watcher, WatchHub

WATCH_QUEUE_MAX = 10_000


class TreeStore(ConfigStore):
    """A ``ConfigStore`` whose state is a ``Tree`` (``_tree``) with a ``WatchHub``."""

    _tree: Tree
    _hub: WatchHub

    def get(self, path: str) -> Entry | None:
        return self._tree.entries.get(path)

    def listdir(self, path: str = "") -> list[str]:
        path = path.strip("/")
        if path:
            check_path(path)
        return sorted(self._tree.dirs.get(path, {}))

    def walk(self, prefix: str = "") -> list[Entry]:
        return self._tree.walk(prefix)

    @property
    def version(self) -> int:
        return self._tree.gv

    @property
    def total_bytes(self) -> int:
        return self._tree.total

    @property
    def watcher_count(self) -> int:
        return len(self._hub.watchers)

    def checksum(self) -> str:
        """Order-independent digest of the whole state (comparable between replicas)."""
        return self._tree.checksum()

    def lock_holder(self, name: str) -> str | None:
        return self._tree.lock_holder(name, time.time())

    def watch(self) -> Watcher:
        # Registered now, not on first iteration, so no change after this call is missed.
        return self._hub.watch(WATCH_QUEUE_MAX)
