"""QEMU command line: golden argv per feature, stable PCI addresses, no option injection,
and the errors ``build_argv`` raises.

Golden files live in ``golden/<case>.argv`` (one argv item per line); regenerate them
with ``PYXIS_UPDATE_GOLDEN=1 pytest tests/unit/guests/test_qemu_argv.py`` and review
the diff.  ``CASES`` is also used by the system tier, which starts real QEMU on every
case to prove QEMU accepts what the goldens hold.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from pyxis.guests.qemu.argv import (
    EFIVARS_TEMP,
    ArgvError,
    KvmUnavailable,
    NodeFacts,
    OvmfFiles,
    RunFiles,
    VolumeSource,
    accel_for,
    build_argv,
    escape_opt,
    link_down_nets,
)
from pyxis.guests.qemu.cmdline import Opts
from pyxis.guests.qemu.devices import PCI_SLOTS

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PYXIS_UPDATE_GOLDEN") == "1"
VMID = 100
IMAGES = "/var/lib/vz/images/100"
ISO = "/var/lib/vz/template/iso/debian.iso"
MAC0, MAC1, MAC2 = "BC:24:11:2C:69:EC", "BC:24:11:2C:69:ED", "BC:24:11:2C:69:EE"

FACTS = NodeFacts(
    qemu_binary="/usr/bin/qemu-system-x86_64",
    run=RunFiles.under("/run/pyxis", VMID),
    kvm_usable=True,
    host_cpus=16,
    ovmf=OvmfFiles(),
    tap_script="/usr/lib/pyxis/tap-up",
    tap_down_script="/usr/lib/pyxis/tap-down",
)
TCG = replace(FACTS, kvm_usable=False)

# images a case may reference: volume id -> (file name, format)
DISKS = {
    "local:100/vm-100-disk-0.qcow2": ("vm-100-disk-0.qcow2", "qcow2"),
    "local:100/vm-100-disk-1.raw": ("vm-100-disk-1.raw", "raw"),
    "local:100/vm-100-disk-2.vmdk": ("vm-100-disk-2.vmdk", "vmdk"),
    "local:100/vm-100-disk-3.raw": ("vm-100-disk-3.raw", "raw"),
    "local:100/vm-100-efi.raw": ("vm-100-efi.raw", "raw"),
}
ISO_VOL = "local:iso/debian.iso"


def volumes(images: str = IMAGES, iso: str = ISO) -> dict[str, VolumeSource]:
    out = {
        vol: VolumeSource(path=f"{images}/{name}", format=fmt) for vol, (name, fmt) in DISKS.items()
    }
    out[ISO_VOL] = VolumeSource(path=iso, format="raw", read_only=True)
    return out


BASE = {"name": "vm100", "memory": "1024", "ostype": "l26"}
D0 = "local:100/vm-100-disk-0.qcow2"
D1 = "local:100/vm-100-disk-1.raw"
D2 = "local:100/vm-100-disk-2.vmdk"
D3 = "local:100/vm-100-disk-3.raw"

# case name -> (config, facts)
CASES: dict[str, tuple[dict[str, str], NodeFacts]] = {
    "minimal": (dict(BASE), FACTS),
    "virtio_scsi_single_iothread": (
        {**BASE, "scsihw": "virtio-scsi-single", "scsi0": f"{D0},iothread=1,discard=on,ssd=1",
         "scsi1": f"{D1},iothread=1,cache=writeback,serial=data1"},
        FACTS,
    ),
    "ide_cdrom_iso_boot_order": (
        {**BASE, "ide2": f"{ISO_VOL},media=cdrom", "ide0": "none,media=cdrom",
         "sata0": D1, "virtio0": f"{D0},iothread=1", "boot": "order=ide2;virtio0;net0",
         "net0": f"virtio={MAC0},bridge=vmbr0"},
        FACTS,
    ),
    "legacy_boot_cdn": (
        {**BASE, "ide2": f"{ISO_VOL},media=cdrom", "scsi0": D0, "bootdisk": "scsi0",
         "boot": "cdn", "net0": f"e1000={MAC0},bridge=vmbr0"},
        FACTS,
    ),
    "nics": (
        {**BASE, "net0": f"virtio={MAC0},bridge=vmbr0,tag=10,link_down=1,mtu=9000,queues=4",
         "net1": f"e1000={MAC1},bridge=vmbr1,firewall=1", "net6": f"rtl8139={MAC2},bridge=vmbr0",
         "net2": f"vmxnet3={MAC2.replace('EE', 'EF')},bridge=vmbr0,rate=10"},
        FACTS,
    ),
    "agent": ({**BASE, "agent": "enabled=1,fstrim_cloned_disks=1"}, FACTS),
    "agent_isa": ({**BASE, "agent": "1,type=isa"}, FACTS),
    "serial_console": ({**BASE, "serial0": "socket", "serial2": "socket", "vga": "serial0"}, FACTS),
    "ovmf_efidisk": (
        {**BASE, "bios": "ovmf", "machine": "q35",
         "efidisk0": "local:100/vm-100-efi.raw,efitype=4m", "scsihw": "virtio-scsi-pci",
         "scsi0": D0},
        FACTS,
    ),
    "tablet_off": ({**BASE, "tablet": "0", "vga": "qxl"}, FACTS),
    "accel_kvm": ({**BASE, "cpu": "host", "virtio0": D0}, FACTS),
    "accel_tcg": ({**BASE, "kvm": "0", "cpu": "host", "virtio0": D0}, TCG),
    "cpu_flags": ({**BASE, "cpu": "x86-64-v2-AES,flags=+aes;-pcid,phys-bits=host"}, FACTS),
    "balloon_off": ({**BASE, "balloon": "0", "vga": "virtio"}, FACTS),
    "numa_sockets_cores": (
        {**BASE, "memory": "4096", "sockets": "2", "cores": "4", "vcpus": "6", "numa": "1"},
        FACTS,
    ),
    "numa_nodes": (
        {**BASE, "memory": "3072", "sockets": "1", "cores": "4", "numa": "1",
         "numa0": "cpus=0-1,memory=1024", "numa1": "cpus=2;3,memory=2048,hostnodes=0,policy=bind"},
        FACTS,
    ),
    "win10_localtime": (
        {**BASE, "ostype": "win10", "cpu": "x86-64-v2-AES,hv-vendor-id=pyxis", "sata0": D1,
         "smbios1": "uuid=7d3f5a0e-2c1b-4b8e-9f6a-3e2d1c0b9a87,manufacturer=UHl4aXM=,base64=1",
         "vmgenid": "1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d"},
        FACTS,
    ),
    "localtime_linux_acpi_off": (
        {**BASE, "localtime": "1", "acpi": "0", "startdate": "2020-01-02"}, FACTS
    ),
    "args": ({**BASE, "args": "-smbios 'type=0,vendor=Pyxis Labs' -no-reboot"}, FACTS),
    "q35_disks_nics": (
        {**BASE, "machine": "pc-q35-7.2+pve0", "ide0": D3, "ide2": f"{ISO_VOL},media=cdrom",
         "sata1": D1, "virtio7": D2, "net0": f"virtio={MAC0},bridge=vmbr0",
         "net9": f"e1000={MAC1},bridge=vmbr0", "serial1": "socket"},
        FACTS,
    ),
    "lsi_many_and_throttle": (
        {**BASE, "scsihw": "lsi",
         "scsi0": f"{D0},mbps=100,mbps_max=200,iops_rd=500,iops_rd_max=900,iops_rd_max_length=5",
         "scsi8": f"{D1},cache=directsync,aio=native,detect_zeroes=0,wwn=0x5000c50015ea71ac",
         "scsi9": "none,media=cdrom"},
        FACTS,
    ),
    "megasas_virtio_scsi_pci": (
        {**BASE, "scsihw": "megasas", "scsi0": f"{D0},ro=1",
         "scsi3": f"{D2},product=QM,vendor=PYXIS"},
        FACTS,
    ),
    "user_net_paused": (
        {**BASE, "kvm": "0", "net0": f"virtio={MAC0},bridge=vmbr0,queues=2", "freeze": "1"},
        replace(TCG, user_net=True, id_option=True),
    ),
}  # fmt: skip


def render(case: str) -> list[str]:
    conf, facts = CASES[case]
    argv: list[str] = build_argv(VMID, conf, facts, volumes())
    return argv


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    argv = render(case)
    assert all("\n" not in item for item in argv)
    path = GOLDEN / f"{case}.argv"
    text = "".join(f"{item}\n" for item in argv)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path.name}: run with PYXIS_UPDATE_GOLDEN=1"
    assert text == path.read_text()


def test_no_stale_goldens() -> None:
    assert {p.stem for p in GOLDEN.glob("*.argv")} == set(CASES)


# -- helpers to read argv back ---------------------------------------------------------


def option_values(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, item in enumerate(argv[:-1]) if item == flag]


def json_items(argv: list[str], flag: str) -> list[dict[str, Any]]:
    return [json.loads(v) for v in option_values(argv, flag)]


def devices_by_id(argv: list[str]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in json_items(argv, "-device") if "id" in d}


def parse_qemu_opts(text: str) -> list[tuple[str, str | None]]:
    """Split ``a=b,c,,d=e`` as QEMU does (``,,`` is a literal comma)."""
    items: list[str] = []
    cur = ""
    i = 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1 : i + 2] == ",":
                cur += ","
                i += 2
                continue
            items.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    items.append(cur)
    out: list[tuple[str, str | None]] = []
    for item in items:
        key, sep, value = item.partition("=")
        out.append((key, value if sep else None))
    return out


# -- behaviour -------------------------------------------------------------------------


def test_starts_with_binary_and_core_options() -> None:
    argv = render("minimal")
    assert argv[0] == FACTS.qemu_binary
    for flag in ("-daemonize", "-nodefaults"):
        assert flag in argv
    # QEMU exits when the guest powers off: a stopped guest has no process
    assert "-no-shutdown" not in argv
    assert option_values(argv, "-pidfile") == ["/run/pyxis/qemu-server/100.pid"]
    assert option_values(argv, "-mon") == ["chardev=qmp,mode=control"]
    assert option_values(argv, "-machine") == ["type=pc,accel=kvm"]
    assert option_values(argv, "-name") == ["vm100,debug-threads=on"]
    assert "-id" not in argv  # stock QEMU has no -id
    assert option_values(render("user_net_paused"), "-id") == ["100"]


def test_accel() -> None:
    assert accel_for({}, FACTS) == "kvm"
    assert accel_for({"kvm": "0"}, FACTS) == "tcg"
    assert accel_for({"kvm": "0"}, TCG) == "tcg"
    with pytest.raises(KvmUnavailable):
        accel_for({}, TCG)
    with pytest.raises(KvmUnavailable):
        build_argv(VMID, dict(BASE), TCG, {})
    tcg = render("accel_tcg")
    assert option_values(tcg, "-cpu") == ["max"]
    assert "kvm-pit.lost_tick_policy=discard" not in tcg
    assert "kvm-pit.lost_tick_policy=discard" in render("accel_kvm")


def test_link_down_nets() -> None:
    conf, _ = CASES["nics"]
    assert link_down_nets(conf) == ["net0"]
    assert link_down_nets(BASE) == []


def test_vhost_and_queues_only_where_they_apply() -> None:
    netdevs = {n["id"]: n for n in json_items(render("nics"), "-netdev")}
    assert netdevs["net0"]["vhost"] is True and netdevs["net0"]["queues"] == 4
    assert "vhost" not in netdevs["net1"]
    assert netdevs["net1"]["ifname"] == "tap100i1"
    assert netdevs["net1"]["script"] == "/usr/lib/pyxis/tap-up"
    user = json_items(render("user_net_paused"), "-netdev")
    assert user == [{"type": "user", "id": "net0"}]


# -- stable PCI addresses --------------------------------------------------------------

STABLE_CONF = {
    **BASE,
    "scsihw": "virtio-scsi-single",
    "scsi0": D0,
    "scsi1": D1,
    "scsi2": D2,
    "virtio0": D3,
    "net0": f"virtio={MAC0},bridge=vmbr0",
    "net1": f"virtio={MAC1},bridge=vmbr0",
    "net7": f"e1000={MAC2},bridge=vmbr0",
    "agent": "1",
}


def placement(conf: dict[str, str], machine: str) -> dict[str, tuple[Any, ...]]:
    argv = build_argv(VMID, {**conf, "machine": machine}, FACTS, volumes())
    return {
        dev_id: (d.get("bus"), d.get("addr"), d.get("scsi-id"), d.get("lun"), d.get("unit"))
        for dev_id, d in devices_by_id(argv).items()
    }


@pytest.mark.parametrize("machine", ["pc", "q35"])
@pytest.mark.parametrize("removed", ["net0", "scsi1", "net1", "virtio0", "scsi0"])
def test_removing_a_device_moves_no_other(machine: str, removed: str) -> None:
    before = placement(STABLE_CONF, machine)
    after = placement({k: v for k, v in STABLE_CONF.items() if k != removed}, machine)
    assert removed not in after
    for dev_id, where in after.items():
        assert before[dev_id] == where, dev_id


def test_pci_slot_table_has_no_collisions() -> None:
    seen: dict[tuple[int, int], str] = {}
    shared = {frozenset({"scsihw0", "pci.3"})}
    for key, where in PCI_SLOTS.items():
        if where in seen:
            assert frozenset({key, seen[where]}) in shared, (key, seen[where])
        seen[where] = key
        assert 1 <= where[1] <= 0x1F


def test_bridges_only_when_used() -> None:
    ids = devices_by_id(render("minimal"))
    assert not any(i.startswith("pci.") for i in ids)
    ids = devices_by_id(render("nics"))  # net6 lives behind pci.1
    assert ids["pci.1"]["bus"] == "pci.0" and ids["net6"]["bus"] == "pci.1"
    assert "pci.2" not in ids


# -- injection -------------------------------------------------------------------------


def test_disk_serial_with_option_syntax_stays_one_value() -> None:
    evil = "x%2Cdrive%3Ddrive-scsi1%2Cbootindex%3D1"  # urlencoded "x,drive=...,bootindex=1"
    conf = {**BASE, "scsihw": "virtio-scsi-pci", "scsi0": f"{D0},serial={evil}", "scsi1": D1,
            "boot": "order=scsi1"}  # fmt: skip
    argv = build_argv(VMID, conf, FACTS, volumes())
    dev = devices_by_id(argv)["scsi0"]
    assert dev["serial"] == "x,drive=drive-scsi1,bootindex=1"
    assert dev["drive"] == "drive-scsi0" and "bootindex" not in dev


def test_volume_path_with_option_syntax_stays_one_value() -> None:
    path = "/srv/a,b=c\n-device d/disk.raw"
    vols = {D0: VolumeSource(path=path, format="raw")}
    argv = build_argv(VMID, {**BASE, "virtio0": D0}, FACTS, vols)
    files = [n for n in json_items(argv, "-blockdev") if n["driver"] == "file"]
    assert [n["filename"] for n in files] == [path]
    assert "-device d/disk.raw" not in argv


def test_run_path_with_commas_is_escaped() -> None:
    facts = replace(FACTS, run=RunFiles.under("/run/a,server=off,path=/etc", VMID))
    argv = build_argv(VMID, {**BASE, "agent": "1", "serial0": "socket"}, facts, {})
    for chardev in option_values(argv, "-chardev"):
        opts = parse_qemu_opts(chardev)
        keys = [k for k, _ in opts]
        assert keys.count("path") == 1 and keys.count("server") == 1
        assert str(dict(opts)["path"]).startswith("/run/a,server=off,path=/etc/qemu-server/100.")
    assert parse_qemu_opts(option_values(argv, "-vnc")[0]) == [
        ("vnc", "unix:/run/a,server=off,path=/etc/qemu-server/100.vnc")
    ]


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("name", "a,b"),
        ("name", "vm\n-device x"),
        ("scsi0", f"{D0},serial=a,b=c"),
        ("scsi0", f"{D0},serial=a\nb"),
        ("cpu", "kvm64,flags=+aes,enforce"),
        ("cpu", "kvm64,flags=+a=b"),
        ("net0", f"virtio={MAC0},bridge=vmbr0,queues=2,mac=x"),
        ("serial0", "socket,path=/etc/shadow"),
        ("smbios1", "manufacturer=a,b=c"),
        ("vga", "std,foo=bar"),
        ("memory", "512,slots=4"),
        ("machine", "pc,accel=xen"),
    ],
)
def test_invalid_values_are_rejected_before_argv(key: str, value: str) -> None:
    with pytest.raises(ArgvError, match=key):
        build_argv(VMID, {**BASE, key: value}, FACTS, volumes())


def test_smbios_strings_are_escaped() -> None:
    conf = {**BASE, "smbios1": "manufacturer=YSxiPWM=,base64=1"}  # "a,b=c"
    argv = build_argv(VMID, conf, FACTS, {})
    assert parse_qemu_opts(option_values(argv, "-smbios")[0]) == [
        ("type", "1"),
        ("manufacturer", "a,b=c"),
    ]


def test_escape_opt() -> None:
    assert escape_opt("a,b,,c") == "a,,b,,,,c"
    assert escape_opt(12) == "12"
    for bad in ("a\nb", "a\x00b", "a\rb"):
        with pytest.raises(ArgvError):
            escape_opt(bad)
    assert Opts.of("socket", id="x", path="/a,b").render() == "socket,id=x,path=/a,,b"
    with pytest.raises(ArgvError):
        Opts(None, (("a,b", "c"),)).render()
    with pytest.raises(ArgvError):
        Opts("a=b").render()


# -- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conf", "facts", "match"),
    [
        ({"scsi0": "local:100/missing.raw"}, FACTS, "no source for volume"),
        ({"tpmstate0": "local:100/tpm.raw,version=v2.0"}, FACTS, "tpmstate0: not supported"),
        ({"cores": "32"}, FACTS, "MAX 16 vcpus"),
        ({"cores": "2", "vcpus": "3"}, FACTS, "exceeds"),
        ({"vga": "serial1"}, FACTS, "serial1 is not configured"),
        ({"virtio0": f"{D0},cache=writeback,aio=native"}, FACTS, "aio=native"),
        ({"virtio0": f"{ISO_VOL},media=cdrom"}, FACTS, "cannot be cdroms"),
        ({"scsi0": "none"}, FACTS, "only a cdrom may be empty"),
        ({"bios": "ovmf"}, FACTS, "needs an efidisk0"),
        ({"bios": "ovmf", "efidisk0": "local:100/vm-100-efi.raw"}, FACTS, "no OVMF build"),
        ({"bios": "ovmf"}, replace(FACTS, ovmf=None), "not installed"),
        ({"numa": "1", "numa0": "cpus=0,memory=256"}, FACTS, "adds up to 256"),
        ({"net0": "ne2k_isa=BC:24:11:2C:69:EC"}, FACTS, "not supported"),
        ({"net0": f"e1000={MAC0},mtu=1400"}, FACTS, "only supported with model virtio"),
        ({"cpu": "custom-mine"}, FACTS, "custom CPU models"),
        ({"scsi0": f"{D0},snapshot=1"}, FACTS, "snapshot"),
        ({"args": "-foo 'unterminated"}, FACTS, "args"),
        ({"vmgenid": "1"}, FACTS, "generated UUID"),
        ({"virtio0": f"{D0},mbps_wr_max=20"}, FACTS, "needs its base limit"),
    ],
)
def test_errors(conf: dict[str, str], facts: NodeFacts, match: str) -> None:
    with pytest.raises(ArgvError, match=match):
        build_argv(VMID, {**BASE, **conf}, facts, volumes())


def test_ovmf_temporary_vars_and_cloudinit_iso() -> None:
    vols = {EFIVARS_TEMP: VolumeSource(path="/run/pyxis/100-vars.fd", format="raw")}
    argv = build_argv(VMID, {**BASE, "bios": "ovmf"}, FACTS, vols)
    assert option_values(argv, "-machine") == [
        "type=pc,accel=kvm,pflash0=pflash0,pflash1=drive-efidisk0"
    ]
    facts = replace(FACTS, cloudinit_iso="/run/pyxis/ci/100.iso")
    conf = {**BASE, "ide2": "local:vm-100-cloudinit,media=cdrom"}
    nodes = json_items(build_argv(VMID, conf, facts, {}), "-blockdev")
    assert nodes[0]["filename"] == "/run/pyxis/ci/100.iso" and nodes[0]["read-only"] is True


def test_volume_source_checks() -> None:
    with pytest.raises(ValueError):
        VolumeSource()
    with pytest.raises(ValueError):
        VolumeSource(path="/a", blockdev={"driver": "nbd"})
    with pytest.raises(ValueError):
        VolumeSource(path="/a", format="cloop")


def test_network_blockdev_source() -> None:
    proto = {
        "driver": "iscsi",
        "transport": "tcp",
        "portal": "10.0.0.1",
        "target": "iqn.x",
        "lun": 0,
    }
    argv = build_argv(VMID, {**BASE, "virtio0": D0}, FACTS, {D0: VolumeSource(blockdev=proto)})
    nodes = json_items(argv, "-blockdev")
    assert nodes[0]["driver"] == "iscsi" and nodes[0]["node-name"] == "drive-virtio0-file"
    assert "aio" not in nodes[0]
    assert nodes[1]["driver"] == "raw" and nodes[1]["file"] == "drive-virtio0-file"
