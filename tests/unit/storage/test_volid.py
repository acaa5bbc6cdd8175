"""Volume id parsing: upstream dir-layout names and the traversal cases it must refuse."""

from __future__ import annotations

import pytest

from pyxis.errors import ParamError
from pyxis.storage.volid import (
    Volume,
    check_safe,
    free_disk_name,
    parse_volid,
    parse_volname,
    split_volid,
)

GOOD = [
    (
        "raw disk",
        "100/vm-100-disk-0.raw",
        Volume("images", "vm-100-disk-0.raw", 100, None, None, False, "raw"),
    ),
    (
        "qcow2 disk",
        "100/vm-100-disk-12.qcow2",
        Volume("images", "vm-100-disk-12.qcow2", 100, None, None, False, "qcow2"),
    ),
    (
        "vmdk disk",
        "101/vm-101-disk-1.vmdk",
        Volume("images", "vm-101-disk-1.vmdk", 101, None, None, False, "vmdk"),
    ),
    (
        "cloudinit",
        "100/vm-100-cloudinit.qcow2",
        Volume("images", "vm-100-cloudinit.qcow2", 100, None, None, False, "qcow2"),
    ),
    (
        "base image",
        "100/base-100-disk-0.qcow2",
        Volume("images", "base-100-disk-0.qcow2", 100, None, None, True, "qcow2"),
    ),
    (
        "ct subvol",
        "102/subvol-102-disk-0.subvol",
        Volume("images", "subvol-102-disk-0.subvol", 102, None, None, False, "subvol"),
    ),
    (
        "linked clone",
        "100/base-100-disk-0.qcow2/101/vm-101-disk-0.qcow2",
        Volume("images", "vm-101-disk-0.qcow2", 101, "base-100-disk-0.qcow2", 100, False, "qcow2"),
    ),
    (
        "base of linked clone",
        "100/base-100-disk-0.raw/101/base-101-disk-0.qcow2",
        Volume("images", "base-101-disk-0.qcow2", 101, "base-100-disk-0.raw", 100, True, "qcow2"),
    ),
    ("iso", "iso/debian-12.iso", Volume("iso", "debian-12.iso", format="raw")),
    ("iso img upper", "iso/boot.IMG", Volume("iso", "boot.IMG", format="raw")),
    ("iso with space", "iso/my disc.iso", Volume("iso", "my disc.iso", format="raw")),
    (
        "vztmpl zst",
        "vztmpl/debian-12-standard_12.2-1_amd64.tar.zst",
        Volume("vztmpl", "debian-12-standard_12.2-1_amd64.tar.zst", format="raw"),
    ),
    ("vztmpl gz", "vztmpl/alpine.tar.gz", Volume("vztmpl", "alpine.tar.gz", format="raw")),
    (
        "backup qemu",
        "backup/vzdump-qemu-100-2024_01_02-03_04_05.vma.zst",
        Volume("backup", "vzdump-qemu-100-2024_01_02-03_04_05.vma.zst", 100, format="raw"),
    ),
    (
        "backup lxc",
        "backup/vzdump-lxc-105-2024_01_02-03_04_05.tar",
        Volume("backup", "vzdump-lxc-105-2024_01_02-03_04_05.tar", 105, format="raw"),
    ),
    (
        "backup lzo",
        "backup/vzdump-qemu-100-x.vma.lzo",
        Volume("backup", "vzdump-qemu-100-x.vma.lzo", 100, format="raw"),
    ),
    ("backup foreign", "backup/other.tgz", Volume("backup", "other.tgz", format="raw")),
    ("snippet", "snippets/user-data.yaml", Volume("snippets", "user-data.yaml", format="raw")),
    ("import qcow2", "import/disk.qcow2", Volume("import", "disk.qcow2", format="qcow2")),
    ("import ova", "import/appliance.ova", Volume("import", "appliance.ova", format="ova")),
    (
        "ova member",
        "import/appliance.ova/disk1.vmdk",
        Volume("import", "appliance.ova/disk1.vmdk", format="ova+vmdk"),
    ),
    ("rootdir", "rootdir/103", Volume("rootdir", "103", 103)),
]

BAD = [
    ("traversal", "../../etc/shadow"),
    ("traversal in images", "100/../../etc/shadow"),
    ("traversal in iso", "iso/../../../etc/shadow"),
    ("dotdot base", "100/../101/vm-101-disk-0.raw"),
    ("absolute", "/etc/shadow"),
    ("NUL", "iso/a\0.iso"),
    ("newline", "iso/a\n.iso"),
    ("backslash", "iso/..\\..\\a.iso"),
    ("empty component", "iso//a.iso"),
    ("trailing slash", "iso/a.iso/"),
    ("dot component", "iso/./a.iso"),
    ("empty", ""),
    ("hidden file", "iso/.hidden.iso"),
    ("unknown vtype", "foo/bar"),
    ("bad image ext", "100/vm-100-disk-0.exe"),
    ("image without vmid", "vm-100-disk-0.raw"),
    ("leading zero vmid", "0100/vm-100-disk-0.raw"),
    ("iso wrong ext", "iso/debian.tar.gz"),
    ("vztmpl wrong ext", "vztmpl/foo.zip"),
    ("backup log", "backup/vzdump-qemu-100-x.log"),
    ("snippet subdir", "snippets/a/b"),
    ("import exe", "import/evil.exe"),
    ("linked clone bad base", "100/evil.txt/101/vm-101-disk-0.qcow2"),
    ("too deep", "1/2/3/4/5.raw"),
]


@pytest.mark.parametrize(("desc", "volname", "expected"), GOOD, ids=[g[0] for g in GOOD])
def test_parse_good(desc: str, volname: str, expected: Volume) -> None:
    vol = parse_volname(volname)
    assert vol == expected
    assert vol.volname() == volname


@pytest.mark.parametrize(("desc", "volname"), BAD, ids=[b[0] for b in BAD])
def test_parse_bad(desc: str, volname: str) -> None:
    with pytest.raises(ParamError) as err:
        parse_volname(volname)
    assert "volume" in err.value.errors


def test_param_name_is_used() -> None:
    with pytest.raises(ParamError) as err:
        parse_volname("../x", "disk")
    assert set(err.value.errors) == {"disk"}


@pytest.mark.parametrize(
    ("volid", "expected"),
    [
        ("local:100/vm-100-disk-0.raw", ("local", "100/vm-100-disk-0.raw")),
        ("my.store-1:iso/x.iso", ("my.store-1", "iso/x.iso")),
        ("local-lvm:vm-100-disk-0", ("local-lvm", "vm-100-disk-0")),
    ],
)
def test_split_volid(volid: str, expected: tuple[str, str]) -> None:
    assert split_volid(volid) == expected


@pytest.mark.parametrize(
    "volid",
    [
        "local:../../etc/shadow",
        "local:/etc/shadow",
        "nocolon",
        ":iso/x.iso",
        "local:",
        "1bad:iso/x.iso",
        "local:iso/x\n.iso",
        "local:a\\b",
    ],
)
def test_split_volid_bad(volid: str) -> None:
    with pytest.raises(ParamError):
        split_volid(volid)


def test_parse_volid() -> None:
    storeid, vol = parse_volid("local:100/vm-100-disk-0.qcow2")
    assert storeid == "local"
    assert vol.vmid == 100 and vol.format == "qcow2"


def test_check_safe_allows_plain_names() -> None:
    assert check_safe("vm-100-disk-0") == "vm-100-disk-0"


@pytest.mark.parametrize(
    ("used", "fmt", "expected"),
    [
        (set(), "raw", "vm-100-disk-0.raw"),
        ({"vm-100-disk-0.raw"}, "qcow2", "vm-100-disk-1.qcow2"),
        (
            {"vm-100-disk-0.raw", "base-100-disk-1.qcow2", "vm-100-disk-3.raw"},
            "raw",
            "vm-100-disk-2.raw",
        ),
        ({"vm-101-disk-0.raw"}, "raw", "vm-100-disk-0.raw"),
        ({"vm-100-disk-0"}, None, "vm-100-disk-1"),
    ],
)
def test_free_disk_name(used: set[str], fmt: str | None, expected: str) -> None:
    assert free_disk_name(100, used, fmt) == expected


def test_free_disk_name_exhausted() -> None:
    used = {f"vm-100-disk-{n}.raw" for n in range(1024)}
    with pytest.raises(ParamError):
        free_disk_name(100, used, "raw")
