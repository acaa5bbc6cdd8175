"""Start a long-lived helper process detached from the caller's session.

Daemons Pyxis starts itself (corosync and corosync-qdevice outside systemd, a testbed
node's pyxisd) survive the starter, log to a file and read nothing.  Commands that run
to completion go through ``pyxis.util.run`` instead.
"""

from __future__ import annotations

import subprocess
from pathlib import Path


def spawn_detached(
    argv: list[str], logfile: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with stdout and stderr appended to ``logfile``."""
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as fh:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
