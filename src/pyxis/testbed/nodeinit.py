"""Start a testbed node's program with the host's cgroup hierarchies in view.

``ip netns exec`` runs a program in a mount namespace of its own with a fresh sysfs
for the node's network namespace (so ``/sys/class/net`` shows the node's interfaces),
which leaves ``/sys/fs/cgroup`` empty.  LXC cannot start a container without the cgroup
hierarchies, and pyxisd confines guests with them.  This mounts, in that private mount
namespace, the hierarchies the host has (as listed in ``/proc/1/mountinfo``; a cgroup
hierarchy mounted again is the same hierarchy), then runs the program in its place::

    ip netns exec NS python -m pyxis.testbed.nodeinit -- PROGRAM ARGS...
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CGROUP_ROOT = "/sys/fs/cgroup"
FSTYPES = ("tmpfs", "cgroup", "cgroup2")


def cgroup_mounts(mountinfo: str) -> list[tuple[str, str, str]]:
    """``(mount point, fstype, options)`` of the cgroup tree in a mountinfo text, parents
    first."""
    found = []
    for line in mountinfo.splitlines():
        pre, sep, post = line.partition(" - ")
        fields, tail = pre.split(), post.split()
        if not sep or len(fields) < 5 or len(tail) < 3:
            continue
        point, fstype, options = fields[4], tail[0], tail[2]
        if fstype not in FSTYPES:
            continue
        if point == CGROUP_ROOT or point.startswith(CGROUP_ROOT + "/"):
            opts = ",".join(o for o in options.split(",") if o not in ("rw", "ro"))
            found.append((point, fstype, opts))
    return sorted(found, key=lambda m: m[0].count("/"))


def mount_all(mounts: list[tuple[str, str, str]]) -> list[str]:
    """Mount what is missing; return the errors (the program runs anyway)."""
    errors = []
    for point, fstype, opts in mounts:
        if os.path.ismount(point):
            continue
        Path(point).mkdir(parents=True, exist_ok=True)
        if fstype == "tmpfs":
            argv = ["mount", "-t", "tmpfs", "-o", "mode=755", "tmpfs", point]
        elif fstype == "cgroup2":
            argv = ["mount", "-t", "cgroup2", "cgroup2", point]
        else:
            argv = ["mount", "-t", "cgroup", "-o", opts or "none", "cgroup", point]
        res = subprocess.run(argv, capture_output=True, text=True, check=False)
        if res.returncode != 0:
            errors.append(f"{point}: {res.stderr.strip()}")
    return errors


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--"]:
        args = args[1:]
    if not args:
        raise SystemExit("usage: python -m pyxis.testbed.nodeinit -- PROGRAM ARGS...")
    for err in mount_all(cgroup_mounts(Path("/proc/1/mountinfo").read_text())):
        print(f"nodeinit: cannot mount cgroup {err}", file=sys.stderr)
    os.execvp(args[0], args)  # noqa: S606 - the program and its arguments, no shell


if __name__ == "__main__":
    main()
