"""Run background tasks and keep the upstream task files: per-task logs, ``active`` and ``index``.

A task is a coroutine started with ``TaskManager.start``; it gets a ``TaskLog`` to write
to and runs as its own asyncio task, so it outlives the HTTP request that created it.
While it runs, its UPID is listed in ``<task_dir>/active`` (one UPID per line, rewritten
atomically); when it ends, the log gets its final ``TASK ...`` line and an
``<UPID> <endtime hex> <status>`` line is appended to ``<task_dir>/index``.  The exit
status is always read back from the log's last line, as upstream does, so a log that a
crash cut short reads as ``unexpected status``.  ``recover`` finalises what a previous
daemon left in ``active``.
"""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pyxis.errors import NotFound, ParamError
from pyxis.tasks.upid import UPID, log_path

TaskInfo = dict[str, int | str]

UNEXPECTED = "unexpected status"
INTERRUPTED = "received interrupt"
STATUS_TYPES = ("ok", "warning", "error", "unknown")

_INDEX_LINE = re.compile(r"(\S+)(?: ([0-9A-Fa-f]{8})(?: (\S.*))?)?")
_WARNINGS = re.compile(r"WARNINGS: \d+")


def exitstatus_from_line(line: str) -> str:
    """Map a log's last line to the exit status the API reports."""
    if line == "TASK OK":
        return "OK"
    if line.startswith("TASK WARNINGS: ") and _WARNINGS.fullmatch(line[5:]):
        return line[5:]
    if line.startswith("TASK ERROR: ") and len(line) > len("TASK ERROR: "):
        return line[len("TASK ERROR: ") :]
    return UNEXPECTED


def status_type(status: str | None) -> str:
    """Classify an exit status as ok, warning, error or unknown (for ``statusfilter``)."""
    if not status or status == UNEXPECTED:
        return "unknown"
    if status == "OK":
        return "ok"
    if _WARNINGS.fullmatch(status):
        return "warning"
    return "error"


def read_pstart(pid: int) -> int | None:
    """Process start time in clock ticks (``/proc/<pid>/stat`` field 22), None if gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # comm (field 2) may hold spaces and parens; fields after its closing paren start at 3.
    rest = raw[raw.rfind(")") + 2 :].split()
    try:
        return int(rest[22 - 3])
    except (IndexError, ValueError):
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


class TaskLog:
    """The handle a task writes its log through; every line is flushed for live readers."""

    def __init__(self, upid: UPID, fh: TextIO) -> None:
        self.upid = upid
        self.warnings = 0
        self._fh = fh

    def log(self, line: str) -> None:
        for part in line.splitlines() or [""]:
            self._fh.write(part + "\n")
        self._fh.flush()

    def warn(self, line: str) -> None:
        self.warnings += 1
        self.log(f"WARN: {line}")

    def _close(self, final: str) -> None:
        self.log(final)
        self._fh.close()


@dataclass
class _Entry:
    upid: UPID
    endtime: int | None = None
    status: str | None = None

    def info(self) -> TaskInfo:
        d = self.upid.to_dict()
        if self.endtime is not None:
            d["endtime"] = self.endtime
        if self.status is not None:
            d["status"] = self.status
        return d


class TaskManager:
    """Starts, tracks and reports the tasks of one node; owns ``task_dir``."""

    def __init__(
        self,
        node: str,
        task_dir: Path,
        *,
        pid: int | None = None,
        pstart: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.node = node
        self.task_dir = Path(task_dir)
        self.pid = os.getpid() if pid is None else pid
        self.pstart = (read_pstart(self.pid) or 0) if pstart is None else pstart
        self._clock = clock
        self._running: dict[str, asyncio.Task[str]] = {}

    @property
    def active_file(self) -> Path:
        return self.task_dir / "active"

    @property
    def index_file(self) -> Path:
        return self.task_dir / "index"

    # -- running tasks ----------------------------------------------------------------

    async def start(
        self, type: str, id: str, user: str, fn: Callable[[TaskLog], Awaitable[None]]
    ) -> str:
        """Create the task's log, list it as active and run ``fn`` detached; return the UPID."""
        starttime = int(self._clock())
        while True:
            upid = UPID(self.node, self.pid, self.pstart, starttime, type, id, user)
            path = log_path(self.task_dir, upid)
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fh = path.open("x", encoding="utf-8")
            except FileExistsError:
                # Same daemon, same kind of task within one second: the UPID must differ.
                starttime += 1
                continue
            break
        key = str(upid)
        tlog = TaskLog(upid, fh)
        task = asyncio.get_running_loop().create_task(self._run(tlog, fn), name=key)
        # Finish in a done callback, not inside _run: a task cancelled before its first
        # step never executes any of _run, yet its log and files must still be closed out.
        task.add_done_callback(lambda t: self._finish(tlog, t))
        self._running[key] = task
        self._write_active()
        return key

    async def _run(self, tlog: TaskLog, fn: Callable[[TaskLog], Awaitable[None]]) -> str:
        try:
            await fn(tlog)
        except asyncio.CancelledError:
            # The interrupt is the task's outcome, not the wrapper's: record it and let
            # waiters see a normal completion.
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            return f"TASK ERROR: {INTERRUPTED}"
        except Exception as err:
            return f"TASK ERROR: {_one_line(str(err)) or type(err).__name__}"
        return f"TASK WARNINGS: {tlog.warnings}" if tlog.warnings else "TASK OK"

    def _finish(self, tlog: TaskLog, task: asyncio.Task[str]) -> None:
        if task.cancelled():
            final = f"TASK ERROR: {INTERRUPTED}"
        elif (exc := task.exception()) is not None:
            final = f"TASK ERROR: {_one_line(str(exc)) or type(exc).__name__}"
        else:
            final = task.result()
        try:
            tlog._close(final)
            # starttime may run ahead of the clock (bumped to keep UPIDs unique)
            endtime = max(int(self._clock()), tlog.upid.starttime)
            self._archive(tlog.upid, endtime, exitstatus_from_line(final))
        finally:
            self._running.pop(str(tlog.upid), None)
            self._write_active()

    async def stop(self, upid: str, timeout: float = 10.0) -> None:
        """Interrupt a running task and give it ``timeout`` seconds to finish its log."""
        u = UPID.parse(upid)
        task = self._running.get(upid)
        if task is None:
            if not log_path(self.task_dir, u).exists():
                raise NotFound(f"no such task '{upid}'")
            return  # already finished: stopping it is a no-op, as upstream
        task.cancel()
        await asyncio.wait({task}, timeout=timeout)

    async def wait(self, upid: str) -> str:
        """Wait for a task to end (without cancelling it if the waiter is) -> exit status."""
        task = self._running.get(upid)
        if task is not None:
            # asyncio.wait neither cancels the task when the waiter is cancelled nor
            # raises the task's own outcome.
            await asyncio.wait({task})
        return str(self.status(upid)["exitstatus"])

    def is_running(self, upid: str) -> bool:
        return upid in self._running

    # -- queries ----------------------------------------------------------------------

    def status(self, upid: str) -> TaskInfo:
        u = UPID.parse(upid)
        info = u.to_dict()
        if upid in self._running or self._foreign_alive(u):
            info["status"] = "running"
            return info
        path = log_path(self.task_dir, u)
        if not path.exists():
            raise NotFound(f"no such task '{upid}'")
        info["status"] = "stopped"
        info["exitstatus"] = exitstatus_from_line(_last_line(path))
        return info

    def log_file(self, upid: str) -> Path:
        """The task's log file (for ``download=1``); NotFound if there is none."""
        path = log_path(self.task_dir, UPID.parse(upid))
        if not path.is_file():
            raise NotFound(f"no such task '{upid}'")
        return path

    def read_log(self, upid: str, start: int = 0, limit: int = 50) -> tuple[list[TaskInfo], int]:
        """Lines ``start+1 .. start+limit`` as ``{n, t}`` (``limit`` 0 = all) and the total."""
        path = log_path(self.task_dir, UPID.parse(upid))
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError as err:
            raise NotFound(f"no such task '{upid}'") from err
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        if not lines:
            # Upstream never answers an empty page (its GUI store cannot page over one).
            return [{"n": 1, "t": "no content"}], 1
        end = len(lines) if limit == 0 else start + limit
        page: list[TaskInfo] = [
            {"n": i + 1, "t": lines[i]} for i in range(start, min(end, len(lines)))
        ]
        return page, len(lines)

    def list(
        self,
        start: int = 0,
        limit: int = 50,
        vmid: int | None = None,
        typefilter: str | None = None,
        userfilter: str | None = None,
        statusfilter: str | Iterable[str] | None = None,
        errors: bool = False,
        since: int | None = None,
        until: int | None = None,
        source: str = "archive",
    ) -> tuple[list[TaskInfo], int]:
        """Tasks matching the filters, running ones first, each group newest first."""
        if source not in ("archive", "active", "all"):
            raise ParamError.one("source", f"value '{source}' is not archive, active or all")
        wanted = set(STATUS_TYPES)
        if errors:
            wanted.discard("ok")
        elif statusfilter is not None:
            parts = [statusfilter] if isinstance(statusfilter, str) else statusfilter
            wanted = {w.lower() for p in parts for w in re.split(r"[;,\s\0]+", p) if w}
            bad = wanted - set(STATUS_TYPES)
            if bad:
                raise ParamError.one("statusfilter", f"invalid task status type '{sorted(bad)[0]}'")
        ufilter = userfilter.lower() if userfilter else None

        def keep(e: _Entry) -> bool:
            u = e.upid
            return not (
                (ufilter and ufilter not in u.user.lower())
                or (typefilter and u.type != typefilter)
                or (vmid is not None and u.id != str(vmid))
                or (since is not None and u.starttime < since)
                or (until is not None and u.starttime > until)
                or status_type(e.status) not in wanted
            )

        entries: builtins.list[_Entry] = []
        if source in ("active", "all"):
            entries += _newest_first(self._read_active())
        if source in ("archive", "all"):
            entries += _newest_first(self._read_index())
        matched = [e for e in entries if keep(e)]
        out = []
        for e in matched[start : start + limit]:
            info = e.info()
            # Running tasks carry no status on disk; upstream labels them so in lists.
            info.setdefault("status", "RUNNING")
            out.append(info)
        return out, len(matched)

    # -- restart recovery -------------------------------------------------------------

    def recover(self) -> builtins.list[str]:
        """Archive tasks a dead process left in ``active``; return their UPIDs."""
        archived = {str(e.upid) for e in self._read_index()}
        recovered: builtins.list[str] = []
        for e in self._read_active():
            key = str(e.upid)
            if key in self._running or self._foreign_alive(e.upid):
                continue
            recovered.append(key)
            if key in archived:
                continue  # died between appending to index and rewriting active
            path = log_path(self.task_dir, e.upid)
            try:
                endtime = int(path.stat().st_mtime)
                status = exitstatus_from_line(_last_line(path))
            except OSError:
                endtime, status = int(self._clock()), UNEXPECTED
            self._archive(e.upid, endtime, status)
        if recovered:
            self._write_active(drop=set(recovered))
        return recovered

    def _foreign_alive(self, u: UPID) -> bool:
        """True if ``u`` belongs to another process that is still the same live process."""
        if (u.pid, u.pstart) == (self.pid, self.pstart):
            return False  # ours: alive only if in _running, which callers check
        if u.node != self.node:
            return False
        return read_pstart(u.pid) == u.pstart

    # -- files ------------------------------------------------------------------------

    def _archive(self, upid: UPID, endtime: int, status: str) -> None:
        self.task_dir.mkdir(parents=True, exist_ok=True)
        line = f"{upid} {endtime:08X} {status}\n"
        # One write on an O_APPEND descriptor keeps lines whole; fsync so a crash right
        # after cannot lose a task that is about to vanish from ``active``.
        with self.index_file.open("a", encoding="utf-8") as fh:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())

    def _write_active(self, drop: set[str] | None = None) -> None:
        self.task_dir.mkdir(parents=True, exist_ok=True)
        # Lines of other processes stay until recover() judges them; lines of ours are
        # exactly the tasks still running here.
        mine = (self.pid, self.pstart)
        others = [
            e
            for e in self._read_active()
            if (e.upid.pid, e.upid.pstart) != mine and not (drop and str(e.upid) in drop)
        ]
        lines = [f"{e.upid}\n" for e in others] + [f"{k}\n" for k in self._running]
        tmp = self.active_file.with_name(f".active.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            fh.writelines(lines)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.active_file)

    def _read_active(self) -> builtins.list[_Entry]:
        return _parse_task_file(self.active_file)

    def _read_index(self) -> builtins.list[_Entry]:
        return _parse_task_file(self.index_file)


def _parse_task_file(path: Path) -> list[_Entry]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    out: list[_Entry] = []
    for line in text.splitlines():
        m = _INDEX_LINE.fullmatch(line.strip())
        if m is None:
            continue
        try:
            upid = UPID.parse(m.group(1))
        except ParamError:
            continue  # a foreign or damaged line must not break listing
        endtime = int(m.group(2), 16) if m.group(2) else None
        out.append(_Entry(upid, endtime, m.group(3)))
    return out


def _newest_first(entries: list[_Entry]) -> list[_Entry]:
    # Later lines win ties: reverse first, then a stable sort on start time.
    return sorted(reversed(entries), key=lambda e: e.upid.starttime, reverse=True)


def _last_line(path: Path) -> str:
    with path.open("rb") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(max(0, size - 4096))
        tail = fh.read().decode("utf-8", errors="replace")
    lines = [ln for ln in tail.split("\n") if ln]
    return lines[-1] if lines else ""
