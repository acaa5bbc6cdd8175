"""Template extraction: hostile archives are refused before anything is written, and
good ones land in the target with ownership shifted for unprivileged containers.

Archives are crafted with ``tarfile`` and compressed with the real ``zstd``; listing
and extraction use the real GNU tar (no daemon, no LXC).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from pyxis.guests.lxc.extract import (
    Member,
    TemplateError,
    check_members,
    extract_template,
    map_id,
    parse_listing,
)

pytestmark = pytest.mark.skipif(
    shutil.which("zstd") is None or shutil.which("tar") is None, reason="needs tar and zstd"
)
ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to chown")

Spec = tuple[str, bytes, dict[str, object]]


def make_archive(path: Path, members: list[Spec]) -> Path:
    plain = path.with_suffix("")
    with tarfile.open(plain, "w", format=tarfile.GNU_FORMAT) as tar:
        for name, data, attrs in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            for key, value in attrs.items():
                setattr(info, key, value)
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    subprocess.run(["zstd", "-q", "--rm", "-f", str(plain), "-o", str(path)], check=True)
    return path


def d(name: str) -> Spec:
    return (name, b"", {"type": tarfile.DIRTYPE, "mode": 0o755})


def f(name: str, data: bytes = b"x\n", **attrs: object) -> Spec:
    return (name, data, attrs)


def sym(name: str, target: str) -> Spec:
    return (name, b"", {"type": tarfile.SYMTYPE, "linkname": target})


def hard(name: str, target: str) -> Spec:
    return (name, b"", {"type": tarfile.LNKTYPE, "linkname": target})


GOOD = [
    d("./"),
    d("./bin/"),
    f("./bin/busybox", b"\x7fELF", mode=0o755),
    sym("./bin/sh", "busybox"),
    sym("./sbin", "bin"),
    sym("./etc/mtab", "/proc/self/mounts"),
    d("./etc/"),
    f("./etc/hostname", b"ct\n"),
    hard("./bin/ash", "./bin/busybox"),
    f("./home/user file", b"u", uid=1000, gid=1000),
]

BAD: dict[str, tuple[list[Spec], bool, str]] = {
    "absolute": ([f("/etc/evil")], False, "absolute path"),
    "dotdot": ([f("../evil")], False, "'..'"),
    "dotdot_inside": ([d("a/"), f("a/../../evil")], False, "'..'"),
    "symlink_escape": ([sym("up", "../../etc")], False, "points outside"),
    "symlink_dir_write": ([sym("etc2", "/etc"), f("etc2/evil-passwd")], False, "below the symlink"),
    "relative_symlink_write": ([d("x/"), sym("x/y", "."), f("x/y/z")], False, "below the symlink"),
    "hardlink_absolute": ([hard("h", "/etc/shadow")], False, "hard link"),
    "hardlink_dotdot": ([hard("h", "../outside")], False, "hard link"),
    "device_unpriv": (
        [f("dev/sda", type=tarfile.BLKTYPE, devmajor=8, devminor=0)],
        True,
        "device nodes",
    ),
    "chardev_unpriv": (
        [f("dev/mem", type=tarfile.CHRTYPE, devmajor=1, devminor=1)],
        True,
        "device nodes",
    ),
    "setuid_unpriv": ([f("bin/su", mode=0o4755)], True, "setuid"),
    "setgid_unpriv": ([f("bin/wall", mode=0o2755)], True, "setuid/setgid"),
    "uid_outside_map": ([f("big", uid=70000)], True, "outside the id map"),
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_hostile_archives_are_refused(tmp_path: Path, case: str) -> None:
    members, unprivileged, message = BAD[case]
    archive = make_archive(tmp_path / f"{case}.tar.zst", members)
    dest = tmp_path / "root"
    dest.mkdir()
    with pytest.raises(TemplateError, match=message) as err:
        await extract_template(archive, dest, unprivileged=unprivileged)
    assert err.value.status == 400
    assert list(dest.iterdir()) == []  # nothing extracted at all
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([archive.name, "root"])


async def test_devices_and_setuid_allowed_for_privileged(tmp_path: Path) -> None:
    members = [d("./"), f("./bin/su", mode=0o4755)]
    if os.geteuid() == 0:
        members.append(f("./dev/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3))
    archive = make_archive(tmp_path / "t.tar.zst", members)
    dest = tmp_path / "root"
    dest.mkdir()
    await extract_template(archive, dest, unprivileged=False)
    assert (dest / "bin" / "su").stat().st_mode & 0o7777 == 0o4755


@ROOT_ONLY
async def test_privileged_extract_keeps_ids(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "good.tar.zst", GOOD)
    dest = tmp_path / "root"
    dest.mkdir()
    members = await extract_template(archive, dest, unprivileged=False)
    assert len(members) == len(GOOD)
    assert os.readlink(dest / "bin" / "sh") == "busybox"
    assert os.readlink(dest / "etc" / "mtab") == "/proc/self/mounts"
    assert (dest / "bin" / "ash").stat().st_ino == (dest / "bin" / "busybox").stat().st_ino
    assert (dest / "home" / "user file").stat().st_uid == 1000


@ROOT_ONLY
async def test_unprivileged_extract_shifts_ids(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "good.tar.zst", GOOD)
    dest = tmp_path / "root"
    dest.mkdir()
    await extract_template(archive, dest, unprivileged=True)
    assert dest.stat().st_uid == 100000
    assert (dest / "etc" / "hostname").stat().st_uid == 100000
    assert (dest / "home" / "user file").stat().st_gid == 101000
    assert os.lstat(dest / "etc" / "mtab").st_uid == 100000  # the link, not /proc
    assert (dest / "bin" / "busybox").stat().st_mode & 0o777 == 0o755
    custom = (("u", 0, 200000, 65536), ("g", 0, 300000, 65536))
    dest2 = tmp_path / "root2"
    dest2.mkdir()
    await extract_template(archive, dest2, unprivileged=True, idmap=custom)
    assert (dest2 / "home" / "user file").stat().st_uid == 201000
    assert (dest2 / "home" / "user file").stat().st_gid == 301000


async def test_unreadable_archive(tmp_path: Path) -> None:
    bad = tmp_path / "junk.tar.zst"
    bad.write_bytes(b"not an archive")
    dest = tmp_path / "root"
    dest.mkdir()
    with pytest.raises(TemplateError, match="unable to read template"):
        await extract_template(bad, dest, unprivileged=False)
    with pytest.raises(TemplateError, match="unknown template archive type"):
        await extract_template(tmp_path / "x.zip", dest, unprivileged=False)
    with pytest.raises(TemplateError, match="not a directory"):
        await extract_template(bad, tmp_path / "missing", unprivileged=False)


def test_parse_listing_quoting() -> None:
    text = (
        '-rw-r--r-- 0/0 5 2024-01-01 00:00:00 "a b/\\"q\\"\\n.txt"\n'
        'lrwxrwxrwx 0/0 0 2024-01-01 00:00:00 "x -> y" -> "t \\342\\202\\254"\n'
        'hrw-r--r-- 1/2 0 2024-01-01 00:00:00 "h" link to "a b/\\"q\\"\\n.txt"\n'
        'crw-r--r-- 0/0 1,3 2024-01-01 00:00:00 "dev/null"\n'
    )
    got = parse_listing(text)
    assert [(m.name, m.type, m.link) for m in got] == [
        ('a b/"q"\n.txt', "-", None),
        ("x -> y", "l", "t \u20ac"),
        ("h", "h", 'a b/"q"\n.txt'),
        ("dev/null", "c", None),
    ]
    assert (got[2].uid, got[2].gid) == (1, 2)
    with pytest.raises(TemplateError, match="unable to parse"):
        parse_listing("garbage line\n")


def test_check_members_unknown_type_and_map() -> None:
    with pytest.raises(TemplateError, match="unsupported member type"):
        check_members([Member("v", "V", "V---------", 0, 0)], unprivileged=False)
    assert map_id(5, "g", (("u", 0, 1000, 10), ("g", 0, 2000, 10))) == 2005
