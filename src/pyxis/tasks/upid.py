"""The UPID: the string that names one task on one node, as clients see it.

Format ``UPID:<node>:<pid>:<pstart>:<starttime>:<type>:<id>:<user>:`` with uppercase hex
numbers (pid and starttime 8 digits, pstart 8 or 9).  Parsing is strict so that
``str(UPID.parse(s)) == s`` always holds: the string is also the log file name, and a
lenient parser would let two spellings name one task but only one of them find its log.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pyxis.errors import ParamError

_NODE = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?"
_UPID_RE = re.compile(
    rf"UPID:({_NODE}):([0-9A-F]{{8}}):([0-9A-F]{{8,9}}):([0-9A-F]{{8}}):"
    r"([^:\s]+):([^:\s]*):([^:\s]+):"
)
_NODE_RE = re.compile(_NODE)
# Fields end up in whitespace-separated index lines and in a colon-separated string.
_FIELD_BAD = re.compile(r"[:\s]")


@dataclass(frozen=True)
class UPID:
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str

    def __post_init__(self) -> None:
        if not _NODE_RE.fullmatch(self.node):
            raise ParamError.one("node", f"invalid node name '{self.node}'")
        for name, value, bits in (
            ("pid", self.pid, 32),
            ("pstart", self.pstart, 36),
            ("starttime", self.starttime, 32),
        ):
            if not 0 <= value < (1 << bits):
                raise ParamError.one(name, f"value {value} out of range for a UPID")
        for name, text, may_be_empty in (
            ("type", self.type, False),
            ("id", self.id, True),
            ("user", self.user, False),
        ):
            if _FIELD_BAD.search(text) or (not text and not may_be_empty):
                raise ParamError.one(name, f"invalid task {name} '{text}' (no ':' or whitespace)")

    @classmethod
    def parse(cls, s: str) -> UPID:
        m = _UPID_RE.fullmatch(s)
        if m is None:
            raise ParamError.one("upid", f"unable to parse worker upid '{s}'")
        node, pid, pstart, starttime, type_, id_, user = m.groups()
        return cls(node, int(pid, 16), int(pstart, 16), int(starttime, 16), type_, id_, user)

    def __str__(self) -> str:
        return (
            f"UPID:{self.node}:{self.pid:08X}:{self.pstart:08X}:{self.starttime:08X}:"
            f"{self.type}:{self.id}:{self.user}:"
        )

    def to_dict(self) -> dict[str, int | str]:
        """The decoded fields as the tasks API returns them."""
        return {
            "upid": str(self),
            "node": self.node,
            "pid": self.pid,
            "pstart": self.pstart,
            "starttime": self.starttime,
            "type": self.type,
            "id": self.id,
            "user": self.user,
        }


def log_path(task_dir: Path, upid: UPID | str) -> Path:
    """Where the task's log lives: 16 buckets by the last hex digit of the start time."""
    u = upid if isinstance(upid, UPID) else UPID.parse(upid)
    return task_dir / f"{u.starttime & 0xF:X}" / str(u)
