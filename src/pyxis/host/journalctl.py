"""The system log as systemd's journal tells it, through ``journalctl``.

Commands run through ``pyxis.util.run`` (argv lists, no shell; tests swap the runner).
``syslog`` pages ``journalctl -o short`` output.  Every call reads at most
``MAX_LINES`` lines (the newest of the selected range).  ``journal`` reads ``-o json`` so that
every entry brings its cursor: it formats entries the way the short output looks
(``Mon DD HH:MM:SS host ident[pid]: message``) and wraps them in the cursors of the
first and last entry.  After ``startcursor`` it reads forwards (entries strictly after
it); before ``endcursor`` it reads backwards from it and restores the order.
"""

from __future__ import annotations

import json
import time
from typing import Any

from pyxis.host.syslog import DEFAULT_LASTENTRIES, JournalQuery, SyslogQuery, page
from pyxis.util.run import run

JOURNALCTL = "journalctl"
TIMEOUT = 60.0
# At most this many lines per call (the newest ones): a request can never make the
# daemon hold a whole multi-gigabyte journal in memory.
MAX_LINES = 50_000
_BASE = [JOURNALCTL, "--no-pager", "--quiet"]


def syslog_argv(q: SyslogQuery) -> list[str]:
    argv = [*_BASE, "-o", "short"]
    if q.service:
        argv += ["--unit", q.service]
    if q.since:
        argv += ["--since", q.since]
    if q.until:
        argv += ["--until", q.until]
    return [*argv, "--lines", str(MAX_LINES)]


def journal_argv(q: JournalQuery) -> list[str]:
    argv = [*_BASE, "-o", "json"]
    if q.since is not None:
        argv += ["--since", f"@{q.since}"]
    if q.until is not None:
        argv += ["--until", f"@{q.until}"]
    if q.startcursor:
        argv += ["--after-cursor", q.startcursor]
    elif q.endcursor:
        # backwards from the cursor, skipping the cursor's own entry
        argv += ["--reverse", "--after-cursor", q.endcursor]
    if not q.endcursor:
        count = q.lastentries
        if count is None and q.since is None and not q.startcursor:
            count = DEFAULT_LASTENTRIES
        argv += ["--lines", str(min(count, MAX_LINES) if count is not None else MAX_LINES)]
    return argv


def _text(value: Any) -> str:
    """A journal field: a string, or bytes as a list of numbers (non-UTF-8 data)."""
    if isinstance(value, list):
        try:
            return bytes(value).decode("utf-8", errors="replace")
        except (TypeError, ValueError):
            return ""
    return "" if value is None else str(value)


def format_entry(entry: dict[str, Any]) -> str:
    """One journal entry as a short-format line."""
    try:
        when = int(entry.get("__REALTIME_TIMESTAMP", 0)) / 1_000_000
    except (TypeError, ValueError):
        when = 0
    stamp = time.strftime("%b %d %H:%M:%S", time.localtime(when))
    host = _text(entry.get("_HOSTNAME")) or "localhost"
    ident = _text(entry.get("SYSLOG_IDENTIFIER") or entry.get("_COMM")) or "unknown"
    pid = _text(entry.get("SYSLOG_PID") or entry.get("_PID"))
    who = f"{ident}[{pid}]" if pid else ident
    message = " ".join(_text(entry.get("MESSAGE")).splitlines())
    return f"{stamp} {host} {who}: {message}"


def parse_json_lines(out: str) -> list[dict[str, Any]]:
    entries = []
    for line in out.splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict) and "__CURSOR" in item:
            entries.append(item)
    return entries


class Journalctl:
    """``LogSource`` backed by the journal."""

    name = "journal"

    async def syslog(self, q: SyslogQuery) -> tuple[list[dict[str, int | str]], int]:
        res = await run(syslog_argv(q), timeout=TIMEOUT, check=False)
        return page(res.stdout.splitlines(), q.start, q.limit)

    async def journal(self, q: JournalQuery) -> list[str]:
        res = await run(journal_argv(q), timeout=TIMEOUT, check=False)
        entries = parse_json_lines(res.stdout)
        if q.endcursor and not q.startcursor:
            entries = entries[: q.lastentries or DEFAULT_LASTENTRIES]
            entries.reverse()
        elif q.endcursor:
            # a range: stop in front of the end cursor's entry
            ends = [i for i, e in enumerate(entries) if e["__CURSOR"] == q.endcursor]
            entries = entries[: ends[0]] if ends else entries
        if not entries:
            anchor = q.startcursor or q.endcursor
            return [anchor, anchor] if anchor else []
        lines = [format_entry(e) for e in entries]
        return [str(entries[0]["__CURSOR"]), *lines, str(entries[-1]["__CURSOR"])]
