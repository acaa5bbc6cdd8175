"""The node's metrics files: one ``RrdFile`` per entity under ``var/lib/pyxis/rrd``.

``<root>/var/lib/pyxis/rrd/{node,qemu,lxc,storage}/<id>`` holds each entity's archives
over the metrics its kind declares in ``KIND_METRICS`` (upstream's pve2 data sources).
Files are cached in memory once touched; ``update`` marks a file dirty when a primary
data point completes (once a minute), and ``flush`` writes the dirty ones in a worker
thread, so the event loop only serialises.  A file that cannot be read is set aside as
``<id>.broken`` and started afresh: losing a graph must never stop the collector.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyxis.errors import PyxisError
from pyxis.metrics.rrd import RrdError, RrdFile, write_atomic

log = logging.getLogger("pyxis.metrics")

GUEST_METRICS = (
    "cpu",
    "maxcpu",
    "mem",
    "maxmem",
    "disk",
    "maxdisk",
    "diskread",
    "diskwrite",
    "netin",
    "netout",
)
KIND_METRICS: dict[str, tuple[str, ...]] = {
    "node": (
        "cpu",
        "maxcpu",
        "iowait",
        "loadavg",
        "memtotal",
        "memused",
        "swaptotal",
        "swapused",
        "roottotal",
        "rootused",
        "netin",
        "netout",
    ),
    "qemu": GUEST_METRICS,
    "lxc": GUEST_METRICS,
    "storage": ("total", "used"),
}
_IDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")


class UnknownKind(PyxisError):
    """A metrics kind that ``KIND_METRICS`` does not declare."""


def _check(kind: str, ident: str) -> tuple[str, ...]:
    metrics = KIND_METRICS.get(kind)
    if metrics is None:
        raise UnknownKind(f"unknown metrics kind '{kind}'")
    if not _IDENT_RE.match(ident):
        raise PyxisError(f"invalid metrics id '{ident}'", status=400)
    return metrics


class RrdStore:
    """Every metrics file of one node, loaded lazily and written back on ``flush``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[tuple[str, str], RrdFile] = {}
        self._dirty: set[tuple[str, str]] = set()

    def path(self, kind: str, ident: str) -> Path:
        _check(kind, ident)
        return self.root / kind / ident

    def _get(self, kind: str, ident: str, create: bool) -> RrdFile | None:
        key = (kind, ident)
        rf = self._files.get(key)
        if rf is not None:
            return rf
        metrics = _check(kind, ident)
        path = self.path(kind, ident)
        try:
            rf = RrdFile.load(path, metrics)
        except FileNotFoundError:
            if not create:
                return None
            rf = RrdFile(metrics)
        except (OSError, RrdError) as err:
            log.warning("metrics file %s unreadable, starting afresh: %s", path, err)
            with contextlib.suppress(OSError):
                path.replace(path.with_name(path.name + ".broken"))
            rf = RrdFile(metrics)
        self._files[key] = rf
        return rf

    def update(
        self, kind: str, ident: str, when: float, values: Mapping[str, float | None]
    ) -> None:
        """Add one sample of ``kind``/``ident`` taken at ``when``."""
        rf = self._get(kind, ident, create=True)
        assert rf is not None
        if rf.update(when, values):
            self._dirty.add((kind, ident))

    def fetch(
        self, kind: str, ident: str, timeframe: str, cf: str, now: float
    ) -> list[dict[str, Any]]:
        """Rows of one archive ending at ``now``; an entity never sampled has all gaps."""
        rf = self._get(kind, ident, create=False)
        if rf is None:
            rf = RrdFile(_check(kind, ident))
        return rf.fetch(timeframe, cf, now)

    def forget(self, kind: str, ident: str) -> None:
        """Save and drop the cached copy - e.g. of a guest no longer on this node."""
        key = (kind, ident)
        rf = self._files.pop(key, None)
        self._dirty.discard(key)
        if rf is not None:
            _write_all([(self.path(kind, ident), rf.dumps())])

    async def flush(self, everything: bool = False) -> None:
        """Write the files that completed a PDP (``everything``: all cached files, so a
        restart resumes the minute in progress)."""
        keys = set(self._files) if everything else self._dirty
        self._dirty = set()
        batch = [(self.path(*key), self._files[key].dumps()) for key in keys if key in self._files]
        if batch:
            await asyncio.to_thread(_write_all, batch)


def _write_all(batch: list[tuple[Path, bytes]]) -> None:
    for path, data in batch:
        try:
            write_atomic(path, data)
        except OSError as err:
            log.warning("cannot write metrics file %s: %s", path, err)
