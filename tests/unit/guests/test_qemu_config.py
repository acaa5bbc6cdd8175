"""qemu-server ``<vmid>.conf`` files: parse, print (byte-identical), errors, views."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from pyxis.guests.qemu.config import (
    VmConfig,
    decode_text,
    digest,
    encode_text,
    parse_config,
    pending_view,
    render_config,
    snapshot_tree,
)
from pyxis.guests.qemu.keys import parse_value

DEBIAN = """\
boot: order=scsi0;ide2;net0
cores: 2
cpu: x86-64-v2-AES
ide2: local:iso/debian-12.5.0-amd64-netinst.iso,media=cdrom,size=629M
memory: 2048
meta: creation-qemu=9.0.2,ctime=1718035123
name: debian12
net0: virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1
numa: 0
ostype: l26
scsi0: local-lvm:vm-100-disk-0,iothread=1,size=32G
scsihw: virtio-scsi-single
smbios1: uuid=7d3f5a0e-2c1b-4b8e-9f6a-3e2d1c0b9a87
sockets: 1
vmgenid: 1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f
"""

PENDING = """\
boot: order=scsi0;net0
cores: 2
memory: 2048
name: web01
net0: virtio=BC:24:11:AA:BB:01,bridge=vmbr0
net1: virtio=BC:24:11:AA:BB:02,bridge=vmbr1,tag=20
ostype: l26
scsi0: local-lvm:vm-101-disk-0,size=16G
scsihw: virtio-scsi-single

[PENDING]
cores: 4
delete: net1,!serial0
memory: 4096
"""

SNAPSHOTS = """\
#Production database
boot: order=scsi0
cores: 4
memory: 8192
name: db01
parent: after-upgrade
scsi0: local-lvm:vm-102-disk-0,size=64G

[after-upgrade]
#after apt full-upgrade
boot: order=scsi0
cores: 4
memory: 8192
name: db01
parent: before-upgrade
runningcpu: kvm64,enforce,+kvm_pv_eoi,+kvm_pv_unhalt,+lahf_lm,+sep
runningmachine: pc-i440fx-9.0+pve0
scsi0: local-lvm:vm-102-disk-0,size=64G
snaptime: 1718100000
vmstate: local-lvm:vm-102-state-after-upgrade

[before-upgrade]
boot: order=scsi0
cores: 2
memory: 4096
name: db01
scsi0: local-lvm:vm-102-disk-0,size=64G
snaptime: 1718000000
"""

CLOUDINIT = """\
boot: order=scsi0
cicustom: user=local:snippets/user.yaml
cipassword: $5$rounds=5000$salt$hash
ciuser: debian
ide2: local-lvm:vm-103-cloudinit,media=cdrom
ipconfig0: ip=10.0.0.5/24,gw=10.0.0.1
ipconfig1: ip=dhcp,ip6=auto
memory: 1024
name: ci01
nameserver: 1.1.1.1 9.9.9.9
net0: virtio=BC:24:11:00:00:03,bridge=vmbr0
net1: virtio=BC:24:11:00:00:04,bridge=vmbr1
scsi0: local-lvm:vm-103-disk-0,size=4G
searchdomain: example.com
serial0: socket
sshkeys: ssh-ed25519%20AAAAC3NzaC1lZDI1NTE5AAAAIG%2Bx%20user%40host%0A
vga: serial0

[special:cloudinit]
ciuser: debian
ipconfig0: ip=10.0.0.5/24,gw=10.0.0.1
name: ci01
net0: virtio=BC:24:11:00:00:03,bridge=vmbr0
"""

DESCRIPTION_TEXT = "Web server: nginx\n\nOwner: ops@example.com\nÜnïcødé ✓ 100% done %41"
DESCRIBED = """\
#Web server%3A nginx
#
#Owner%3A ops@example.com
#%C3%9Cn%C3%AFc%C3%B8d%C3%A9 %E2%9C%93 100% done %2541
cores: 1
memory: 512
name: described
"""

TEMPLATE = """\
boot: order=scsi0
memory: 2048
name: debian-tmpl
scsi0: local-lvm:base-9000-disk-0,size=2G
template: 1
"""

FILES = {
    "debian": DEBIAN,
    "pending": PENDING,
    "snapshots": SNAPSHOTS,
    "cloudinit": CLOUDINIT,
    "description": DESCRIBED,
    "template": TEMPLATE,
}

PARSED: list[tuple[str, str, Any]] = [
    ("debian", "main.cpu", "x86-64-v2-AES"),
    ("debian", "main.scsi0", "local-lvm:vm-100-disk-0,iothread=1,size=32G"),
    ("debian", "main.len", 15),
    ("pending", "pending", {"cores": "4", "memory": "4096"}),
    ("pending", "pending_delete", ["net1", "!serial0"]),
    ("pending", "main.cores", "2"),
    ("snapshots", "main.description", "Production database"),
    ("snapshots", "main.parent", "after-upgrade"),
    ("snapshots", "snapshots.names", ["after-upgrade", "before-upgrade"]),
    ("snapshots", "snap.after-upgrade.description", "after apt full-upgrade"),
    ("snapshots", "snap.after-upgrade.vmstate", "local-lvm:vm-102-state-after-upgrade"),
    ("snapshots", "snap.before-upgrade.parent", None),
    ("cloudinit", "special", {"cloudinit": 4}),
    ("cloudinit", "main.nameserver", "1.1.1.1 9.9.9.9"),
    ("description", "main.description", DESCRIPTION_TEXT),
    ("template", "main.template", "1"),
]


def _pick(cfg: VmConfig, path: str) -> Any:
    head, _, rest = path.partition(".")
    if head == "main":
        return len(cfg.main) if rest == "len" else cfg.main.get(rest)
    if head == "snap":
        name, _, key = rest.rpartition(".")
        return cfg.snapshots[name].get(key)
    if head == "snapshots":
        return list(cfg.snapshots)
    if head == "special":
        return {k: len(v) for k, v in cfg.special.items()}
    return getattr(cfg, head)


@pytest.mark.parametrize(("name", "path", "expected"), PARSED)
def test_parse(name: str, path: str, expected: Any) -> None:
    assert _pick(parse_config(FILES[name]), path) == expected


@pytest.mark.parametrize("name", sorted(FILES))
def test_round_trip_bytes(name: str) -> None:
    text = FILES[name]
    assert render_config(parse_config(text)) == text


@pytest.mark.parametrize("name", sorted(FILES))
def test_round_trip_model(name: str) -> None:
    cfg = parse_config(FILES[name])
    assert parse_config(render_config(cfg)) == cfg


@pytest.mark.parametrize("name", sorted(FILES))
def test_every_value_is_valid(name: str) -> None:
    cfg = parse_config(FILES[name])
    sections = [cfg.main, cfg.pending, *cfg.snapshots.values(), *cfg.special.values()]
    for section in sections:
        for key, value in section.items():
            parse_value(key, value)


def test_render_sorts_and_orders_sections() -> None:
    cfg = VmConfig(
        main={"name": "x", "memory": "512", "description": "hi"},
        pending={"memory": "1024"},
        pending_delete=["net0"],
        snapshots={"zeta": {"snaptime": "2"}, "alpha": {"snaptime": "1"}},
        special={"cloudinit": {"name": "x"}},
    )
    assert render_config(cfg) == (
        "#hi\nmemory: 512\nname: x\n"
        "\n[PENDING]\ndelete: net0\nmemory: 1024\n"
        "\n[special:cloudinit]\nname: x\n"
        "\n[alpha]\nsnaptime: 1\n"
        "\n[zeta]\nsnaptime: 2\n"
    )


def test_unsorted_file_is_canonicalised() -> None:
    text = "name: b\ncores: 1\n\n\n[snap1]\nname: a\nsnaptime: 5\n"
    assert (
        render_config(parse_config(text)) == "cores: 1\nname: b\n\n[snap1]\nname: a\nsnaptime: 5\n"
    )


def test_comment_lines_anywhere_join_description() -> None:
    cfg = parse_config("cores: 1\n#first\nmemory: 512\n#second\n")
    assert cfg.main["description"] == "first\nsecond"


def test_empty_pending_description_is_kept() -> None:
    cfg = VmConfig(main={"cores": "1"}, pending={"description": ""})
    text = render_config(cfg)
    assert text == "cores: 1\n\n[PENDING]\n#\n"
    assert parse_config(text) == cfg


ENCODED = [
    ("plain text", "plain text"),
    ("a:b", "a%3Ab"),
    ("tab\there", "tab%09here"),
    ("ümlaut", "%C3%BCmlaut"),
    ("100%", "100%"),
    ("%41 literal", "%2541 literal"),
    ("url http://x/?a=b&c", "url http%3A//x/?a=b&c"),
]


@pytest.mark.parametrize(("text", "encoded"), ENCODED)
def test_description_encoding(text: str, encoded: str) -> None:
    assert encode_text(text) == encoded
    assert decode_text(encoded) == text


def test_upstream_escapes_decode() -> None:
    assert decode_text("caf%C3%A9%3A ok") == "café: ok"


BAD: list[tuple[str, str, str]] = [
    ("garbage line", "cores: 1\nthis is not a key\n", "line 2"),
    ("empty value", "cores:\n", "line 1"),
    ("uppercase key", "Cores: 2\n", "line 1"),
    ("duplicate key", "cores: 1\nmemory: 512\ncores: 2\n", "line 3: duplicate key 'cores'"),
    ("duplicate in snapshot", "[s1]\ncores: 1\ncores: 1\n", "line 3: duplicate key"),
    ("duplicate snapshot", "[s1]\ncores: 1\n\n[s1]\ncores: 2\n", "line 4: duplicate snapshot"),
    ("duplicate pending", "[PENDING]\ncores: 1\n[PENDING]\n", "line 3: duplicate section"),
    ("bad snapshot name", "cores: 1\n\n[1st]\n", "line 3: invalid section name"),
    ("one-letter snapshot", "[a]\n", "line 1: invalid section name"),
    ("snapshot with dot", "[v1.0]\n", "line 1: invalid section name"),
    ("unknown special", "[special:foo]\n", "line 1: unknown special section"),
    ("digest stored", "digest: abc\n", "line 1: key 'digest' may not be stored"),
    ("delete twice", "[PENDING]\ndelete: a\ndelete: b\n", "line 3: duplicate key 'delete'"),
    ("description twice", "#x\ndescription: y\n", "line 2: duplicate key 'description'"),
    ("unterminated header", "[snap1\n", "line 1"),
]


@pytest.mark.parametrize(("what", "text", "message"), BAD, ids=[b[0] for b in BAD])
def test_parse_errors(what: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_config(text)


RENDER_BAD: list[tuple[str, VmConfig]] = [
    ("newline in value", VmConfig(main={"name": "a\nb"})),
    ("bad key", VmConfig(main={"bad key": "1"})),
    ("empty value", VmConfig(main={"cores": ""})),
    ("bad snapshot name", VmConfig(snapshots={"9lives": {"snaptime": "1"}})),
    ("snapshot named pending", VmConfig(snapshots={"pending": {"snaptime": "1"}})),
    ("unknown special", VmConfig(special={"other": {}})),
    ("digest", VmConfig(main={"digest": "x"})),
]


@pytest.mark.parametrize(("what", "cfg"), RENDER_BAD, ids=[b[0] for b in RENDER_BAD])
def test_render_errors(what: str, cfg: VmConfig) -> None:
    with pytest.raises(ValueError):
        render_config(cfg)


def test_digest_is_sha1_of_raw_text() -> None:
    assert digest(DEBIAN) == hashlib.sha1(DEBIAN.encode()).hexdigest()
    assert digest(DEBIAN.encode()) == digest(DEBIAN)
    assert len(digest("")) == 40


def test_snapshot_tree() -> None:
    assert snapshot_tree(parse_config(SNAPSHOTS)) == [
        {"name": "before-upgrade", "description": "", "snaptime": 1718000000},
        {
            "name": "after-upgrade",
            "description": "after apt full-upgrade",
            "parent": "before-upgrade",
            "snaptime": 1718100000,
            "vmstate": 1,
        },
        {"name": "current", "description": "You are here!", "parent": "after-upgrade"},
    ]


def test_snapshot_tree_without_snapshots() -> None:
    assert snapshot_tree(parse_config(DEBIAN)) == [
        {"name": "current", "description": "You are here!"}
    ]


def test_pending_view() -> None:
    rows = {r["key"]: r for r in pending_view(parse_config(PENDING))}
    assert rows["cores"] == {"key": "cores", "value": "2", "pending": "4"}
    assert rows["memory"] == {"key": "memory", "value": "2048", "pending": "4096"}
    assert rows["net1"]["delete"] == 1
    assert rows["net1"]["value"].startswith("virtio=")
    assert rows["serial0"] == {"key": "serial0", "delete": 2}
    assert rows["name"] == {"key": "name", "value": "web01"}
    assert [r["key"] for r in pending_view(parse_config(PENDING))] == sorted(rows)


def test_pending_view_new_key_only_pending() -> None:
    cfg = VmConfig(main={"cores": "1"}, pending={"balloon": "512"})
    assert pending_view(cfg) == [
        {"key": "balloon", "pending": "512"},
        {"key": "cores", "value": "1"},
    ]


LXC_FILE = """#my container
arch: amd64
cores: 2
hostname: ct1
lxc.apparmor.profile: unconfined
memory: 512
net0: name=eth0,bridge=vmbr0,hwaddr=BC:24:11:00:00:01,ip=dhcp,type=veth
rootfs: local:107/vm-107-disk-0.raw,size=8G

[pve:pending]
cores: 4
delete: swap

[before]
arch: amd64
hostname: ct1
snaptime: 1700000000
"""


def test_lxc_dialect_round_trip() -> None:
    from pyxis.guests.qemu.config import LXC

    cfg = parse_config(LXC_FILE, LXC)
    assert cfg.main["lxc.apparmor.profile"] == "unconfined"
    assert cfg.pending == {"cores": "4"} and cfg.pending_delete == ["swap"]
    assert render_config(cfg, LXC) == LXC_FILE


def test_qemu_dialect_refuses_raw_lxc_keys() -> None:
    with pytest.raises(ValueError, match="line 1"):
        parse_config("lxc.init.cmd: /sbin/init\n")
