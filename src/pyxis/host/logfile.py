"""The system log as a plain text file, for hosts without journald.

Reads ``/var/log/syslog``-style files: one message per line, each starting with either
an RFC 3339 stamp (``2026-01-31T12:00:00.123+01:00``, rsyslog's default on Debian) or a
traditional one (``Jan 31 12:00:00``, the current year assumed).  ``since``/``until``
compare those stamps (in local time; a line without one shares the previous line's);
``service`` keeps lines whose program tag is the service's name (``.service`` optional).

Cursors of ``journal`` are byte offsets into the file (``file:<offset>``): the start
of the first line returned and the end of the last one.  The file is read forwards
line by line for ``syslog`` (counting everything, keeping one page) and backwards in
blocks for ``lastentries``, so neither holds the whole file in memory.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from pyxis.host.syslog import DEFAULT_LASTENTRIES, JournalQuery, SyslogQuery, page

CURSOR_PREFIX = "file:"
BLOCK = 64 * 1024
_ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})")
_BSD = re.compile(r"^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}:\d{2}:\d{2})")
# "<stamp> <host> <tag>[pid]: message" / "<stamp> <host> <tag>: message"
_TAG = re.compile(r"^\S+(?: +\d{1,2} \d{2}:\d{2}:\d{2})? +\S+ +([^\s\[:]+)")


def line_time(line: str, year: int | None = None) -> float | None:
    """Epoch seconds of a line's leading stamp (local time), None without one."""
    if m := _ISO.match(line):
        text = f"{m.group(1)} {m.group(2)}"
        return time.mktime(time.strptime(text, "%Y-%m-%d %H:%M:%S"))
    if m := _BSD.match(line):
        yr = year or time.localtime().tm_year
        text = f"{yr} {m.group(1)} {int(m.group(2))} {m.group(3)}"
        try:
            return time.mktime(time.strptime(text, "%Y %b %d %H:%M:%S"))
        except ValueError:
            return None
    return None


def parse_bound(text: str | None) -> float | None:
    """``YYYY-MM-DD[ HH:MM[:SS]]`` (local time) as epoch seconds."""
    if not text:
        return None
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).timestamp()
        except ValueError:
            continue
    return None


def line_tag(line: str) -> str | None:
    m = _TAG.match(line)
    return m.group(1) if m else None


class _Window:
    """Keeps lines whose (inherited) stamp lies within ``since``..``until``."""

    def __init__(self, since: float | None, until: float | None) -> None:
        self.since, self.until = since, until
        self.last: float | None = None

    def keep(self, line: str) -> bool:
        stamp = line_time(line)
        if stamp is not None:
            self.last = stamp
        if self.last is None:
            return self.since is None
        if self.since is not None and self.last < self.since:
            return False
        return self.until is None or self.last <= self.until


def _forward(path: Path, offset: int = 0) -> Iterator[tuple[int, int, str]]:
    """(start, end, text) of every complete line from ``offset`` on."""
    with path.open("rb") as fh:
        fh.seek(offset)
        pos = offset
        for raw in fh:
            if not raw.endswith(b"\n"):
                break  # a line still being written
            end = pos + len(raw)
            yield pos, end, raw.rstrip(b"\r\n").decode("utf-8", errors="replace")
            pos = end


def _backward(path: Path, end: int) -> Iterator[tuple[int, int, str]]:
    """(start, end, text) of the complete lines before byte ``end``, last first."""
    with path.open("rb") as fh:
        size = fh.seek(0, 2)
        end = min(end, size)
        fh.seek(0)
        # drop a trailing partial line: only what ends in a newline counts
        tail = end
        buf = b""
        pos = end
        while pos > 0:
            step = min(BLOCK, pos)
            pos -= step
            fh.seek(pos)
            buf = fh.read(step) + buf
            if tail == end and b"\n" in buf:
                cut = buf.rfind(b"\n") + 1
                tail = pos + cut
                buf = buf[:cut]
            while buf.count(b"\n") > 1:
                cut = buf.rfind(b"\n", 0, len(buf) - 1) + 1
                line, buf = buf[cut:], buf[:cut]
                line_end = pos + len(buf) + len(line)
                yield pos + len(buf), line_end, line.rstrip(b"\r\n").decode(errors="replace")
        if buf.endswith(b"\n"):
            yield 0, len(buf), buf.rstrip(b"\r\n").decode(errors="replace")


def _cursor(offset: int) -> str:
    return f"{CURSOR_PREFIX}{offset}"


def parse_cursor(cursor: str | None) -> int | None:
    if not cursor or not cursor.startswith(CURSOR_PREFIX):
        return None
    digits = cursor[len(CURSOR_PREFIX) :]
    return int(digits) if digits.isdigit() else None


class LogFile:
    """``LogSource`` backed by one text file (empty answers while it does not exist)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = str(path)

    async def syslog(self, q: SyslogQuery) -> tuple[list[dict[str, int | str]], int]:
        return await asyncio.to_thread(self._syslog, q)

    async def journal(self, q: JournalQuery) -> list[str]:
        return await asyncio.to_thread(self._journal, q)

    def _syslog(self, q: SyslogQuery) -> tuple[list[dict[str, int | str]], int]:
        if not self.path.is_file():
            return page([], 0, 0)
        window = _Window(parse_bound(q.since), parse_bound(q.until))
        service = q.service.removesuffix(".service") if q.service else None
        limit = q.limit or 50
        kept: list[str] = []
        total = 0
        for _start, _end, line in _forward(self.path):
            if not window.keep(line):
                continue
            if service and line_tag(line) != service:
                continue
            if q.start <= total < q.start + limit:
                kept.append(line)
            total += 1
        if not total:
            return page([], 0, 0)
        return [{"n": q.start + i + 1, "t": t} for i, t in enumerate(kept)], total

    def _journal(self, q: JournalQuery) -> list[str]:
        if not self.path.is_file():
            return []
        window = _Window(
            float(q.since) if q.since is not None else None,
            float(q.until) if q.until is not None else None,
        )
        after, before = parse_cursor(q.startcursor), parse_cursor(q.endcursor)
        picked: list[tuple[int, int, str]] = []
        if after is not None or q.since is not None:
            for item in _forward(self.path, after or 0):
                if before is not None and item[1] > before:
                    break
                if window.keep(item[2]):
                    picked.append(item)
            if q.lastentries is not None:
                picked = picked[-q.lastentries :] if q.lastentries else []
        else:
            count = q.lastentries if q.lastentries is not None else DEFAULT_LASTENTRIES
            end = before if before is not None else self.path.stat().st_size
            for item in _backward(self.path, end):
                if len(picked) >= count:
                    break
                if window.keep(item[2]):
                    picked.append(item)
            picked.reverse()
        if not picked:
            anchor = q.startcursor or q.endcursor
            return [anchor, anchor] if anchor else []
        return [_cursor(picked[0][0]), *(t for _s, _e, t in picked), _cursor(picked[-1][1])]
