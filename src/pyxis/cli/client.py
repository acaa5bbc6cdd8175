"""HTTP over the daemon's unix socket, for the CLIs.

The daemon is found from ``--root`` or ``PYXIS_ROOT`` (default ``/``).  Responses are
unwrapped from the ``{"data": ...}`` envelope; errors become ``ApiError`` with the
status, message and per-parameter errors.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from pyxis.paths import Paths


class ApiError(Exception):
    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors or {}

    def __str__(self) -> str:
        lines = [self.message.rstrip()]
        for key, msg in sorted(self.errors.items()):
            lines.append(f"{key}: {msg}")
        return "\n".join(lines)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError as err:
            sock.close()
            raise ApiError(
                0,
                f"cannot reach pyxisd at {self._path}: {err.strerror} "
                "(is the daemon running? see --root / PYXIS_ROOT)",
            ) from err
        self.sock = sock


def root_from(arg: str | None) -> str:
    return arg or os.environ.get("PYXIS_ROOT") or "/"


class LocalClient:
    def __init__(self, root: str | None = None, timeout: float = 3600) -> None:
        self.paths = Paths.at(root_from(root))
        self.timeout = timeout
        self._node: str | None = None

    @property
    def node(self) -> str:
        """The local node's name (written by the daemon into its run dir)."""
        if self._node is None:
            try:
                self._node = (self.paths.run_dir / "node").read_text().strip()
            except OSError as err:
                raise ApiError(
                    0,
                    f"cannot find the local node name under {self.paths.run_dir}: "
                    "is pyxisd running? (see --root / PYXIS_ROOT)",
                ) from err
        return self._node

    def call(self, http_method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        params = {k: v for k, v in (params or {}).items() if v is not None}
        url = "/api2/json" + quote(path, safe="/@!:=,%")
        body = None
        headers = {}
        if http_method in ("GET", "DELETE"):
            if params:
                url += "?" + urlencode(params, doseq=True)
        else:
            body = urlencode(params, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = _UnixConnection(self.paths.socket, self.timeout)
        try:
            conn.request(http_method, url, body=body, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as err:
            raise ApiError(0, f"connection to pyxisd failed: {err}") from err
        finally:
            conn.close()
        try:
            doc = json.loads(raw) if raw else {}
        except ValueError:
            doc = {"message": raw.decode(errors="replace")}
        if resp.status >= 400:
            raise ApiError(resp.status, doc.get("message") or resp.reason, doc.get("errors"))
        return doc.get("data")

    def upload(
        self, path: str, fields: dict[str, str], file_field: str, file: Path, filename: str
    ) -> Any:
        """Multipart upload of ``file``; the bytes go with sendfile, not through Python."""
        boundary = f"pyxis-{uuid.uuid4().hex}"
        head = b"".join(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
            for k, v in fields.items()
        )
        head += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{file_field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        size = file.stat().st_size
        conn = _UnixConnection(self.paths.socket, self.timeout)
        try:
            conn.putrequest("POST", "/api2/json" + quote(path, safe="/@!:=,%"))
            conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
            conn.putheader("Content-Length", str(len(head) + size + len(tail)))
            conn.endheaders()
            assert conn.sock is not None
            conn.sock.sendall(head)
            with file.open("rb") as fh:
                conn.sock.sendfile(fh)
            conn.sock.sendall(tail)
            resp = conn.getresponse()
            raw = resp.read()
        except OSError as err:
            raise ApiError(0, f"upload to pyxisd failed: {err}") from err
        finally:
            conn.close()
        doc = json.loads(raw) if raw else {}
        if resp.status >= 400:
            raise ApiError(resp.status, doc.get("message") or resp.reason, doc.get("errors"))
        return doc.get("data")

    def wait_task(self, upid: str, *, echo: bool = True) -> str:
        """Follow a task's log until it stops; return its exit status."""
        import time

        node = upid.split(":")[1]
        shown = 0
        while True:
            status = self.call("GET", f"/nodes/{node}/tasks/{upid}/status")
            lines = self.call(
                "GET", f"/nodes/{node}/tasks/{upid}/log", {"start": shown, "limit": 500}
            )
            if shown == 0 and lines == [{"n": 1, "t": "no content"}]:
                lines = []  # upstream's placeholder page for a still-empty log
            for line in lines or []:
                if echo:
                    print(line["t"], flush=True)
                shown += 1
            if status["status"] == "stopped" and not lines:
                return str(status.get("exitstatus", ""))
            if status["status"] != "stopped":
                time.sleep(0.2)
