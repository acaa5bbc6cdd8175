"""The cgroup tree a testbed node's mount namespace gets back (parsing only)."""

from __future__ import annotations

from pyxis.testbed.nodeinit import cgroup_mounts

MOUNTINFO = """\
25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 25 0:24 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:8 - tmpfs tmpfs ro,mode=755
27 26 0:25 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate
28 26 0:26 / /sys/fs/cgroup/systemd rw,nosuid shared:10 - cgroup cgroup rw,xattr,name=systemd
31 26 0:29 / /sys/fs/cgroup/cpuset rw,nosuid shared:13 - cgroup cgroup rw,cpuset,clone_children
32 26 0:30 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:14 - cgroup cgroup rw,cpu,cpuacct
40 30 0:40 / /run rw,nosuid shared:20 - tmpfs tmpfs rw,mode=755
"""


def test_cgroup_tree_parents_first_without_rw() -> None:
    assert cgroup_mounts(MOUNTINFO) == [
        ("/sys/fs/cgroup", "tmpfs", "mode=755"),
        ("/sys/fs/cgroup/unified", "cgroup2", "nsdelegate"),
        ("/sys/fs/cgroup/systemd", "cgroup", "xattr,name=systemd"),
        ("/sys/fs/cgroup/cpuset", "cgroup", "cpuset,clone_children"),
        ("/sys/fs/cgroup/cpu,cpuacct", "cgroup", "cpu,cpuacct"),
    ]
