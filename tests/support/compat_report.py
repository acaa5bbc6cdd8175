"""Compatibility coverage: how much of the upstream API is implemented and exercised.

An upstream endpoint counts as implemented when it is declared in the method registry
*and* the hit log (``PYXIS_HIT_LOG``, written by ``pyxis.server.hits`` during the
functional and system test runs) shows that a test called it.  Prints the figure
against the 649 upstream endpoints, per top-level area, then the declared methods no
test called.  Exits non-zero only when the report cannot be produced.

Usage: compat_report.py [HIT_LOG]   (default: $PYXIS_HIT_LOG)
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from importlib import resources
from pathlib import Path


def _load(name: str) -> object:
    return json.loads(resources.files("pyxis.data").joinpath(name).read_text())


def _area(path: str) -> str:
    parts = [p for p in path.split("/") if p]
    if not parts:
        return "/"
    if parts[0] == "nodes" and len(parts) > 2:
        return f"/nodes/{{node}}/{parts[2]}"
    return "/" + parts[0] + ("/" + parts[1] if parts[0] == "cluster" and len(parts) > 1 else "")


def main(argv: list[str]) -> int:
    log_name = argv[1] if len(argv) > 1 else os.environ.get("PYXIS_HIT_LOG")
    if not log_name:
        print("compat_report: no hit log (set PYXIS_HIT_LOG or pass a path)", file=sys.stderr)
        return 2
    log = Path(log_name)
    hits: set[str] = set()
    if log.exists():
        hits = {line.strip() for line in log.read_text().splitlines() if line.strip()}
    else:
        print(f"compat_report: warning: {log} does not exist; counting no calls", file=sys.stderr)

    import pyxis.api.all  # noqa: F401 - registers every API method
    from pyxis.schema.registry import REGISTRY

    upstream = _load("schema.json")
    extensions = _load("extensions.json")
    assert isinstance(upstream, dict) and isinstance(extensions, list)
    up_keys = {f"{http} {path}" for path, ms in upstream.items() for http in ms}
    ext_keys = {f"{e['method']} {e['path']}" for e in extensions if "param" not in e}
    declared = {m.key for m in REGISTRY}
    implemented = declared & hits & up_keys
    uncalled = sorted(declared - hits, key=lambda k: (k.split(" ", 1)[1], k))
    unknown = sorted(hits - declared)

    total = len(up_keys)
    pct = 100.0 * len(implemented) / total if total else 0.0
    print(f"compat: implemented {len(implemented)}/{total} upstream endpoints ({pct:.1f}%)")
    print(
        f"compat: declared {len(declared & up_keys)} upstream methods, "
        f"{len(declared - up_keys)} extensions ({len(ext_keys)} allow-listed incl. non-registry), "
        f"{len(hits)} distinct methods called"
    )
    by_area_up = Counter(_area(k.split(" ", 1)[1]) for k in up_keys)
    by_area_impl = Counter(_area(k.split(" ", 1)[1]) for k in implemented)
    print("compat: by area (implemented/upstream):")
    for area in sorted(by_area_up, key=lambda a: (-by_area_impl[a], -by_area_up[a], a)):
        if by_area_impl[area] or by_area_up[area] >= 10:
            print(f"  {area:32} {by_area_impl[area]:4}/{by_area_up[area]}")
    print(f"compat: declared but never called by a functional/system test: {len(uncalled)}")
    for key in uncalled:
        print(f"  {key}")
    if unknown:
        print(f"compat: hit log entries not in the registry (stale log?): {len(unknown)}")
        for key in unknown:
            print(f"  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
