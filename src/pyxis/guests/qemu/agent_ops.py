"""Guest agent operations of one VM, as the API offers them.

``agent_for`` checks the preconditions upstream checks, in its order and with its
messages: the VM must have the agent configured (``agent: 1``) and be running; only
then is the agent's socket asked (an agent that does not answer is "not running").
The composite operations (file read/write through open/read/close, password change,
exec with a command line) live here so the API handlers stay declarations.
"""

from __future__ import annotations

import base64
import contextlib
import shlex
from typing import TYPE_CHECKING, Any, cast

from pyxis.errors import Conflict, ParamError, PyxisError
from pyxis.guests.qemu.agent import AgentError, ExecStatus, GuestAgent
from pyxis.guests.qemu.keys import parse_value

if TYPE_CHECKING:
    from pyxis.guests.qemu.service import QemuService

# The generic ``POST .../agent`` command enum (upstream's), each mapped to the agent
# command it runs and the reply timeout (freezing or trimming file systems is slow).
SIMPLE_COMMANDS: dict[str, tuple[str, float]] = {
    "ping": ("guest-ping", 10.0),
    "info": ("guest-info", 10.0),
    "network-get-interfaces": ("guest-network-get-interfaces", 10.0),
    "get-osinfo": ("guest-get-osinfo", 10.0),
    "get-host-name": ("guest-get-host-name", 10.0),
    "get-time": ("guest-get-time", 10.0),
    "get-timezone": ("guest-get-timezone", 10.0),
    "get-users": ("guest-get-users", 10.0),
    "get-vcpus": ("guest-get-vcpus", 10.0),
    "get-fsinfo": ("guest-get-fsinfo", 10.0),
    "get-memory-blocks": ("guest-get-memory-blocks", 10.0),
    "get-memory-block-info": ("guest-get-memory-block-info", 10.0),
    "fsfreeze-freeze": ("guest-fsfreeze-freeze", 3600.0),
    "fsfreeze-status": ("guest-fsfreeze-status", 10.0),
    "fsfreeze-thaw": ("guest-fsfreeze-thaw", 600.0),
    "fstrim": ("guest-fstrim", 600.0),
    "shutdown": ("guest-shutdown", 10.0),
    "suspend-disk": ("guest-suspend-disk", 10.0),
    "suspend-hybrid": ("guest-suspend-hybrid", 10.0),
    "suspend-ram": ("guest-suspend-ram", 10.0),
}
FILE_READ_MAX = 16 * 1024 * 1024
READ_CHUNK = 1024 * 1024


def agent_enabled(conf: dict[str, str]) -> bool:
    """Whether ``agent`` (``1`` or ``enabled=1,...``) is switched on."""
    raw = conf.get("agent")
    if not raw:
        return False
    try:
        return bool(parse_value("agent", raw).get("enabled"))
    except ValueError:
        return False


def agent_for(qemu: QemuService, vmid: int) -> GuestAgent:
    """The agent client of a running VM that has the agent configured."""
    cfg, _ = qemu.load(vmid)
    if not agent_enabled(cfg.main):
        raise Conflict("No QEMU guest agent configured")
    if qemu.pid(vmid) is None:
        raise Conflict(f"VM {vmid} is not running")
    return GuestAgent(qemu.run_paths(vmid).qga)


async def simple(qemu: QemuService, vmid: int, command: str) -> dict[str, Any]:
    """Run one command of ``SIMPLE_COMMANDS``; upstream wraps the reply as ``result``."""
    name, timeout = SIMPLE_COMMANDS[command]
    result = await agent_for(qemu, vmid).command(name, timeout=timeout)
    return {"result": {} if result is None else result}


def exec_argv(command: list[str] | str) -> list[str]:
    """The argv of ``exec``'s ``command``: an array (one item per argument), or one
    string with spaces, split as a shell would (what older clients send)."""
    items = [command] if isinstance(command, str) else list(command)
    if len(items) == 1 and any(c.isspace() for c in items[0]):
        try:
            items = shlex.split(items[0])
        except ValueError as err:
            raise ParamError.one("command", str(err)) from err
    if not items or not items[0]:
        raise ParamError.one("command", "command must not be empty")
    return items


async def exec_start(
    qemu: QemuService, vmid: int, command: list[str] | str, input_data: str | None
) -> dict[str, int]:
    argv = exec_argv(command)
    data = input_data.encode() if input_data is not None else None
    pid = await agent_for(qemu, vmid).exec(argv[0], argv[1:], data)
    return {"pid": pid}


def exec_status_view(status: ExecStatus) -> dict[str, Any]:
    """``exec-status`` as upstream answers it: output decoded, flags as 0/1."""
    out: dict[str, Any] = {"exited": 1 if status.exited else 0}
    if status.exitcode is not None:
        out["exitcode"] = status.exitcode
    if status.signal is not None:
        out["signal"] = status.signal
    if status.out_data:
        out["out-data"] = status.out_data.decode(errors="replace")
    if status.err_data:
        out["err-data"] = status.err_data.decode(errors="replace")
    if status.out_truncated:
        out["out-truncated"] = 1
    if status.err_truncated:
        out["err-truncated"] = 1
    return out


async def exec_status(qemu: QemuService, vmid: int, pid: int) -> dict[str, Any]:
    return exec_status_view(await agent_for(qemu, vmid).exec_status(pid))


def _check(what: str, err: AgentError) -> PyxisError:
    return PyxisError(f"{what}: {err.desc or err.message}")


async def file_read(
    qemu: QemuService, vmid: int, path: str, *, offset: int, count: int, decode: bool
) -> dict[str, Any]:
    """Read up to ``count`` bytes of a guest file from ``offset``."""
    agent = agent_for(qemu, vmid)
    try:
        handle = await agent.command("guest-file-open", {"path": path})
    except AgentError as err:
        raise _check("can't open file", err) from err
    content = b""
    eof = False
    try:
        if offset:
            seek = {"handle": handle, "offset": offset, "whence": 0}
            await agent.command("guest-file-seek", seek)
        left = min(count, FILE_READ_MAX)
        while left > 0 and not eof:
            chunk = cast(
                dict[str, Any],
                await agent.command(
                    "guest-file-read", {"handle": handle, "count": min(READ_CHUNK, left)}
                ),
            )
            data = base64.b64decode(chunk.get("buf-b64", ""))
            content += data
            left -= len(data)
            eof = bool(chunk.get("eof")) or not data
    except AgentError as err:
        raise _check("can't read from file", err) from err
    finally:
        # the read result (or its error) matters more than a failed close
        with contextlib.suppress(AgentError):
            await agent.command("guest-file-close", {"handle": handle})
    text = content.decode(errors="replace") if decode else base64.b64encode(content).decode()
    out: dict[str, Any] = {"content": text}
    if not eof:
        # ``count`` was reached before the agent reported the end of the file
        out["truncated"] = 1
    return out


async def file_write(qemu: QemuService, vmid: int, path: str, content: str, encode: bool) -> None:
    """Write ``content`` to a guest file (``encode=0``: it is base64 already)."""
    if encode:
        buf = base64.b64encode(content.encode()).decode()
    else:
        try:
            base64.b64decode(content, validate=True)
        except ValueError as err:
            raise ParamError.one("content", "content is not valid base64") from err
        buf = content
    agent = agent_for(qemu, vmid)
    try:
        handle = await agent.command("guest-file-open", {"path": path, "mode": "wb"})
    except AgentError as err:
        raise _check("can't open file", err) from err
    try:
        await agent.command("guest-file-write", {"handle": handle, "buf-b64": buf})
    except AgentError as err:
        raise _check("can't write to file", err) from err
    finally:
        with contextlib.suppress(AgentError):
            await agent.command("guest-file-close", {"handle": handle})


async def set_user_password(
    qemu: QemuService, vmid: int, username: str, password: str, crypted: bool
) -> dict[str, Any]:
    args = {
        "username": username,
        "password": base64.b64encode(password.encode()).decode(),
        "crypted": crypted,
    }
    result = await agent_for(qemu, vmid).command("guest-set-user-password", args)
    return {"result": {} if result is None else result}
