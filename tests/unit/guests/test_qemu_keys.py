"""VM config keys: typed parse/print of real-world values, rejects, helpers, and the
declarations against the upstream contract (``pyxis/data/schema.json``)."""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Any

import pytest

from pyxis.guests.qemu import keys
from pyxis.guests.qemu.keys import (
    ALLOC_RE,
    VM_KEYS,
    drive_keys,
    is_cdrom,
    is_drive_key,
    key_schema,
    mac_generate,
    parse_boot_order,
    parse_drive,
    parse_net,
    parse_value,
    print_value,
)

MAC = "BC:24:11:2C:69:EC"
UUID = "7d3f5a0e-2c1b-4b8e-9f6a-3e2d1c0b9a87"

# key, config text, typed value; printing the typed value gives the text back
VALUES: list[tuple[str, str, Any]] = [
    ("name", "debian12", "debian12"),
    ("name", "web-01.example.com", "web-01.example.com"),
    ("memory", "2048", {"current": 2048}),
    ("balloon", "0", 0),
    ("shares", "1000", 1000),
    ("cores", "4", 4),
    ("sockets", "2", 2),
    ("vcpus", "3", 3),
    ("cpu", "x86-64-v2-AES", {"cputype": "x86-64-v2-AES"}),
    ("cpu", "host,flags=+aes;-pcid", {"cputype": "host", "flags": "+aes;-pcid"}),
    (
        "cpu",
        "custom-mycpu,hidden=1,hv-vendor-id=proxmox,phys-bits=host,reported-model=EPYC",
        {
            "cputype": "custom-mycpu",
            "hidden": 1,
            "hv-vendor-id": "proxmox",
            "phys-bits": "host",
            "reported-model": "EPYC",
        },
    ),
    ("cpulimit", "1.5", 1.5),
    ("cpulimit", "2", 2),
    ("cpuunits", "100", 100),
    ("numa", "0", 0),
    ("ostype", "l26", "l26"),
    ("ostype", "win11", "win11"),
    ("machine", "q35", {"type": "q35"}),
    ("machine", "pc-q35-9.0+pve0,viommu=intel", {"type": "pc-q35-9.0+pve0", "viommu": "intel"}),
    ("bios", "ovmf", "ovmf"),
    (
        "efidisk0",
        "local-lvm:vm-100-disk-1,efitype=4m,pre-enrolled-keys=1,size=4M",
        {"file": "local-lvm:vm-100-disk-1", "efitype": "4m", "pre-enrolled-keys": 1, "size": "4M"},
    ),
    (
        "tpmstate0",
        "local-lvm:vm-100-disk-2,size=4M,version=v2.0",
        {"file": "local-lvm:vm-100-disk-2", "size": "4M", "version": "v2.0"},
    ),
    ("kvm", "1", 1),
    ("acpi", "0", 0),
    ("agent", "1", {"enabled": 1}),
    (
        "agent",
        "1,freeze-fs=0,fstrim_cloned_disks=1,type=isa",
        {"enabled": 1, "freeze-fs": 0, "fstrim_cloned_disks": 1, "type": "isa"},
    ),
    ("boot", "order=scsi0;ide2;net0", {"order": "scsi0;ide2;net0"}),
    ("boot", "cdn", {"legacy": "cdn"}),
    ("bootdisk", "scsi0", "scsi0"),
    ("scsihw", "virtio-scsi-single", "virtio-scsi-single"),
    (
        "scsi0",
        "local-lvm:vm-100-disk-0,iothread=1,size=32G",
        {"file": "local-lvm:vm-100-disk-0", "iothread": 1, "size": "32G"},
    ),
    (
        "scsi30",
        "ceph:vm-100-disk-5,cache=writeback,discard=on,ssd=1,wwn=0x5000c500a1b2c3d4",
        {
            "file": "ceph:vm-100-disk-5",
            "cache": "writeback",
            "discard": "on",
            "ssd": 1,
            "wwn": "0x5000c500a1b2c3d4",
        },
    ),
    ("ide2", "none,media=cdrom", {"file": "none", "media": "cdrom"}),
    (
        "ide2",
        "local:iso/debian.iso,media=cdrom,size=600M",
        {"file": "local:iso/debian.iso", "media": "cdrom", "size": "600M"},
    ),
    ("ide0", "cdrom,media=cdrom", {"file": "cdrom", "media": "cdrom"}),
    (
        "virtio0",
        "local:100/vm-100-disk-0.qcow2,aio=io_uring,backup=0,format=qcow2,iothread=1,ro=1",
        {
            "file": "local:100/vm-100-disk-0.qcow2",
            "aio": "io_uring",
            "backup": 0,
            "format": "qcow2",
            "iothread": 1,
            "ro": 1,
        },
    ),
    (
        "sata5",
        "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456,replicate=0,serial=WD1",
        {
            "file": "/dev/disk/by-id/ata-WDC_WD40EFRX-68N32N0_WD-WCC7K0123456",
            "replicate": 0,
            "serial": "WD1",
        },
    ),
    (
        "scsi1",
        "local-lvm:vm-100-disk-3,iops_rd=500,mbps_wr=50.5,rerror=stop,shared=1,werror=enospc",
        {
            "file": "local-lvm:vm-100-disk-3",
            "iops_rd": 500,
            "mbps_wr": 50.5,
            "rerror": "stop",
            "shared": 1,
            "werror": "enospc",
        },
    ),
    ("scsi2", "local-lvm:32", {"file": "local-lvm:32"}),
    (
        "scsi3",
        "local-lvm:0,import-from=nfs:iso/debian.qcow2",
        {"file": "local-lvm:0", "import-from": "nfs:iso/debian.qcow2"},
    ),
    (
        "ide1",
        "local:iso/virtio-win.iso,detect_zeroes=0,media=cdrom,snapshot=0",
        {"file": "local:iso/virtio-win.iso", "detect_zeroes": 0, "media": "cdrom", "snapshot": 0},
    ),
    (
        "net0",
        "virtio=BC:24:11:2C:69:EC,bridge=vmbr0,firewall=1",
        {"model": "virtio", "macaddr": MAC, "bridge": "vmbr0", "firewall": 1},
    ),
    (
        "net31",
        "e1000=BC:24:11:2C:69:ED,bridge=vmbr1,link_down=1,mtu=9000,queues=4,rate=12.5,tag=20",
        {
            "model": "e1000",
            "macaddr": "BC:24:11:2C:69:ED",
            "bridge": "vmbr1",
            "link_down": 1,
            "mtu": 9000,
            "queues": 4,
            "rate": 12.5,
            "tag": 20,
        },
    ),
    (
        "net1",
        "virtio,bridge=vmbr0,trunks=10;20-30",
        {"model": "virtio", "bridge": "vmbr0", "trunks": "10;20-30"},
    ),
    ("serial0", "socket", "socket"),
    ("serial3", "/dev/ttyS0", "/dev/ttyS0"),
    ("vga", "qxl,memory=32", {"type": "qxl", "memory": 32}),
    ("vga", "std,clipboard=vnc", {"type": "std", "clipboard": "vnc"}),
    ("tablet", "0", 0),
    ("hotplug", "network,disk,usb", "network,disk,usb"),
    ("hotplug", "0", "0"),
    ("hotplug", "1", "1"),
    ("onboot", "1", 1),
    ("startup", "order=1,up=30,down=60", "order=1,up=30,down=60"),
    ("protection", "1", 1),
    ("tags", "prod;web", "prod;web"),
    ("tags", "db", "db"),
    ("description", "line one\nline: two", "line one\nline: two"),
    ("hookscript", "local:snippets/hook.pl", "local:snippets/hook.pl"),
    ("args", "-cpu host,+kvm_pv_unhalt", "-cpu host,+kvm_pv_unhalt"),
    ("localtime", "1", 1),
    ("freeze", "0", 0),
    ("template", "1", 1),
    ("lock", "backup", "backup"),
    ("lock", "snapshot-delete", "snapshot-delete"),
    (
        "meta",
        "creation-qemu=9.0.2,ctime=1718035123",
        {"creation-qemu": "9.0.2", "ctime": 1718035123},
    ),
    ("smbios1", f"uuid={UUID}", {"uuid": UUID}),
    (
        "smbios1",
        f"base64=1,manufacturer=UHJveG1veA,uuid={UUID}",
        {"base64": 1, "manufacturer": "UHJveG1veA", "uuid": UUID},
    ),
    ("vmgenid", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"),
    ("vmgenid", "1", "1"),
    ("unused0", "local-lvm:vm-100-disk-4", {"file": "local-lvm:vm-100-disk-4"}),
    ("unused255", "local:100/vm-100-disk-9.qcow2", {"file": "local:100/vm-100-disk-9.qcow2"}),
    ("ciuser", "debian", "debian"),
    ("cipassword", "$5$rounds=5000$salt$hash", "$5$rounds=5000$salt$hash"),
    ("citype", "nocloud", "nocloud"),
    (
        "cicustom",
        "network=local:snippets/net.yaml,user=local:snippets/user.yaml",
        {"network": "local:snippets/net.yaml", "user": "local:snippets/user.yaml"},
    ),
    ("ipconfig0", "ip=dhcp", {"ip": "dhcp"}),
    ("ipconfig0", "gw=10.0.0.1,ip=10.0.0.5/24", {"ip": "10.0.0.5/24", "gw": "10.0.0.1"}),
    (
        "ipconfig31",
        "gw6=2001:db8::1,ip6=2001:db8::5/64",
        {"ip6": "2001:db8::5/64", "gw6": "2001:db8::1"},
    ),
    ("ipconfig1", "ip6=auto", {"ip6": "auto"}),
    ("nameserver", "1.1.1.1 2606:4700:4700::1111", "1.1.1.1 2606:4700:4700::1111"),
    ("searchdomain", "example.com", "example.com"),
    ("sshkeys", "ssh-ed25519%20AAAAC3Nza%20me%40host%0A", "ssh-ed25519%20AAAAC3Nza%20me%40host%0A"),
    ("ciupgrade", "0", 0),
    ("parent", "before-upgrade", "before-upgrade"),
    ("snaptime", "1718100000", 1718100000),
    ("vmstate", "local-lvm:vm-102-state-snap1", "local-lvm:vm-102-state-snap1"),
    ("vmstatestorage", "local-lvm", "local-lvm"),
    ("runningmachine", "pc-i440fx-9.0+pve0", {"type": "pc-i440fx-9.0+pve0"}),
    ("runningcpu", "kvm64,enforce,+kvm_pv_eoi,+sep", "kvm64,enforce,+kvm_pv_eoi,+sep"),
]


@pytest.mark.parametrize(("key", "text", "typed"), VALUES)
def test_parse_value(key: str, text: str, typed: Any) -> None:
    assert parse_value(key, text) == typed


@pytest.mark.parametrize(("key", "text", "typed"), VALUES)
def test_print_value(key: str, text: str, typed: Any) -> None:
    assert print_value(key, typed) == text


# spellings that parse but print differently
NORMALISED: list[tuple[str, str, str]] = [
    ("net0", f"model=virtio,macaddr={MAC},bridge=vmbr0", f"virtio={MAC},bridge=vmbr0"),
    ("scsi0", "volume=local-lvm:vm-100-disk-0,size=32G", "local-lvm:vm-100-disk-0,size=32G"),
    ("scsi0", "file=local-lvm:vm-100-disk-0,iothread=on", "local-lvm:vm-100-disk-0,iothread=1"),
    ("agent", "enabled=1,freeze-fs-on-backup=0", "1,freeze-fs=0"),
    ("memory", "current=4096", "4096"),
    ("vga", "type=virtio", "virtio"),
    ("onboot", "yes", "1"),
    ("cpu", "cputype=host", "host"),
    (
        "scsi1",
        "local-lvm:vm-100-disk-1,bps_rd_length=5",
        "local-lvm:vm-100-disk-1,bps_rd_max_length=5",
    ),
]


@pytest.mark.parametrize(("key", "given", "printed"), NORMALISED)
def test_normalised_spellings(key: str, given: str, printed: str) -> None:
    assert print_value(key, parse_value(key, given)) == printed


BAD: list[tuple[str, str, str]] = [
    ("name", "a,b", "DNS name"),
    ("name", "a=b", "DNS name"),
    ("name", "a\nb", "line breaks"),
    ("name", "under_score", "DNS name"),
    ("memory", "8", "minimum"),
    ("memory", "lots", "integer"),
    ("cores", "0", "minimum"),
    ("cpulimit", "129", "maximum"),
    ("shares", "50001", "maximum"),
    ("ostype", "windows", "enumeration"),
    ("bios", "uefi", "enumeration"),
    ("cpu", "host,flags=aes", "flags"),
    ("cpu", "host,fast=1", "invalid key"),
    ("machine", "q35,viommu=amd", "viommu"),
    ("agent", "type=virtio", "enabled"),
    ("boot", "order=scsi0;floppy0", "boot device"),
    ("boot", "xyz", "legacy"),
    ("bootdisk", "efidisk0", "bootdisk"),
    ("scsihw", "virtio", "enumeration"),
    ("scsi0", "local-lvm:vm-100-disk-0,speed=1", "invalid key"),
    ("scsi0", "local-lvm:vm-100-disk-0,cache=fast", "cache"),
    ("scsi0", "iothread=1", "file"),
    ("scsi0", "local-lvm:vm-100-disk-0,size=32X", "size"),
    ("ide0", "local-lvm:vm-100-disk-0,iothread=1", "invalid key"),
    ("sata0", "local-lvm:vm-100-disk-0,iothread=1", "invalid key"),
    ("virtio0", "local-lvm:vm-100-disk-0,ssd=1", "invalid key"),
    ("ide0", "local-lvm:vm-100-disk-0,ro=1", "invalid key"),
    ("ide2", "relative/path.iso,media=cdrom", "volume ID"),
    ("ide2", "local:iso/x.iso,media=dvd", "media"),
    ("scsi31", "local-lvm:vm-100-disk-0", "unknown configuration key"),
    ("virtio16", "local-lvm:vm-100-disk-0", "unknown configuration key"),
    ("sata6", "local-lvm:vm-100-disk-0", "unknown configuration key"),
    ("ide4", "local-lvm:vm-100-disk-0", "unknown configuration key"),
    ("net32", "virtio", "unknown configuration key"),
    ("net01", "virtio", "unknown configuration key"),
    ("serial4", "socket", "unknown configuration key"),
    ("unused256", "local:x", "unknown configuration key"),
    ("ipconfig32", "ip=dhcp", "unknown configuration key"),
    ("efidisk1", "local:x", "unknown configuration key"),
    ("bogus", "1", "unknown configuration key"),
    ("net0", "virtio=BC:24:11:2C:69", "macaddr"),
    ("net0", "bridge=vmbr0", "model"),
    ("net0", "virtio,tag=4095", "tag"),
    ("net0", "virtio,bridge=vmbr 0", "bridge"),
    ("net0", f"virtio={MAC},macaddr={MAC}", "duplicate"),
    ("net0", "virtio,e1000", "duplicate"),
    ("net0", "virtio,trunks=10,20", "duplicate"),
    ("serial0", "tcp:1234", "regex"),
    ("vga", "std,memory=1024", "maximum"),
    ("vga", "matrox", "enumeration"),
    ("hotplug", "network,gpu", "hotplug feature"),
    ("onboot", "2", "boolean"),
    ("startup", "order=first", "startup order"),
    ("tags", "a;b c;d!", "invalid tag"),
    ("description", "x" * 8193, "8192"),
    ("hookscript", "/root/hook.pl", "volume ID"),
    ("lock", "mine", "enumeration"),
    ("meta", "creation-qemu=nine", "creation-qemu"),
    ("smbios1", "uuid=not-a-uuid", "uuid"),
    ("vmgenid", "2", "regex"),
    ("citype", "cloudbase", "enumeration"),
    ("cicustom", "user=snippets/user.yaml", "volume ID"),
    ("cicustom", "everything=local:snippets/a", "invalid key"),
    ("ipconfig0", "ip=10.0.0.5", "IPv4 configuration"),
    ("ipconfig0", "ip=10.0.0.5/24,gw=10.0.0", "IPv4"),
    ("ipconfig0", "ip6=2001:db8::1", "IPv6 configuration"),
    ("ipconfig0", "ip=manual", "IPv4 configuration"),
    ("nameserver", "1.1.1.1 not_an_address", "address"),
    ("parent", "1st", "configuration key"),
    ("snaptime", "-1", "minimum"),
    ("efidisk0", "local-lvm:vm-100-disk-1,efitype=8m", "efitype"),
]


@pytest.mark.parametrize(("key", "text", "message"), BAD)
def test_bad_values(key: str, text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as err:
        parse_value(key, text)
    assert str(err.value).startswith(f"{key}: ")


PRINT_BAD: list[tuple[str, Any]] = [
    ("net0", {"model": "virtio", "speed": 1}),
    ("scsi0", {"size": "32G"}),
    ("cores", 0),
    ("name", "a b"),
    ("memory", {"current": 8}),
]


@pytest.mark.parametrize(("key", "data"), PRINT_BAD)
def test_print_rejects(key: str, data: Any) -> None:
    with pytest.raises(ValueError):
        print_value(key, data)


def test_print_scalars() -> None:
    assert print_value("onboot", True) == "1"
    assert print_value("numa", False) == "0"
    assert print_value("cpulimit", 2.0) == "2"
    assert print_value("cores", 8) == "8"
    assert print_value("memory", "4096") == "4096"


FAMILIES: list[tuple[str, str | None]] = [
    ("scsi0", "scsi[n]"),
    ("scsi30", "scsi[n]"),
    ("virtio15", "virtio[n]"),
    ("sata5", "sata[n]"),
    ("ide3", "ide[n]"),
    ("net31", "net[n]"),
    ("serial3", "serial[n]"),
    ("unused255", "unused[n]"),
    ("ipconfig31", "ipconfig[n]"),
    ("efidisk0", "efidisk0"),
    ("memory", "memory"),
    ("scsi31", None),
    ("ide4", None),
    ("net00", None),
    ("scsi", None),
    ("digest", None),
]


@pytest.mark.parametrize(("key", "family"), FAMILIES)
def test_key_schema(key: str, family: str | None) -> None:
    expected = VM_KEYS[family] if family else None
    assert key_schema(key) is expected


def test_families_declare_index_max() -> None:
    for name, schema in VM_KEYS.items():
        assert name.endswith("[n]") == ("x-index-max" in schema), name


@pytest.mark.parametrize(
    ("key", "expected"),
    [("ide0", True), ("sata5", True), ("scsi30", True), ("virtio15", True),
     ("efidisk0", True), ("tpmstate0", True), ("scsi31", False), ("unused0", False),
     ("net0", False), ("ide", False)],
)  # fmt: skip
def test_is_drive_key(key: str, expected: bool) -> None:
    assert is_drive_key(key) is expected


def test_drive_keys_canonical_order() -> None:
    conf = dict.fromkeys(["virtio1", "net0", "scsi10", "efidisk0", "scsi2", "ide2", "sata0"], "x")
    assert drive_keys(conf) == ["ide2", "sata0", "scsi2", "scsi10", "virtio1", "efidisk0"]


def test_parse_drive_and_cdrom() -> None:
    assert is_cdrom(parse_drive("ide2", "none,media=cdrom"))
    assert not is_cdrom(parse_drive("scsi0", "local-lvm:vm-100-disk-0,size=32G"))
    assert parse_drive("efidisk0", "local-lvm:vm-100-disk-1,efitype=4m")["efitype"] == "4m"
    with pytest.raises(ValueError, match="invalid drive key"):
        parse_drive("net0", "virtio")
    with pytest.raises(ValueError, match=r"^scsi0: "):
        parse_drive("scsi0", "local-lvm:x,bogus=1")


def test_parse_net() -> None:
    assert parse_net(f"virtio={MAC},bridge=vmbr0,firewall=1") == {
        "model": "virtio",
        "macaddr": MAC,
        "bridge": "vmbr0",
        "firewall": 1,
    }
    assert parse_net("vmxnet3") == {"model": "vmxnet3"}


BOOT: list[tuple[str, dict[str, str], list[str]]] = [
    ("order form", {"boot": "order=scsi0;ide2;net0"}, ["scsi0", "ide2", "net0"]),
    ("empty order", {"boot": "order="}, []),
    (
        "legacy with bootdisk",
        {
            "boot": "cdn",
            "bootdisk": "virtio0",
            "ide0": "local-lvm:vm-1-disk-9",
            "virtio0": "local-lvm:vm-1-disk-0",
            "ide2": "none,media=cdrom",
            "net1": "virtio",
            "net0": "virtio",
        },
        ["virtio0", "ide2", "net0", "net1"],
    ),
    (
        "legacy dc, no bootdisk",
        {"boot": "dc", "scsi0": "local-lvm:vm-1-disk-0", "ide2": "local:iso/x.iso,media=cdrom"},
        ["ide2", "scsi0"],
    ),
    (
        "no boot key",
        {"scsi1": "local-lvm:vm-1-disk-1", "net10": "e1000", "net2": "virtio"},
        ["scsi1", "net2", "net10"],
    ),
    ("legacy n only", {"boot": "n", "scsi0": "local-lvm:vm-1-disk-0", "net0": "virtio"}, ["net0"]),
    ("nothing", {}, []),
]


@pytest.mark.parametrize(("what", "conf", "expected"), BOOT, ids=[b[0] for b in BOOT])
def test_parse_boot_order(what: str, conf: dict[str, str], expected: list[str]) -> None:
    assert parse_boot_order(conf) == expected


ALLOC: list[tuple[str, tuple[str | None, str] | None]] = [
    ("local-lvm:32", ("local-lvm", "32")),
    ("ceph:0.5", ("ceph", "0.5")),
    ("local-lvm:0", ("local-lvm", "0")),
    ("10", (None, "10")),
    ("local-lvm:vm-100-disk-0", None),
    ("local:iso/debian.iso", None),
    ("local-lvm:32G", None),
    ("none", None),
    ("/dev/sdb", None),
]


@pytest.mark.parametrize(("text", "expected"), ALLOC)
def test_alloc_re(text: str, expected: tuple[str | None, str] | None) -> None:
    m = ALLOC_RE.match(text)
    assert (m and (m.group("storage"), m.group("size"))) == expected


def test_mac_generate() -> None:
    macs = {mac_generate() for _ in range(50)}
    assert len(macs) > 45
    for mac in macs:
        assert re.fullmatch(r"BC:24:11(:[0-9A-F]{2}){3}", mac)
        parse_net(f"virtio={mac}")
    assert mac_generate("02:00").startswith("02:00:")
    for _ in range(20):
        assert int(mac_generate("")[:2], 16) & 1 == 0
    with pytest.raises(ValueError):
        mac_generate("01:00")


# ---- against the upstream contract ------------------------------------------------

UPSTREAM: dict[str, Any] = json.loads(
    resources.files("pyxis.data").joinpath("schema.json").read_text()
)
CREATE = UPSTREAM["/nodes/{node}/qemu"]["POST"]["parameters"]["properties"]
GET_CONFIG = UPSTREAM["/nodes/{node}/qemu/{vmid}/config"]["GET"]["returns"]["properties"]
REQUIRED_KEYS = [
    "name",
    "memory",
    "balloon",
    "shares",
    "cores",
    "sockets",
    "vcpus",
    "cpu",
    "cpulimit",
    "cpuunits",
    "numa",
    "ostype",
    "machine",
    "bios",
    "efidisk0",
    "kvm",
    "acpi",
    "agent",
    "boot",
    "bootdisk",
    "scsihw",
    "scsi[n]",
    "virtio[n]",
    "sata[n]",
    "ide[n]",
    "net[n]",
    "serial[n]",
    "vga",
    "tablet",
    "hotplug",
    "onboot",
    "startup",
    "protection",
    "tags",
    "description",
    "hookscript",
    "args",
    "localtime",
    "freeze",
    "template",
    "lock",
    "meta",
    "smbios1",
    "vmgenid",
    "unused[n]",
    "ciuser",
    "cipassword",
    "citype",
    "cicustom",
    "ipconfig[n]",
    "nameserver",
    "searchdomain",
    "sshkeys",
    "ciupgrade",
    "parent",
    "snaptime",
    "vmstate",
    "vmstatestorage",
    "runningmachine",
    "runningcpu",
]
SUB_FIELDS = ("type", "enum", "default_key", "alias", "keyAlias", "minimum", "maximum")


def _upstream(key: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = CREATE.get(key, GET_CONFIG.get(key))
    return found


def _problems(key: str, ours: dict[str, Any], theirs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for field in ("type", "enum", "minimum", "maximum", "maxLength", "pattern"):
        if field in theirs and ours.get(field) != theirs[field]:
            if field in ("minimum", "maximum") and float(ours.get(field, "nan")) == float(
                theirs[field]
            ):
                continue
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
                if a != b and not (field in ("minimum", "maximum") and float(a) == float(b)):
                    out.append(f"{key}.{sub}.{field}: {a!r} != {b!r}")
            if bool(f_ours[sub].get("optional")) != bool(f_theirs[sub].get("optional")):
                out.append(f"{key}.{sub}: optional differs")
    elif f_ours != f_theirs:
        out.append(f"{key}: format {f_ours!r} != {f_theirs!r}")
    return out


def test_required_keys_are_declared() -> None:
    assert sorted(set(REQUIRED_KEYS) - set(VM_KEYS)) == []


COMPARED = sorted(k for k in VM_KEYS if _upstream(k) is not None)


@pytest.mark.parametrize("key", COMPARED)
def test_matches_upstream(key: str) -> None:
    theirs = _upstream(key)
    assert theirs is not None
    assert _problems(key, VM_KEYS[key], theirs) == []


def test_upstream_comparison_covers_most_keys() -> None:
    missing = sorted(set(VM_KEYS) - set(COMPARED))
    assert missing == ["snapstate"]


def test_named_formats_are_registered() -> None:
    from pyxis.schema import formats

    for schema in VM_KEYS.values():
        name = schema.get("format")
        if isinstance(name, str):
            assert formats.lookup(name) is not None, name
        elif isinstance(name, dict):
            for sub in name.values():
                if isinstance(sub.get("format"), str):
                    assert formats.lookup(sub["format"]) is not None, sub["format"]
    assert set(keys.NAMED_FORMATS) <= set(formats.known())
