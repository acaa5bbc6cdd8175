"""Every filesystem path a node owns, derived from its ``--root``.

``--root /`` gives the production layout (``/var/lib/pyxis/config.db``, ``/var/lib/vz``,
``/var/log/pyxis/tasks``, ``/run/pyxis``); any other root prefixes all of them so that
several nodes run side by side on one machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    root: Path

    @classmethod
    def at(cls, root: str | Path) -> Paths:
        return cls(Path(root).resolve())

    def _p(self, rel: str) -> Path:
        return self.root / rel

    @property
    def lib_dir(self) -> Path:
        return self._p("var/lib/pyxis")

    @property
    def config_db(self) -> Path:
        return self.lib_dir / "config.db"

    @property
    def default_storage(self) -> Path:
        return self._p("var/lib/vz")

    @property
    def task_dir(self) -> Path:
        return self._p("var/log/pyxis/tasks")

    @property
    def run_dir(self) -> Path:
        return self._p("run/pyxis")

    @property
    def socket(self) -> Path:
        return self.run_dir / "pyxisd.sock"

    @property
    def pidfile(self) -> Path:
        return self.run_dir / "pyxisd.pid"

    def ensure(self) -> None:
        """Create the directories the daemon writes to (private ones mode 0700)."""
        for d in (self.lib_dir, self.task_dir, self.default_storage):
            d.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.chmod(0o700)
        self.lib_dir.chmod(0o700)
