"""The ``qemu-server/<vmid>.conf`` file: parse into ``VmConfig`` and print it back.

A file is a main section of ``key: value`` lines, then optional sections: ``[PENDING]``
(changes waiting for the next start, with ``delete: k1,!k2``), ``[special:cloudinit]``
/ ``[special:fleecing]`` and one ``[name]`` section per snapshot.  ``#`` lines hold a
section's description, percent-escaped (every byte outside printable ASCII, and
``:``).  Printing writes the description first, then keys sorted; sections follow in
the order pending, special (by name), snapshots (by name), each after a blank line.
That is the canonical form: parsing a file we wrote and printing it gives the same
bytes.  Values stay strings here; ``keys.parse_value`` types them on demand.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes

PENDING = "PENDING"
LXC_PENDING = "pve:pending"
SPECIAL_NAMES = ("cloudinit", "fleecing")
SNAPNAME_RE = re.compile(r"^[a-z][a-z0-9_-]+\Z", re.IGNORECASE)
SECTION_RE = re.compile(r"^\[([^\]]*)\]\s*\Z")
LINE_RE = re.compile(r"^([a-z][a-z0-9_-]*):\s*(.*?)\s*\Z")
SPLIT_DELETE_RE = re.compile(r"[,;\s]+")
_HEX_ESCAPE_RE = re.compile(rb"%[0-9A-Fa-f]{2}")
# Never stored in a section: computed or structural.
RESERVED_KEYS = frozenset({"digest", "snapshots", "pending"})


@dataclass(frozen=True)
class Dialect:
    """What differs between guest config files: the pending section's name and which
    keys may appear (containers also allow raw ``lxc.*`` keys)."""

    pending: str = PENDING
    line_re: re.Pattern[str] = LINE_RE


QEMU = Dialect()
LXC = Dialect(
    pending=LXC_PENDING,
    line_re=re.compile(r"^([a-z][a-z0-9_-]*|lxc(?:\.[a-z0-9_-]+)+):\s*(.*?)\s*\Z"),
)


@dataclass
class VmConfig:
    """One parsed VM config; every value is the raw string from the file."""

    main: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    pending_delete: list[str] = field(default_factory=list)
    snapshots: dict[str, dict[str, str]] = field(default_factory=dict)
    special: dict[str, dict[str, str]] = field(default_factory=dict)


def digest(text: str | bytes) -> str:
    """SHA-1 hex digest of the raw file (the API's optimistic-lock token)."""
    raw = text.encode() if isinstance(text, str) else text
    return hashlib.sha1(raw, usedforsecurity=False).hexdigest()


def encode_text(text: str) -> str:
    """Percent-escape one description line as written after ``#``.

    Bytes outside 0x20-0x7E and ``:`` are escaped, as upstream does; ``%`` is also
    escaped where it would otherwise read back as an escape sequence.
    """
    raw = text.encode()
    out: list[str] = []
    for i, byte in enumerate(raw):
        ambiguous = byte == 0x25 and _HEX_ESCAPE_RE.match(raw, i) is not None
        if byte < 0x20 or byte > 0x7E or byte == 0x3A or ambiguous:
            out.append(f"%{byte:02X}")
        else:
            out.append(chr(byte))
    return "".join(out)


def decode_text(text: str) -> str:
    return unquote_to_bytes(text).decode("utf-8", errors="replace")


def _split_delete(value: str) -> list[str]:
    return [item for item in SPLIT_DELETE_RE.split(value) if item]


def _section_target(
    cfg: VmConfig, name: str, lineno: int, dialect: Dialect = QEMU
) -> tuple[str, dict[str, str]]:
    if name.upper() == dialect.pending.upper():
        if cfg.pending or cfg.pending_delete:
            raise ValueError(f"line {lineno}: duplicate section [{name}]")
        return PENDING, cfg.pending
    if name.startswith("special:"):
        special = name[len("special:") :]
        if special not in SPECIAL_NAMES:
            raise ValueError(f"line {lineno}: unknown special section [{name}]")
        if special in cfg.special:
            raise ValueError(f"line {lineno}: duplicate section [{name}]")
        cfg.special[special] = {}
        return name, cfg.special[special]
    if not SNAPNAME_RE.match(name):
        raise ValueError(f"line {lineno}: invalid section name [{name}]")
    if name in cfg.snapshots:
        raise ValueError(f"line {lineno}: duplicate snapshot section [{name}]")
    cfg.snapshots[name] = {}
    return name, cfg.snapshots[name]


def parse_config(text: str, dialect: Dialect = QEMU) -> VmConfig:
    """Parse a config file; ValueError names the offending line number."""
    cfg = VmConfig()
    section, target = "", cfg.main
    descr: list[str] | None = None
    seen_delete = False

    def flush_description() -> None:
        if descr is not None:
            target["description"] = "\n".join(descr)

    for lineno, line in enumerate(text.split("\n"), start=1):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        if line.startswith("#"):
            if "description" in target and descr is None:
                raise ValueError(f"line {lineno}: duplicate key 'description'")
            descr = [*(descr or []), decode_text(line[1:])]
            continue
        header = SECTION_RE.match(line)
        if header:
            flush_description()
            descr, seen_delete = None, False
            section, target = _section_target(cfg, header.group(1), lineno, dialect)
            continue
        m = dialect.line_re.match(line)
        if not m or not m.group(2):
            raise ValueError(f"line {lineno}: unable to parse config line '{line}'")
        key, value = m.group(1), m.group(2)
        if key in RESERVED_KEYS:
            raise ValueError(f"line {lineno}: key '{key}' may not be stored")
        if section == PENDING and key == "delete":
            if seen_delete:
                raise ValueError(f"line {lineno}: duplicate key 'delete'")
            seen_delete = True
            cfg.pending_delete = _split_delete(value)
            continue
        if key in target or (key == "description" and descr is not None):
            raise ValueError(f"line {lineno}: duplicate key '{key}'")
        target[key] = value
    flush_description()
    return cfg


def _check_line(key: str, value: str, dialect: Dialect = QEMU) -> None:
    if not dialect.line_re.match(f"{key}: x") or key in RESERVED_KEYS:
        raise ValueError(f"invalid config key '{key}'")
    if "\n" in value or "\r" in value:
        raise ValueError(f"{key}: value may not contain line breaks")
    if value != value.strip() or value == "":
        raise ValueError(f"{key}: value may not be empty or padded with whitespace")


def _render_section(
    values: dict[str, str],
    delete: list[str] | None = None,
    *,
    pending: bool = False,
    dialect: Dialect = QEMU,
) -> str:
    lines: list[str] = []
    descr = values.get("description")
    if descr:
        lines.extend("#" + encode_text(part) for part in descr.split("\n"))
    elif descr is not None and pending:
        # an empty pending description (clear it on apply) still needs a line
        lines.append("#")
    items = {k: v for k, v in values.items() if k != "description"}
    if delete:
        if "delete" in items:
            raise ValueError("pending section may not hold a 'delete' key")
        items["delete"] = ",".join(delete)
    for key in sorted(items):
        _check_line(key, items[key], dialect)
        lines.append(f"{key}: {items[key]}")
    return "".join(f"{line}\n" for line in lines)


def render_config(cfg: VmConfig, dialect: Dialect = QEMU) -> str:
    """Print ``cfg`` in canonical form (see the module docstring)."""
    parts = [_render_section(cfg.main, dialect=dialect)]
    if cfg.pending or cfg.pending_delete:
        parts.append(f"\n[{dialect.pending}]\n")
        parts.append(
            _render_section(cfg.pending, cfg.pending_delete, pending=True, dialect=dialect)
        )
    for name in sorted(cfg.special):
        if name not in SPECIAL_NAMES:
            raise ValueError(f"unknown special section '{name}'")
        parts.append(f"\n[special:{name}]\n")
        parts.append(_render_section(cfg.special[name], dialect=dialect))
    for name in sorted(cfg.snapshots):
        if not SNAPNAME_RE.match(name) or name.upper() == dialect.pending.upper():
            raise ValueError(f"invalid snapshot name '{name}'")
        parts.append(f"\n[{name}]\n")
        parts.append(_render_section(cfg.snapshots[name], dialect=dialect))
    return "".join(parts)


def snapshot_tree(cfg: VmConfig) -> list[dict[str, Any]]:
    """Snapshot list as the API returns it: one entry per snapshot (oldest first), then
    ``current`` whose ``parent`` is the snapshot the VM runs on."""
    out: list[dict[str, Any]] = []
    for name, snap in cfg.snapshots.items():
        item: dict[str, Any] = {"name": name, "description": snap.get("description", "")}
        if "parent" in snap:
            item["parent"] = snap["parent"]
        if "snaptime" in snap:
            item["snaptime"] = int(snap["snaptime"])
        if snap.get("vmstate"):
            item["vmstate"] = 1
        out.append(item)
    out.sort(key=lambda s: (s.get("snaptime", 0), s["name"]))
    current: dict[str, Any] = {"name": "current", "description": "You are here!"}
    if "parent" in cfg.main:
        current["parent"] = cfg.main["parent"]
    out.append(current)
    return out


def pending_view(cfg: VmConfig) -> list[dict[str, Any]]:
    """Rows for ``GET .../pending``: ``{key, value?, pending?, delete?}`` sorted by key;
    ``delete`` is 1 for a pending removal and 2 for a forced one (``!key``)."""
    deletes: dict[str, int] = {}
    for item in cfg.pending_delete:
        force = item.startswith("!")
        deletes[item.lstrip("!")] = 2 if force else 1
    rows: dict[str, dict[str, Any]] = {}
    for key, value in cfg.main.items():
        rows[key] = {"key": key, "value": value}
    for key, value in cfg.pending.items():
        rows.setdefault(key, {"key": key})["pending"] = value
    for key, how in deletes.items():
        if key not in cfg.pending:
            rows.setdefault(key, {"key": key})["delete"] = how
    return [rows[key] for key in sorted(rows)]
