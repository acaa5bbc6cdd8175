"""Generic section-config files (storage.cfg, domains.cfg, ha/*.cfg, jobs.cfg ...).

The format is written once here and shared by every file that uses it: a header line
``<type>: <id>`` opens a section, indented ``<key> <value>`` lines follow, a bare key
means boolean true, a blank line ends the section and ``#`` starts a comment.  This
module only knows the syntax; which types and keys are allowed, and how values are
typed, is the caller's business (see ``pyxis.storage.config``).  Parsing keeps the
section order and the SHA-1 digest of the raw text, which the API uses for optimistic
locking (``digest`` parameters).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

HEADER_RE = re.compile(r"^(\S+):\s*(\S+)\s*\Z")
# Key lines must be indented; the value runs to the end of the line (spaces allowed).
KEY_RE = re.compile(r"^\s+(\S+)(?:\s+(.*\S))?\s*\Z")
SECTION_TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]*\Z", re.IGNORECASE)
KEY_NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]*\Z", re.IGNORECASE)


@dataclass
class SectionConfig:
    """A parsed section-config file.

    ``ids`` maps section id to its data (always holding ``type``); ``order`` keeps the
    file order for rendering; ``digest`` is the SHA-1 hex digest of the text parsed.
    """

    ids: dict[str, dict[str, Any]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    digest: str = ""

    def add(self, section_id: str, data: dict[str, Any]) -> None:
        """Append a section; ``data`` must carry ``type``."""
        if "type" not in data:
            raise ValueError(f"section '{section_id}' has no type")
        if section_id in self.ids:
            raise ValueError(f"section '{section_id}' already defined")
        self.ids[section_id] = data
        self.order.append(section_id)

    def remove(self, section_id: str) -> dict[str, Any]:
        data = self.ids.pop(section_id)
        self.order.remove(section_id)
        return data

    def sections(self) -> Iterable[tuple[str, dict[str, Any]]]:
        """Sections in file order (ids missing from ``order`` come last, sorted)."""
        seen = set(self.order)
        for sid in [*self.order, *sorted(k for k in self.ids if k not in seen)]:
            if sid in self.ids:
                yield sid, self.ids[sid]


def digest_of(text: str) -> str:
    return hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()


def parse(text: str) -> SectionConfig:
    """Parse section-config ``text``; raise ValueError naming the line of any problem.

    Values stay strings (a bare key becomes the integer 1); typing them is left to the
    caller, which knows the schema.
    """
    cfg = SectionConfig(digest=digest_of(text))
    current: dict[str, Any] | None = None
    current_id = ""
    for lineno, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        if line.strip() == "":
            current = None
            continue
        if line.lstrip().startswith("#"):
            continue
        if current is None:
            m = HEADER_RE.match(line)
            if not m or line[0].isspace():
                raise ValueError(f"line {lineno}: expected section header '<type>: <id>'")
            stype, sid = m.group(1), m.group(2)
            if not SECTION_TYPE_RE.match(stype):
                raise ValueError(f"line {lineno}: invalid section type '{stype}'")
            if sid in cfg.ids:
                raise ValueError(f"line {lineno}: duplicate section '{sid}'")
            current = {"type": stype}
            current_id = sid
            cfg.add(sid, current)
            continue
        km = KEY_RE.match(line)
        if not km:
            raise ValueError(f"line {lineno}: malformed line in section '{current_id}'")
        key, value = km.group(1), km.group(2)
        if not KEY_NAME_RE.match(key) or key == "type":
            raise ValueError(f"line {lineno}: invalid key '{key}'")
        if key in current:
            raise ValueError(f"line {lineno}: duplicate key '{key}' in section '{current_id}'")
        current[key] = 1 if value is None else value
    return cfg


def format_value(value: Any) -> str:
    """Text for one value: booleans as 0/1, sets sorted and comma-joined, lists joined."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (set, frozenset)):
        return ",".join(sorted(str(v) for v in value))
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def render(
    cfg: SectionConfig,
    *,
    flags: Collection[str] = (),
    first: Mapping[str, Sequence[str]] | None = None,
) -> str:
    """Print ``cfg`` in the canonical layout.

    ``flags`` are keys printed bare when true and omitted when false (``disable`` in
    storage.cfg); every other key prints as ``key value``.  Within a section the flags
    come first, then the keys listed in ``first[type]`` (fixed options upstream prints
    right after the header), then the rest sorted.  ``None`` values are skipped.
    """
    out: list[str] = []
    for sid, data in cfg.sections():
        stype = str(data["type"])
        _check_token(stype, "section type")
        _check_token(sid, "section id")
        lines = [f"{stype}: {sid}"]
        lead = [k for k in sorted(flags) if k in data]
        lead += [k for k in (first or {}).get(stype, ()) if k in data and k not in lead]
        rest = sorted(k for k in data if k != "type" and k not in lead)
        for key in [*lead, *rest]:
            value = data[key]
            if value is None:
                continue
            _check_token(key, "key")
            if key in flags:
                if value and value not in ("0", 0):
                    lines.append(f"\t{key}")
                continue
            text = format_value(value)
            if "\n" in text or "\r" in text:
                raise ValueError(f"value of '{key}' in section '{sid}' contains a line break")
            if text != "":
                lines.append(f"\t{key} {text}")
        # Each section is followed by a blank line, as upstream writes it.
        out.append("\n".join(lines) + "\n\n")
    return "".join(out)


def _check_token(token: str, what: str) -> None:
    bad_colon = ":" in token and what != "section id"
    if not token or bad_colon or any(c.isspace() for c in token):
        raise ValueError(f"invalid {what} '{token}'")
