"""Optional record of which API methods were called, for the compatibility report.

When ``PYXIS_HIT_LOG`` names a file, every routed request appends ``METHOD PATH``
(the declared path template) to it.  The test suite sets it so that the report counts
an endpoint as implemented only if a functional or system test actually called it.
"""

from __future__ import annotations

import os

_PATH = os.environ.get("PYXIS_HIT_LOG")
_seen: set[str] = set()


def record(http: str, template: str) -> None:
    if not _PATH:
        return
    key = f"{http} {template}"
    if key in _seen:
        return
    _seen.add(key)
    with open(_PATH, "a") as fh:
        fh.write(key + "\n")
