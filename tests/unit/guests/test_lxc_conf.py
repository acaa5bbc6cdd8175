"""LXC config rendering: golden files per feature, cgroup v1/v2 limits, and no line
injection through any value.

Golden files live in ``golden/lxc/<case>.conf``; regenerate them with
``PYXIS_UPDATE_GOLDEN=1`` after an intended change and review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pyxis.guests.lxc.lxcconf import (
    Device,
    NodeFacts,
    RenderError,
    build_lxc_conf,
    config_path,
    fstab_escape,
    render_lines,
    render_lxc_conf,
)

GOLDEN = Path(__file__).parent / "golden" / "lxc"
UPDATE = os.environ.get("PYXIS_UPDATE_GOLDEN") == "1"
ROOTFS = "/var/lib/vz/images/100/subvol-100-disk-0.subvol"
BASE = {"rootfs": "local:100/subvol-100-disk-0.subvol,size=8G", "hostname": "ct100"}
V2 = NodeFacts(vmid=100, rootfs_path=ROOTFS)
V1 = NodeFacts(vmid=100, rootfs_path=ROOTFS, cgroup="v1")
MAC = "BC:24:11:2C:69:EC"

CASES: dict[str, tuple[dict[str, str], NodeFacts]] = {
    "minimal": ({"rootfs": "local:100/subvol-100-disk-0.subvol"}, V2),
    "limits_v2": (
        {**BASE, "memory": "1024", "swap": "256", "cpulimit": "2", "cpuunits": "500", "cores": "2"},
        NodeFacts(100, ROOTFS, cpuset="0-1"),
    ),
    "limits_v1": (
        {**BASE, "memory": "1024", "swap": "256", "cpulimit": "0.5", "cpuunits": "2048"},
        V1,
    ),
    "network": (
        {
            **BASE,
            "net0": f"name=eth0,bridge=vmbr0,hwaddr={MAC},ip=dhcp,mtu=1400",
            "net1": "name=eth1,bridge=vmbr1,ip=10.0.0.5/24,gw=10.0.0.1,tag=20,link_down=1",
            "net2": "name=eth2,bridge=vmbr2,trunks=10;20;30",
        },
        V2,
    ),
    "unprivileged": ({**BASE, "unprivileged": "1"}, V2),
    "unprivileged_custom_map": (
        {**BASE, "unprivileged": "1"},
        NodeFacts(100, ROOTFS, idmap=(("u", 0, 200000, 65536), ("g", 0, 300000, 65536))),
    ),
    "mountpoints": (
        {
            **BASE,
            "mp0": "local:100/subvol-100-disk-1.subvol,mp=/data",
            "mp1": "/srv/share dir,mp=/data/share,ro=1,mountoptions=noatime;nodev",
        },
        NodeFacts(
            100,
            ROOTFS,
            mount_paths={
                "mp0": "/var/lib/vz/images/100/subvol-100-disk-1.subvol",
                "mp1": "/srv/share dir",
            },
        ),
    ),
    "features_nesting_fuse_keyctl": (
        {**BASE, "unprivileged": "1", "features": "nesting=1,fuse=1,keyctl=1"},
        NodeFacts(100, ROOTFS, seccomp_profile="/s/default", seccomp_profile_keyctl="/s/keyctl"),
    ),
    "apparmor_mount_rw_sys": (
        {**BASE, "features": "mount=nfs;cifs,force_rw_sys=1"},
        NodeFacts(100, ROOTFS, apparmor=True),
    ),
    "seccomp_default": (
        {**BASE, "unprivileged": "1"},
        NodeFacts(100, ROOTFS, seccomp_profile="/s/default"),
    ),
    "console_off_tty": ({**BASE, "console": "0", "tty": "4", "arch": "arm64"}, V2),
    "devices_v1": (
        {**BASE, "dev0": "/dev/ttyUSB0,mode=0660", "dev1": "/dev/sdb,deny-write=1"},
        NodeFacts(
            100,
            ROOTFS,
            cgroup="v1",
            devices={"/dev/ttyUSB0": Device("c", 188, 0), "/dev/sdb": Device("b", 8, 16)},
        ),
    ),
    "entrypoint_env_hooks_raw": (
        {
            **BASE,
            "entrypoint": "/bin/app --serve",
            "env": "GREETING=hello world",
            "lxc.cgroup2.pids.max": "200",
            "lxc.apparmor.profile": "unconfined",
        },
        NodeFacts(
            100,
            ROOTFS,
            hooks={"pre-start": "/usr/lib/p/hook", "post-stop": "/usr/lib/p/stop"},
            includes=("/usr/share/lxc/config/common.conf",),
        ),
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    conf, facts = CASES[case]
    text = render_lxc_conf(conf, facts)
    path = GOLDEN / f"{case}.conf"
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with PYXIS_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def test_no_stale_goldens() -> None:
    assert {p.stem for p in GOLDEN.glob("*.conf")} == set(CASES)


def _values(entries: list[tuple[str, str]], key: str) -> list[str]:
    return [v for k, v in entries if k == key]


@pytest.mark.parametrize(
    ("facts", "memory_key", "swap_key", "swap_bytes"),
    [
        (V2, "lxc.cgroup2.memory.max", "lxc.cgroup2.memory.swap.max", 512 * 2**20),
        (
            V1,
            "lxc.cgroup.memory.limit_in_bytes",
            "lxc.cgroup.memory.memsw.limit_in_bytes",
            1024 * 2**20,
        ),
    ],
)
def test_memory_defaults(facts: NodeFacts, memory_key: str, swap_key: str, swap_bytes: int) -> None:
    entries = build_lxc_conf(BASE, facts)
    assert _values(entries, memory_key) == [str(512 * 2**20)]
    assert _values(entries, swap_key) == [str(swap_bytes)]


def test_repeated_raw_entries_and_extra_raw() -> None:
    entries = build_lxc_conf(
        BASE,
        V2,
        raw=[("lxc.mount.entry", "a b none bind 0 0"), ("lxc.mount.entry", "c d none bind 0 0")],
    )
    assert _values(entries, "lxc.mount.entry")[-2:] == ["a b none bind 0 0", "c d none bind 0 0"]
    with pytest.raises(RenderError, match=r"lxc\.uts\.name"):
        build_lxc_conf(BASE, V2, raw=[("lxc.uts.name", "evil")])


def test_default_hostname_and_path() -> None:
    entries = build_lxc_conf({}, NodeFacts(vmid=123, rootfs_path="/r", lxc_path="/run/lxc/"))
    assert _values(entries, "lxc.uts.name") == ["CT123"]
    assert config_path(NodeFacts(vmid=123, rootfs_path="/r", lxc_path="/run/lxc/")) == (
        "/run/lxc/123/config"
    )


def test_missing_mount_source_or_device() -> None:
    with pytest.raises(RenderError, match="mp0: no host path"):
        build_lxc_conf({**BASE, "mp0": "local:4,mp=/x"}, V2)
    with pytest.raises(RenderError, match="unknown device"):
        build_lxc_conf({**BASE, "dev0": "/dev/null"}, V2)


# ---- injection: a value can never add a line ----------------------------------------

INJECTIONS = [
    ("hostname", "ct100\nlxc.include = /etc/evil"),
    ("hostname", "ct100\rlxc.include = /etc/evil"),
    ("net0", "name=eth0,bridge=vmbr0\nlxc.include=/x"),
    ("mp0", "/srv/x,mp=/data\nlxc.mount.entry = / host none bind 0 0"),
    ("lxc.apparmor.profile", "unconfined\nlxc.include = /etc/evil"),
    ("lxc.cgroup2.pids.max", "1\0lxc.include = /x"),
    ("env", "A=1\nlxc.include=/x"),
    ("entrypoint", "/sbin/init\nlxc.include = /x"),
    ("arch", "amd64\nlxc.include = /x"),
    ("bogus", "1"),
]


@pytest.mark.parametrize(("key", "value"), INJECTIONS)
def test_values_cannot_inject_lines(key: str, value: str) -> None:
    with pytest.raises(ValueError):
        render_lxc_conf({**BASE, key: value}, NodeFacts(100, ROOTFS, mount_paths={"mp0": "/s"}))


@pytest.mark.parametrize(
    "facts",
    [
        NodeFacts(100, "/root\nlxc.include = /x"),
        NodeFacts(100, ROOTFS, hooks={"pre-start": "/hook\nlxc.include = /x"}),
        NodeFacts(100, ROOTFS, seccomp_profile="/p\n"),
        NodeFacts(100, ROOTFS, includes=("/a\0",)),
    ],
)
def test_facts_cannot_inject_lines(facts: NodeFacts) -> None:
    with pytest.raises(RenderError, match="line breaks"):
        render_lxc_conf(BASE, facts)


def test_serialiser_refuses_line_breaks() -> None:
    assert render_lines([("lxc.tty.max", "2")]) == "lxc.tty.max = 2\n"
    for entry in [("lxc.tty.max", "2\n"), ("lxc.a\nb", "1"), ("lxc.a = b", "1"), ("", "1")]:
        with pytest.raises(RenderError):
            render_lines([entry])


def test_fstab_escape() -> None:
    assert fstab_escape("/srv/my dir\\x\ty") == "/srv/my\\040dir\\134x\\011y"
