"""The audit log: one JSON line per state-changing API call, node-local, size-rotated.

The server records every POST, PUT and DELETE after it ran: time, user, API token,
source address, method, path, parameters and the result (HTTP status and message).
Secret parameters are replaced by ``"***"`` before anything touches the disk.  The
file is ``<root>/var/log/pyxis/audit.log``; when it grows past ``max_bytes`` it is
renamed to ``audit.log.1`` (older generations shift up to ``keep``).  ``entries``
reads the newest records back for ``GET /cluster/log``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyxis.access.ratelimit import follow_clock

if TYPE_CHECKING:
    from pyxis.services import Services

SECRET_KEYS = frozenset(
    {
        "password",
        "new-password",
        "confirmation-password",
        "cipassword",
        "value",
        "secret",
        "otp",
        "tfa-challenge",
        "client-key",
        "response",
        "recovery",
    }
)
REDACTED = "***"
MAX_VALUE = 256


def is_secret(key: str) -> bool:
    low = key.lower()
    return low in SECRET_KEYS or low.endswith(("password", "secret"))


def redact(params: Mapping[str, Any]) -> dict[str, Any]:
    """Parameters safe to log: secrets masked, long values cut."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if is_secret(key):
            out[key] = REDACTED
        elif isinstance(value, str) and len(value) > MAX_VALUE:
            out[key] = value[:MAX_VALUE] + "..."
        elif isinstance(value, (str, int, float, bool)) or value is None:
            out[key] = value
        else:
            out[key] = str(value)[:MAX_VALUE]
    return out


class AuditLog:
    """Append-only JSON-lines file with size rotation (thread-safe appends)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 4 << 20,
        keep: int = 3,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self.clock = clock
        self._lock = threading.Lock()
        self._seq = 0

    def append(self, record: dict[str, Any]) -> dict[str, Any]:
        """Write one record (``time`` and ``seq`` are filled in); return it."""
        with self._lock:
            self._seq += 1
            record = {"time": int(self.clock()), "seq": self._seq, **record}
            line = json.dumps(record, separators=(",", ":"), sort_keys=True) + "\n"
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._rotate_if_needed(len(line))
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        return record

    def _rotate_if_needed(self, incoming: int) -> None:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return
        if size + incoming <= self.max_bytes:
            return
        for gen in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{gen}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{gen + 1}"))
        self.path.replace(self.path.with_name(f"{self.path.name}.1"))

    def files(self) -> list[Path]:
        """Current file first, then older generations."""
        gens = [self.path.with_name(f"{self.path.name}.{g}") for g in range(1, self.keep + 1)]
        return [p for p in [self.path, *gens] if p.exists()]

    def entries(self, limit: int) -> list[dict[str, Any]]:
        """Up to ``limit`` newest records, newest first (unreadable lines skipped)."""
        out: list[dict[str, Any]] = []
        for path in self.files():
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
            for line in reversed(lines):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
                if len(out) >= limit:
                    return out
        return out


# bounded: one entry per node root this process served (tests open many)
_LOGS: dict[Path, AuditLog] = {}
_MAX_LOGS = 64


def log_for(svc: Services) -> AuditLog:
    """The node's audit log (one object per file, shared by every app instance)."""
    path = svc.paths.task_dir.parent / "audit.log"
    log = _LOGS.get(path)
    if log is None:
        if len(_LOGS) >= _MAX_LOGS:
            _LOGS.clear()
        log = _LOGS[path] = AuditLog(path, clock=follow_clock(svc))
    return log


def record_request(
    svc: Services,
    *,
    authid: str,
    source: str | None,
    method: str,
    path: str,
    params: Mapping[str, Any],
    status: int,
    message: str,
    errors: Mapping[str, Any] | None = None,
) -> None:
    """Log one state-changing API call (called by the server after dispatch)."""
    userid = authid.partition("!")[0]
    if not authid and isinstance(params.get("username"), str):
        # a login attempt: name who tried, without saying whether that user exists
        userid = str(params["username"])
        if "@" not in userid and isinstance(params.get("realm"), str):
            userid = f"{userid}@{params['realm']}"
    log_for(svc).append(
        {
            "node": svc.node,
            "user": userid,
            "token": authid if "!" in authid else None,
            "source": source,
            "method": method,
            "path": path,
            "params": redact(params),
            "status": status,
            "message": message,
            **({"errors": dict(errors)} if errors else {}),
        }
    )
