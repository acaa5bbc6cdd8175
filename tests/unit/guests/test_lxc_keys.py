"""Container config keys: typed parse/print, rejects, mount points, raw ``lxc.*`` keys,
and every declaration against the upstream contract (``pyxis/data/schema.json``)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import pytest

from pyxis.guests.lxc.keys import (
    CT_KEYS,
    is_root_only,
    key_schema,
    mac_generate,
    mountpoints,
    parse_features,
    parse_net,
    parse_value,
    print_value,
)

MAC = "BC:24:11:2C:69:EC"

# key, config text, typed value; printing the typed value gives the text back
VALUES: list[tuple[str, str, Any]] = [
    ("hostname", "web-01.example.com", "web-01.example.com"),
    ("ostype", "debian", "debian"),
    ("arch", "amd64", "amd64"),
    ("cores", "2", 2),
    ("cpulimit", "1.5", 1.5),
    ("cpuunits", "200", 200),
    ("memory", "512", 512),
    ("swap", "0", 0),
    ("unprivileged", "1", 1),
    (
        "rootfs",
        "local:100/subvol-100-disk-0.subvol,size=8G",
        {"volume": "local:100/subvol-100-disk-0.subvol", "size": "8G"},
    ),
    ("rootfs", "local-btrfs:8", {"volume": "local-btrfs:8"}),
    (
        "mp0",
        "local:100/vm-100-disk-1.raw,backup=1,mp=/data,size=4G",
        {"volume": "local:100/vm-100-disk-1.raw", "mp": "/data", "backup": 1, "size": "4G"},
    ),
    ("mp3", "/srv/share,mp=/mnt/share,ro=1", {"volume": "/srv/share", "mp": "/mnt/share", "ro": 1}),
    (
        "mp255",
        "local:2,mountoptions=noatime;nodev,mp=/x",
        {"volume": "local:2", "mp": "/x", "mountoptions": "noatime;nodev"},
    ),
    (
        "net0",
        f"bridge=vmbr0,firewall=1,hwaddr={MAC},ip=dhcp,name=eth0,type=veth",
        {
            "name": "eth0",
            "bridge": "vmbr0",
            "firewall": 1,
            "hwaddr": MAC,
            "ip": "dhcp",
            "type": "veth",
        },
    ),
    (
        "net31",
        "gw=10.0.0.1,ip=10.0.0.5/24,ip6=auto,mtu=9000,name=eth1,rate=12.5,tag=20",
        {
            "name": "eth1",
            "ip": "10.0.0.5/24",
            "gw": "10.0.0.1",
            "ip6": "auto",
            "mtu": 9000,
            "rate": 12.5,
            "tag": 20,
        },
    ),
    ("net1", "ip=manual,ip6=manual,name=eth1", {"name": "eth1", "ip": "manual", "ip6": "manual"}),
    ("nameserver", "1.1.1.1 fe80::1%eth0", "1.1.1.1 fe80::1%eth0"),
    ("searchdomain", "example.com", "example.com"),
    ("features", "fuse=1,mount=nfs;cifs,nesting=1", {"nesting": 1, "fuse": 1, "mount": "nfs;cifs"}),
    ("onboot", "1", 1),
    ("startup", "order=2,up=30", "order=2,up=30"),
    ("tags", "web;prod", "web;prod"),
    ("lock", "mounted", "mounted"),
    ("lock", "destroyed", "destroyed"),
    ("tty", "6", 6),
    ("cmode", "console", "console"),
    ("timezone", "Europe/Vienna", "Europe/Vienna"),
    ("entrypoint", "/sbin/init", "/sbin/init"),
    ("dev0", "/dev/ttyUSB0,gid=20,mode=0660", {"path": "/dev/ttyUSB0", "gid": 20, "mode": "0660"}),
    ("unused0", "local:100/vm-100-disk-2.raw", {"volume": "local:100/vm-100-disk-2.raw"}),
    ("lxc.apparmor.profile", "unconfined", "unconfined"),
    ("lxc.cgroup2.devices.allow", "c 10:200 rwm", "c 10:200 rwm"),
    (
        "lxc.mount.entry",
        "/dev/net dev/net none bind,create=dir",
        "/dev/net dev/net none bind,create=dir",
    ),
    ("parent", "snap1", "snap1"),
    ("snaptime", "1700000000", 1700000000),
]


@pytest.mark.parametrize(("key", "text", "typed"), VALUES)
def test_parse_value(key: str, text: str, typed: Any) -> None:
    assert parse_value(key, text) == typed


@pytest.mark.parametrize(("key", "text", "typed"), VALUES)
def test_print_value(key: str, text: str, typed: Any) -> None:
    assert print_value(key, typed) == text


BAD: list[tuple[str, str, str]] = [
    ("hostname", "web;rm -rf /", "DNS name"),
    ("hostname", "a\nlxc.include = /x", "line breaks"),
    ("hostname", "$(reboot)", "DNS name"),
    ("ostype", "windows", "enumeration"),
    ("memory", "8", "minimum"),
    ("tty", "7", "maximum"),
    ("rootfs", "size=8G", "missing"),
    ("mp0", "/srv/x", "'mp' is missing"),
    ("mp0", "/srv/../etc,mp=/x", "'..'"),
    ("mp0", "/srv/x,mp=/a/../../b", "'..'"),
    ("mp0", "/srv/x,mp=relative", "absolute path"),
    ("mp0", "/srv/x,mp=/", "mounted at '/'"),
    ("mp256", "/srv/x,mp=/x", "unknown configuration key"),
    ("net0", "bridge=vmbr0", "'name' is missing"),
    ("net0", "name=eth0,ip=10.0.0.1", "IPv4"),
    ("net0", "name=eth0,ip6=auto6", "IPv6"),
    ("net0", "name=eth0,type=macvlan", "enumeration"),
    ("net32", "name=eth0", "unknown configuration key"),
    ("features", "nesting=1,mount=nfs,cifs", "default key"),
    ("dev0", "/etc/shadow", "below /dev"),
    ("dev0", "/dev/../etc/shadow", "'..'"),
    ("nameserver", "8.8.8.8%eth0", "link-local"),
    ("timezone", "../../etc/shadow", "time zone"),
    ("lock", "suspended", "enumeration"),
    ("lxc.uts.name", "evil", "use the 'hostname' option"),
    ("lxc.rootfs.path", "/", "generated from 'rootfs'"),
    ("lxc.net.0.link", "vmbr1", "net[n]"),
    ("lxc.seccomp", "/x", "lxc.seccomp.profile"),
    ("lxc.include", "/etc/shadow", "not allowed"),
    ("lxc.made.up", "1", "unknown"),
    ("lxc.apparmor.profile", "a\nlxc.include = /x", "line breaks"),
    ("nokey", "1", "unknown configuration key"),
]


@pytest.mark.parametrize(("key", "text", "message"), BAD)
def test_bad_values(key: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")) as err:
        parse_value(key, text)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("key", "family"),
    [
        ("mp0", "mp[n]"),
        ("mp255", "mp[n]"),
        ("mp256", None),
        ("net31", "net[n]"),
        ("net32", None),
        ("dev7", "dev[n]"),
        ("unused3", "unused[n]"),
        ("rootfs", "rootfs"),
        ("lxc.cgroup2.memory.max", "raw"),
        ("lxc.uts.name", None),
        ("bogus", None),
    ],
)
def test_key_schema(key: str, family: str | None) -> None:
    schema = key_schema(key)
    if family is None:
        assert schema is None
    elif family == "raw":
        assert schema == {"type": "string", "optional": 1}
    else:
        assert schema is CT_KEYS[family]


def test_mountpoints_order_and_kinds() -> None:
    conf = {
        "rootfs": "local:100/subvol-100-disk-0.subvol",
        "mp2": "/srv/a,mp=/data/inner",
        "mp0": "local:4,mp=/data",
        "mp1": "/dev/sdb1,mp=/backup",
        "net0": "name=eth0",
    }
    got = [(m.key, m.path, m.kind) for m in mountpoints(conf)]
    assert got == [
        ("rootfs", "/", "volume"),
        ("mp1", "/backup", "device"),
        ("mp0", "/data", "alloc"),
        ("mp2", "/data/inner", "bind"),
    ]


@pytest.mark.parametrize(
    ("key", "value", "root_only"),
    [
        ("mp0", "/srv/x,mp=/x", True),
        ("mp0", "/dev/sdb,mp=/x", True),
        ("mp0", "local:4,mp=/x", False),
        ("rootfs", "local:8", False),
        ("dev0", "/dev/null", True),
        ("lxc.cap.drop", "sys_admin", True),
        ("memory", "512", False),
        ("hostname", "x", False),
    ],
)
def test_is_root_only(key: str, value: str, root_only: bool) -> None:
    assert is_root_only(key, value) is root_only


def test_parse_features_and_net() -> None:
    assert parse_features({}) == {"mount": []}
    assert parse_features({"features": "mount=nfs; cifs,keyctl=1"}) == {
        "keyctl": 1,
        "mount": ["nfs", "cifs"],
    }
    mac = mac_generate()
    assert parse_net(f"name=eth0,hwaddr={mac}")["hwaddr"] == mac
    with pytest.raises(ValueError, match="15 characters"):
        parse_net("name=averyveryverylongname")


# ---- against the upstream contract ------------------------------------------------

UPSTREAM: dict[str, Any] = json.loads(
    resources.files("pyxis.data").joinpath("schema.json").read_text()
)
CREATE = UPSTREAM["/nodes/{node}/lxc"]["POST"]["parameters"]["properties"]
GET_CONFIG = UPSTREAM["/nodes/{node}/lxc/{vmid}/config"]["GET"]["returns"]["properties"]
SUB_FIELDS = ("type", "enum", "default_key", "minimum", "maximum", "pattern")
# Ours accepts upstream's "manual" address setting; the name differs because the VM
# side registered the shared name with a stricter check.
FORMAT_EQUIV = {"pve-lxc-ipv4-config": "pve-ipv4-config", "pve-lxc-ipv6-config": "pve-ipv6-config"}
NOT_UPSTREAM = {"parent", "snaptime", "snapstate"}  # file-only bookkeeping
REQUIRED = [
    "hostname",
    "ostype",
    "arch",
    "cores",
    "cpulimit",
    "cpuunits",
    "memory",
    "swap",
    "rootfs",
    "mp[n]",
    "net[n]",
    "nameserver",
    "searchdomain",
    "unprivileged",
    "features",
    "onboot",
    "startup",
    "protection",
    "tags",
    "description",
    "hookscript",
    "lock",
    "template",
    "console",
    "tty",
    "cmode",
    "timezone",
    "entrypoint",
    "env",
    "dev[n]",
    "unused[n]",
    "parent",
    "snaptime",
]


def _same(a: Any, b: Any) -> bool:
    try:
        return a == b or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _problems(key: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in ("type", "enum", "minimum", "maximum", "maxLength", "pattern"):
        if field in theirs and not _same(ours.get(field), theirs[field]):
            out.append(f"{key}.{field}: {ours.get(field)!r} != {theirs[field]!r}")
    f_ours, f_theirs = ours.get("format"), theirs.get("format")
    if isinstance(f_theirs, dict):
        if not isinstance(f_ours, dict):
            return [*out, f"{key}: format {f_ours!r}, upstream inline"]
        if extra := sorted(set(f_ours) - set(f_theirs)):
            out.append(f"{key}: sub-keys {extra} not upstream")
        for sub in sorted(set(f_ours) & set(f_theirs)):
            for field in SUB_FIELDS:
                a, b = f_ours[sub].get(field), f_theirs[sub].get(field)
                if a != b and not _same(a, b):
                    out.append(f"{key}.{sub}.{field}: {a!r} != {b!r}")
            fa, fb = f_ours[sub].get("format"), f_theirs[sub].get("format")
            if FORMAT_EQUIV.get(fa, fa) != fb:
                out.append(f"{key}.{sub}.format: {fa!r} != {fb!r}")
            if bool(f_ours[sub].get("optional")) != bool(f_theirs[sub].get("optional")):
                out.append(f"{key}.{sub}: optional differs")
    elif f_ours != f_theirs:
        out.append(f"{key}: format {f_ours!r} != {f_theirs!r}")
    return out


def test_required_keys_are_declared() -> None:
    assert sorted(set(REQUIRED) - set(CT_KEYS)) == []


@pytest.mark.parametrize("key", sorted(set(CT_KEYS) - NOT_UPSTREAM))
def test_matches_upstream(key: str) -> None:
    theirs = CREATE.get(key, GET_CONFIG.get(key))
    assert theirs is not None, f"{key} is not an upstream container key"
    assert _problems(key, CT_KEYS[key], theirs) == []


def test_every_upstream_config_key_is_declared() -> None:
    assert sorted(set(GET_CONFIG) - set(CT_KEYS) - {"digest", "lxc"}) == []


def test_named_formats_are_registered() -> None:
    from pyxis.schema import formats

    for schema in CT_KEYS.values():
        fmt = schema.get("format")
        subs = fmt.values() if isinstance(fmt, dict) else [schema]
        for sub in subs:
            if isinstance(sub.get("format"), str):
                assert formats.lookup(sub["format"]) is not None, sub["format"]
