"""The installed QEMU's version, read once (``qemu-system-x86_64 --version``).

Recorded in a new VM's ``meta: creation-qemu=...`` as upstream does, so that later
releases can keep machine-type defaults stable for guests created earlier.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess

QEMU = "qemu-system-x86_64"


@functools.lru_cache(maxsize=1)
def qemu_version() -> str:
    """``7.2.22`` style version, or ``unknown`` when QEMU is not installed."""
    binary = shutil.which(QEMU)
    if binary is None:
        return "unknown"
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    m = re.search(r"version (\d+\.\d+\.\d+)", out)
    return m.group(1) if m else "unknown"
