"""Client of the QEMU guest agent (``qemu-ga``) behind a VM's ``<vmid>.qga`` socket.

QEMU exposes the virtio-serial port ``org.qemu.guest_agent.0`` as a unix socket
(``-chardev socket,path=<vmid>.qga,server=on,wait=off``).  The protocol is one JSON object
per line with no greeting.  Replies of an earlier, abandoned client may still be in the
pipe, so every command is preceded by the resynchronisation QEMU's documentation
recommends: send ``0xFF`` (resets the agent's parser), then ``guest-sync-delimited``
with a random id; the agent answers with ``0xFF`` followed by ``{"return": id}``, and
everything before the matching answer is stale.  If the sync does not answer in time
the agent is not running (``AgentNotRunning``).  Each call opens its own connection
(QEMU accepts one client on the socket at a time).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from pyxis.errors import PyxisError

Json = dict[str, Any]

# Commands after which a well-behaved agent sends no reply on success.
_NO_REPLY = {"guest-shutdown", "guest-suspend-disk", "guest-suspend-ram", "guest-suspend-hybrid"}


class AgentError(PyxisError):
    """The guest agent answered with an error (``error_class``/``desc`` are its)."""

    def __init__(
        self, message: str, *, error_class: str | None = None, desc: str | None = None
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.desc = desc


class AgentNotRunning(AgentError):
    """No agent answered on the socket (not installed, not started, or no socket)."""

    def __init__(self, detail: str = "") -> None:
        msg = "QEMU guest agent is not running"
        super().__init__(f"{msg} ({detail})" if detail else msg)


@dataclass
class ExecStatus:
    exited: bool
    exitcode: int | None = None
    signal: int | None = None
    out_data: bytes = b""
    err_data: bytes = b""
    out_truncated: bool = False
    err_truncated: bool = False


class GuestAgent:
    """Guest agent of one VM; ``sync_timeout`` bounds the wait for a live agent.

    ``no_reply_wait`` is how long a command that answers only on failure (shutdown,
    suspend) is given to report an error.
    """

    def __init__(
        self, path: Path | str, *, sync_timeout: float = 3.0, no_reply_wait: float = 1.0
    ) -> None:
        self.path = Path(path)
        self.sync_timeout = sync_timeout
        self.no_reply_wait = no_reply_wait

    async def command(self, name: str, args: Json | None = None, timeout: float = 10.0) -> object:
        """Run agent command ``name`` and return its ``return`` value."""
        try:
            reader, writer = await asyncio.open_unix_connection(str(self.path))
        except OSError as err:
            raise AgentNotRunning(f"cannot connect to {self.path}: {err.strerror}") from err
        try:
            await self._sync(reader, writer)
            msg: Json = {"execute": name}
            if args:
                msg["arguments"] = args
            writer.write(json.dumps(msg).encode() + b"\n")
            await writer.drain()
            if name in _NO_REPLY:
                await self._no_reply(reader)
                return None
            try:
                reply = await asyncio.wait_for(self._read_object(reader), timeout)
            except TimeoutError as err:
                raise AgentError(
                    f"guest agent command '{name}' timed out after {timeout} s"
                ) from err
            return _result(name, reply)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def _sync(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sync_id = secrets.randbelow(2**31 - 1) + 1
        writer.write(b"\xff")
        writer.write(
            json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode()
            + b"\n"
        )
        await writer.drain()
        try:
            await asyncio.wait_for(self._await_sync(reader, sync_id), self.sync_timeout)
        except TimeoutError as err:
            raise AgentNotRunning(f"no answer within {self.sync_timeout} s") from err
        except (EOFError, ConnectionError, asyncio.LimitOverrunError) as err:
            raise AgentNotRunning(f"connection closed: {err}") from err

    async def _await_sync(self, reader: asyncio.StreamReader, sync_id: int) -> None:
        while True:
            await reader.readuntil(b"\xff")
            obj = await self._read_object(reader)
            if obj.get("return") == sync_id:
                return

    async def _read_object(self, reader: asyncio.StreamReader) -> Json:
        while True:
            line = await reader.readline()
            if not line:
                raise EOFError("guest agent closed the connection")
            text = line.strip(b"\xff \r\n\t")
            if not text:
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError:
                continue  # a fragment of a stale reply
            if isinstance(obj, dict):
                return obj

    async def _no_reply(self, reader: asyncio.StreamReader) -> None:
        # Only an error is answered; silence (or the guest going away) means success.
        try:
            reply = await asyncio.wait_for(self._read_object(reader), self.no_reply_wait)
        except (TimeoutError, EOFError, ConnectionError):
            return None
        _result("guest-shutdown", reply)
        return None

    # -- typed commands ----------------------------------------------------------------

    async def ping(self) -> None:
        await self.command("guest-ping")

    async def info(self) -> Json:
        return cast(Json, await self.command("guest-info"))

    async def network_get_interfaces(self) -> list[Json]:
        return cast(list[Json], await self.command("guest-network-get-interfaces"))

    async def exec(
        self,
        path: str,
        args: list[str] | None = None,
        input_data: bytes | None = None,
        *,
        capture_output: bool = True,
    ) -> int:
        """Start ``path`` in the guest; returns the guest pid for ``exec_status``."""
        req: Json = {"path": path, "capture-output": capture_output}
        if args:
            req["arg"] = list(args)
        if input_data is not None:
            req["input-data"] = base64.b64encode(input_data).decode()
        res = cast(Json, await self.command("guest-exec", req))
        return int(res["pid"])

    async def exec_status(self, pid: int) -> ExecStatus:
        res = cast(Json, await self.command("guest-exec-status", {"pid": pid}))
        return ExecStatus(
            exited=bool(res.get("exited")),
            exitcode=res.get("exitcode"),
            signal=res.get("signal"),
            out_data=base64.b64decode(res.get("out-data", "")),
            err_data=base64.b64decode(res.get("err-data", "")),
            out_truncated=bool(res.get("out-truncated", False)),
            err_truncated=bool(res.get("err-truncated", False)),
        )

    async def fsfreeze_status(self) -> str:
        return str(await self.command("guest-fsfreeze-status"))

    async def fsfreeze_freeze(self, timeout: float = 60.0) -> int:
        return int(cast(int, await self.command("guest-fsfreeze-freeze", timeout=timeout)))

    async def fsfreeze_thaw(self, timeout: float = 60.0) -> int:
        return int(cast(int, await self.command("guest-fsfreeze-thaw", timeout=timeout)))

    async def shutdown(self, mode: str = "powerdown") -> None:
        """``mode``: powerdown, halt or reboot."""
        await self.command("guest-shutdown", {"mode": mode})


def _result(name: str, reply: Json) -> object:
    if "error" in reply:
        err = reply["error"] if isinstance(reply["error"], dict) else {}
        desc = str(err.get("desc", reply["error"]))
        raise AgentError(
            f"guest agent command '{name}' failed - {desc}",
            error_class=err.get("class"),
            desc=desc,
        )
    return reply.get("return")
