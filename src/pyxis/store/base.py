"""The config-store contract shared by local and replicated mode.

Paths are relative, ``/``-separated, without leading slash (``storage.cfg``,
``nodes/n1/qemu-server/100.conf``, ``priv/shadow.cfg``).  Directories are implicit:
a directory exists while some entry lives below it.  Reads are synchronous and served
from memory (the whole tree fits: 128 MiB limit); mutations are async because in
cluster mode they return only once the agreed-order message has been applied.

Limits as upstream: a file holds at most 1 MiB, the tree at most 128 MiB.  A write may
be conditional on the SHA1 ``digest`` of the current content (upstream's optimistic
lock for config edits) or on the entry's version.  Named locks have a TTL (120 s as
upstream) and a holder; taking a lock that another holder has and that has not expired
raises ``Conflict``.
"""

from __future__ import annotations

import hashlib
import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pyxis.errors import ParamError

MAX_FILE = 1024 * 1024
MAX_TOTAL = 128 * 1024 * 1024
LOCK_TTL = 120.0
PATH_RE = re.compile(r"^[A-Za-z0-9_.\-+@]+(/[A-Za-z0-9_.\-+@]+)*\Z")


def digest(data: bytes) -> str:
    """Upstream's config digest: SHA1 hex of the raw file content."""
    return hashlib.sha1(data).hexdigest()  # noqa: S324 - compatibility digest, not security


def check_path(path: str) -> str:
    """Reject absolute paths, empty, ``.``/``..`` components and odd characters."""
    if not PATH_RE.match(path) or any(p in (".", "..") for p in path.split("/")):
        raise ParamError.one("path", f"invalid config store path '{path}'")
    return path


@dataclass(frozen=True)
class Entry:
    path: str
    data: bytes
    version: int
    mtime: int
    writer: str


@dataclass(frozen=True)
class Change:
    """One applied mutation, as seen on the watch feed. ``op``: write|delete|rename."""

    op: str
    path: str
    version: int
    new_path: str | None = None


class ConfigStore(ABC):
    """Contract of the config tree; see the module docstring for semantics."""

    # --- reads (local memory, synchronous) ---------------------------------
    @abstractmethod
    def get(self, path: str) -> Entry | None:
        """The entry at ``path`` or None."""

    def read(self, path: str) -> bytes | None:
        e = self.get(path)
        return e.data if e else None

    def read_text(self, path: str, default: str = "") -> str:
        data = self.read(path)
        return data.decode() if data is not None else default

    @abstractmethod
    def listdir(self, path: str = "") -> list[str]:
        """Sorted names of entries and implicit sub-directories directly below ``path``."""

    @abstractmethod
    def walk(self, prefix: str = "") -> list[Entry]:
        """All entries whose path starts with ``prefix`` (sorted by path)."""

    @property
    @abstractmethod
    def version(self) -> int:
        """Global version: bumped by every mutation."""

    @property
    def quorate(self) -> bool:
        return True

    @property
    def writable(self) -> bool:
        """Whether a mutation would be accepted now (always, in local mode)."""
        return True

    def status(self) -> dict[str, Any]:
        """Replication state for operators (``/cluster/config/store``)."""
        return {"mode": "local", "gv": self.version, "quorate": self.quorate}

    def checksum(self) -> str:
        """Order-independent digest of the whole state: equal on byte-identical replicas."""
        raise NotImplementedError

    # --- mutations ---------------------------------------------------------
    @abstractmethod
    async def write(
        self,
        path: str,
        data: bytes,
        *,
        expect_digest: str | None = None,
        expect_version: int | None = None,
        writer: str = "",
    ) -> Entry:
        """Create or replace; with an expectation, raise Conflict if it does not hold."""

    @abstractmethod
    async def create(self, path: str, data: bytes, *, writer: str = "") -> Entry:
        """Exclusive create: raise Conflict if ``path`` exists."""

    @abstractmethod
    async def delete(self, path: str, *, expect_digest: str | None = None) -> None:
        """Remove an entry; raise NotFound if missing."""

    @abstractmethod
    async def rename(self, src: str, dst: str) -> Entry:
        """Atomically move an entry; raise NotFound if src is missing, Conflict if dst exists."""

    @abstractmethod
    async def lock(self, name: str, holder: str, *, ttl: float = LOCK_TTL) -> None:
        """Take or renew the named lock for ``holder``; Conflict if held by another."""

    @abstractmethod
    async def unlock(self, name: str, holder: str) -> None:
        """Release the named lock if ``holder`` holds it."""

    @abstractmethod
    def watch(self) -> AsyncIterator[Change]:
        """Async iterator of changes applied after the call."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources."""
