"""Unpack a container template archive into a root file system, refusing hostile ones.

The archive's member list is read and checked before a single byte is written: GNU
``tar -tv`` with C-style quoting (unambiguous for any file name) gives each member's
type, mode, owner and link target.  Refused are absolute member paths, ``..``
components, relative symlinks whose target climbs out of the root, members that lie
below a symlink of the archive (writing through it could land anywhere on the host),
hard links to absolute or ``..`` targets, unknown member types and, for unprivileged
containers, device nodes and setuid/setgid files.  Absolute symlink targets are
allowed: inside the container they resolve against its own root, and nothing of the
archive is written through them.  Only then does ``tar`` extract (the bytes never pass
through Python), and for an unprivileged container every file's owner is shifted into
the container's id range by an ``lchown`` walk.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyxis.errors import PyxisError
from pyxis.guests.lxc.lxcconf import DEFAULT_IDMAP, IdMapEntry
from pyxis.util.run import run

_Q = r'(?:[^"\\]|\\.)*'
LINE_RE = re.compile(
    rf"^(?P<mode>\S{{10}})\s+(?P<uid>\d+)/(?P<gid>\d+)\s+(?P<size>[\d,]+)\s+\S+\s+\S+\s+"
    rf'"(?P<name>{_Q})"(?:\s+(?P<kind>->|link to)\s+"(?P<link>{_Q})")?$'
)
COMPRESSION = {
    ".tar.zst": "--zstd",
    ".tar.gz": "--gzip",
    ".tar.xz": "--xz",
    ".tar.bz2": "--bzip2",
    ".tar": "",
}
ALLOWED_TYPES = "-dlhcbp"


class TemplateError(PyxisError):
    """A template archive that is unreadable or unsafe to extract."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=400)


@dataclass(frozen=True)
class Member:
    """One archive member as listed: ``type`` is the first mode letter (``-`` file,
    ``d`` directory, ``l`` symlink, ``h`` hard link, ``c``/``b`` device, ``p`` FIFO)."""

    name: str
    type: str
    mode: str
    uid: int
    gid: int
    link: str | None = None

    @property
    def setid(self) -> bool:
        return self.type in "-h" and (self.mode[3] in "sS" or self.mode[6] in "sS")


def _unquote(text: str) -> str:
    raw: bytes = codecs.escape_decode(text.encode("utf-8"))[0]
    return raw.decode("utf-8", errors="surrogateescape")


def parse_listing(text: str) -> list[Member]:
    """Members of a ``LC_ALL=C tar -tv --numeric-owner --quoting-style=c`` listing."""
    out: list[Member] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        m = LINE_RE.match(line)
        if m is None:
            raise TemplateError(f"unable to parse template listing line: {line[:200]!r}")
        name, link = _unquote(m.group("name")), m.group("link")
        out.append(
            Member(
                name=name,
                type=m.group("mode")[0],
                mode=m.group("mode"),
                uid=int(m.group("uid")),
                gid=int(m.group("gid")),
                link=_unquote(link) if link is not None else None,
            )
        )
    return out


def _components(name: str) -> list[str]:
    return [p for p in name.split("/") if p not in ("", ".")]


def check_members(members: Sequence[Member], *, unprivileged: bool) -> None:
    """Refuse the archive (TemplateError naming the member) if any member is unsafe."""
    symlinks = {"/".join(_components(m.name)) for m in members if m.type == "l"}
    for m in members:
        where = f"template member '{m.name}'"
        if m.name.startswith("/"):
            raise TemplateError(f"{where}: absolute path")
        parts = _components(m.name)
        if ".." in parts:
            raise TemplateError(f"{where}: path contains '..'")
        if m.type not in ALLOWED_TYPES:
            raise TemplateError(f"{where}: unsupported member type '{m.type}'")
        for i in range(1, len(parts)):
            if "/".join(parts[:i]) in symlinks:
                raise TemplateError(f"{where}: lies below the symlink '{'/'.join(parts[:i])}'")
        if m.type == "l":
            target = m.link or ""
            if not target.startswith("/"):
                resolved = posixpath.normpath(
                    posixpath.join(posixpath.dirname("/".join(parts)), target)
                )
                if resolved == ".." or resolved.startswith("../"):
                    raise TemplateError(f"{where}: symlink to '{target}' points outside the root")
        if m.type == "h":
            target = m.link or ""
            if target.startswith("/") or ".." in _components(target):
                raise TemplateError(f"{where}: hard link to '{target}' points outside the root")
        if unprivileged and m.type in "cb":
            raise TemplateError(f"{where}: device nodes are not allowed in unprivileged containers")
        if unprivileged and m.setid:
            raise TemplateError(
                f"{where}: setuid/setgid files are not allowed in unprivileged containers"
            )


def compression_flag(archive: Path) -> str:
    """The tar option for the archive's compression, from its name."""
    for ext, flag in COMPRESSION.items():
        if archive.name.endswith(ext):
            return flag
    raise TemplateError(f"unknown template archive type '{archive.name}'")


async def list_template(archive: Path) -> list[Member]:
    """The members of ``archive`` (headers only; contents are not extracted)."""
    flag = compression_flag(archive)
    # --absolute-names: show names and link targets exactly as stored, never trimmed
    argv = [
        "env",
        "LC_ALL=C",
        "tar",
        "-t",
        "-v",
        "--absolute-names",
        "--numeric-owner",
        "--quoting-style=c",
        "--full-time",
        *([flag] if flag else []),
        "-f",
        str(archive),
    ]
    res = await run(argv, timeout=None, check=False)
    if res.returncode != 0:
        raise TemplateError(f"unable to read template '{archive.name}': {res.stderr.strip()}")
    return parse_listing(res.stdout)


def map_id(ident: int, kind: str, idmap: Sequence[IdMapEntry]) -> int:
    """Host id for container id ``ident`` of ``kind`` (``u``/``g``); TemplateError if
    the map does not cover it."""
    for k, ct, host, count in idmap:
        if k == kind and ct <= ident < ct + count:
            return host + ident - ct
    raise TemplateError(f"{'uid' if kind == 'u' else 'gid'} {ident} is outside the id map")


def shift_ids(root: Path, idmap: Sequence[IdMapEntry]) -> None:
    """``lchown`` every file below ``root`` (root included) into the id map; metadata
    only, never following symlinks."""

    seen: set[tuple[int, int]] = set()

    def shift(path: str) -> None:
        st = os.lstat(path)
        if (st.st_dev, st.st_ino) in seen:
            return  # another name of a hard-linked file: already shifted
        seen.add((st.st_dev, st.st_ino))
        os.lchown(path, map_id(st.st_uid, "u", idmap), map_id(st.st_gid, "g", idmap))
        if not os.path.islink(path) and st.st_mode & 0o7777 != os.lstat(path).st_mode & 0o7777:
            os.chmod(path, st.st_mode & 0o7777)  # chown clears set-id bits; keep the mode

    shift(str(root))
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [*dirnames, *filenames]:
            shift(os.path.join(dirpath, name))


async def extract_template(
    archive: Path,
    dest: Path,
    *,
    unprivileged: bool,
    idmap: Sequence[IdMapEntry] = DEFAULT_IDMAP,
) -> list[Member]:
    """Check ``archive`` and extract it into ``dest`` (an existing directory, normally
    the empty root file system volume); shift ownership for unprivileged containers.

    Returns the member list.  Raises TemplateError before writing anything when the
    archive is unsafe; ``CommandError`` if tar fails midway.
    """
    if not dest.is_dir():
        raise TemplateError(f"extraction target '{dest}' is not a directory")
    members = await list_template(archive)
    check_members(members, unprivileged=unprivileged)
    if unprivileged:
        for m in members:
            map_id(m.uid, "u", idmap)
            map_id(m.gid, "g", idmap)
    flag = compression_flag(archive)
    await run(
        [
            "tar",
            "-x",
            *([flag] if flag else []),
            "-f",
            str(archive),
            "-C",
            str(dest),
            "--numeric-owner",
            "--same-owner",
            "--same-permissions",
            "--xattrs",
            "--xattrs-include=user.*",
            "--xattrs-include=trusted.*",
            "--no-overwrite-dir",
            "--delay-directory-restore",
        ],
        timeout=None,
    )
    if unprivileged:
        await asyncio.to_thread(shift_ids, dest, idmap)
    return members
