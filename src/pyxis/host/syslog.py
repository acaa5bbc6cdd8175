"""Where the node's system log comes from, and the shapes the API returns.

Two readers behind one contract (``LogSource``): ``Journalctl`` asks systemd's journal
(``journalctl``, through the command runner) and is used whenever journald runs on the
host (``/run/systemd/journal`` exists); otherwise ``LogFile`` reads the first plain
text log that exists of ``/var/log/syslog``, ``/var/log/messages`` and the daemon's own
``<root>/var/log/pyxis/pyxisd.log``.  ``pick_source`` makes that choice per request,
so a journald started later is picked up.

Both return ``syslog`` pages as ``[{n, t}]`` (``n`` counting lines from 1) with the
number of matching lines, and ``journal`` as a list of strings whose first and last
items are cursors (the position before the first and after the last line), so a client
can ask for what came after its last fetch (``startcursor``) or before its first one
(``endcursor``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

JOURNAL_RUN_DIR = Path("/run/systemd/journal")
SYSTEM_LOGS = (Path("/var/log/syslog"), Path("/var/log/messages"))
DAEMON_LOG = "var/log/pyxis/pyxisd.log"
DEFAULT_LIMIT = 50
DEFAULT_LASTENTRIES = 50
# an empty page still gets one line, so that paging clients always see something
NO_CONTENT = "no content"


@dataclass(frozen=True)
class SyslogQuery:
    """``since``/``until`` are ``YYYY-MM-DD[ HH:MM[:SS]]`` strings as the API takes them."""

    start: int = 0
    limit: int = DEFAULT_LIMIT
    since: str | None = None
    until: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class JournalQuery:
    """``since``/``until`` are epoch seconds; cursors come from an earlier answer."""

    since: int | None = None
    until: int | None = None
    lastentries: int | None = None
    startcursor: str | None = None
    endcursor: str | None = None


class LogSource(Protocol):
    """A reader of the host's log; ``name`` says which (``journal``, a file path)."""

    name: str

    async def syslog(self, q: SyslogQuery) -> tuple[list[dict[str, int | str]], int]: ...

    async def journal(self, q: JournalQuery) -> list[str]: ...


def page(lines: list[str], start: int, limit: int) -> tuple[list[dict[str, int | str]], int]:
    """Lines ``start`` .. ``start+limit`` numbered from 1, and the total."""
    if not lines:
        return [{"n": 1, "t": NO_CONTENT}], 1
    limit = limit or DEFAULT_LIMIT
    chunk = lines[start : start + limit]
    return [{"n": start + i + 1, "t": t} for i, t in enumerate(chunk)], len(lines)


def pick_source(root: Path) -> LogSource:
    """The journal when journald runs, else the first plain log file that exists."""
    from pyxis.host.journalctl import Journalctl
    from pyxis.host.logfile import LogFile

    if JOURNAL_RUN_DIR.is_dir():
        return Journalctl()
    for candidate in (*SYSTEM_LOGS, root / DAEMON_LOG):
        if candidate.is_file():
            return LogFile(candidate)
    return LogFile(root / DAEMON_LOG)
