"""Typed async QMP monitor of one QEMU process, built on ``qemu.qmp.QMPClient``.

One method per command Pyxis uses; arguments and results are typed, errors are
``MonitorError`` (a ``PyxisError``) keeping QMP's error class and description.  The
connection is an explicit state machine, ``IDLE -> CONNECTING -> READY -> CLOSED``, and
commands need ``READY``.  A timed-out or interrupted command closes the connection, since
its reply may still arrive and would be mistaken for the next one's.  Use it as an async
context manager so that the connection is always closed::

    async with Monitor(paths.qmp) as mon:
        await mon.cont()

Events are not consumed here (nobody listens, so ``QMPClient`` drops them).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from pathlib import Path
from types import TracebackType
from typing import Any, TypedDict, cast

from qemu.qmp import ConnectError, ExecInterruptedError, ExecuteError, QMPClient, QMPError

from pyxis.errors import PyxisError

Json = dict[str, Any]


class MonitorError(PyxisError):
    """A QMP command or connection failed.

    ``error_class`` and ``desc`` are QMP's (``GenericError``, ``DeviceNotFound``, ...) when
    QEMU answered with an error, ``None`` for connection problems.
    """

    def __init__(
        self,
        message: str,
        *,
        command: str | None = None,
        error_class: str | None = None,
        desc: str | None = None,
    ) -> None:
        super().__init__(message)
        self.command = command
        self.error_class = error_class
        self.desc = desc


class MonitorState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    READY = "ready"
    CLOSED = "closed"


class StatusInfo(TypedDict):
    status: str
    running: bool


class VersionTriple(TypedDict):
    major: int
    minor: int
    micro: int


class VersionInfo(TypedDict):
    qemu: VersionTriple
    package: str


class BalloonInfo(TypedDict):
    actual: int


class CpuInfoFast(TypedDict, total=False):
    cpu_index: int
    qom_path: str
    thread_id: int
    target: str


class JobInfo(TypedDict, total=False):
    id: str
    type: str
    status: str
    current_progress: int
    total_progress: int
    error: str


class Monitor:
    """QMP client of the QEMU listening on the unix socket ``path``."""

    def __init__(self, path: Path | str, *, connect_timeout: float = 5.0) -> None:
        self.path = Path(path)
        self.connect_timeout = connect_timeout
        self._client: QMPClient | None = None
        self._state = MonitorState.IDLE

    @property
    def state(self) -> MonitorState:
        return self._state

    async def __aenter__(self) -> Monitor:
        await self.connect()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def connect(self, timeout: float | None = None) -> None:
        """Connect and negotiate; retries while the socket is not there yet."""
        if self._state is not MonitorState.IDLE:
            raise MonitorError(f"QMP monitor {self.path}: cannot connect when {self._state.value}")
        self._state = MonitorState.CONNECTING
        deadline = time.monotonic() + (self.connect_timeout if timeout is None else timeout)
        last: BaseException | None = None
        while True:
            # Wait for the socket to appear here: qemu.qmp logs each failed connect as ERROR.
            if not self.path.exists():
                last = FileNotFoundError(2, "No such file or directory")
                if time.monotonic() >= deadline:
                    break
                await asyncio.sleep(0.02)
                continue
            client = QMPClient(f"qmp:{self.path.name}")
            remaining = deadline - time.monotonic()
            try:
                await asyncio.wait_for(client.connect(str(self.path)), max(remaining, 0.01))
            except ConnectError as err:
                last = err.exc
                if not isinstance(err.exc, FileNotFoundError | ConnectionRefusedError):
                    break
            except TimeoutError as err:
                last = err
                await _quiet_disconnect(client)
                break
            else:
                self._client = client
                self._state = MonitorState.READY
                return
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.02)
        self._state = MonitorState.CLOSED
        reason = "timeout" if isinstance(last, TimeoutError) else str(last)
        raise MonitorError(f"unable to connect to VM QMP socket {self.path} - {reason}")

    async def close(self) -> None:
        """Close the connection; safe to call in any state."""
        client, self._client = self._client, None
        self._state = MonitorState.CLOSED
        if client is not None:
            await _quiet_disconnect(client)

    async def execute(
        self, command: str, arguments: Json | None = None, *, timeout: float = 30.0
    ) -> object:
        """Run one QMP command and return QEMU's ``return`` value."""
        if self._state is not MonitorState.READY or self._client is None:
            raise MonitorError(
                f"QMP command '{command}' needs a ready monitor (state {self._state.value})",
                command=command,
            )
        try:
            return await asyncio.wait_for(self._client.execute(command, arguments), timeout)
        except ExecuteError as err:
            raise MonitorError(
                f"QMP command '{command}' failed - {err.error.error.desc}",
                command=command,
                error_class=err.error_class,
                desc=err.error.error.desc,
            ) from err
        except TimeoutError as err:
            await self.close()
            raise MonitorError(
                f"VM {self.path.stem} qmp command '{command}' failed - got timeout", command=command
            ) from err
        except (ExecInterruptedError, QMPError, OSError, EOFError) as err:
            await self.close()
            raise MonitorError(
                f"QMP command '{command}' failed - connection lost ({err})", command=command
            ) from err

    async def _json(self, command: str, arguments: Json | None = None) -> Json:
        return cast(Json, await self.execute(command, arguments))

    async def _list(self, command: str, arguments: Json | None = None) -> list[Json]:
        return cast(list[Json], await self.execute(command, arguments))

    # -- run state ---------------------------------------------------------------------

    async def query_status_info(self) -> StatusInfo:
        res = await self._json("query-status")
        return StatusInfo(status=str(res["status"]), running=bool(res["running"]))

    async def query_status(self) -> str:
        """QEMU's run state (``qmpstatus``): running, paused, prelaunch, shutdown, ..."""
        return (await self.query_status_info())["status"]

    async def cont(self) -> None:
        await self.execute("cont")

    async def stop(self) -> None:
        await self.execute("stop")

    async def system_powerdown(self) -> None:
        await self.execute("system_powerdown")

    async def system_reset(self) -> None:
        await self.execute("system_reset")

    async def quit(self) -> None:
        """Ask QEMU to exit; a connection dropped by the exiting QEMU counts as success."""
        try:
            await self.execute("quit")
        except MonitorError as err:
            if err.error_class is not None:
                raise
        finally:
            await self.close()

    # -- queries -----------------------------------------------------------------------

    async def query_version(self) -> VersionInfo:
        return cast(VersionInfo, await self._json("query-version"))

    async def query_block(self) -> list[Json]:
        return await self._list("query-block")

    async def query_blockstats(self) -> list[Json]:
        return await self._list("query-blockstats")

    async def query_cpus_fast(self) -> list[CpuInfoFast]:
        return cast(list[CpuInfoFast], await self._list("query-cpus-fast"))

    async def query_balloon(self) -> BalloonInfo:
        return cast(BalloonInfo, await self._json("query-balloon"))

    async def balloon(self, value: int) -> None:
        await self.execute("balloon", {"value": value})

    async def query_pci(self) -> list[Json]:
        return await self._list("query-pci")

    # -- devices -----------------------------------------------------------------------

    async def device_add(self, driver: str, id: str | None = None, **props: object) -> None:
        args: Json = {"driver": driver, **props}
        if id is not None:
            args["id"] = id
        await self.execute("device_add", args)

    async def device_del(self, id: str) -> None:
        await self.execute("device_del", {"id": id})

    async def netdev_add(self, type: str, id: str, **props: object) -> None:
        await self.execute("netdev_add", {"type": type, "id": id, **props})

    async def netdev_del(self, id: str) -> None:
        await self.execute("netdev_del", {"id": id})

    async def set_link(self, name: str, up: bool) -> None:
        await self.execute("set_link", {"name": name, "up": up})

    # -- block -------------------------------------------------------------------------

    async def blockdev_add(self, options: Json) -> None:
        await self.execute("blockdev-add", options)

    async def blockdev_del(self, node_name: str) -> None:
        await self.execute("blockdev-del", {"node-name": node_name})

    async def block_resize(self, node_name: str, size: int) -> None:
        await self.execute("block_resize", {"node-name": node_name, "size": size})

    async def blockdev_mirror(
        self, job_id: str, device: str, target: str, *, sync: str = "full", **opts: object
    ) -> None:
        args: Json = {"job-id": job_id, "device": device, "target": target, "sync": sync}
        args.update(opts)
        await self.execute("blockdev-mirror", args)

    async def block_job_complete(self, device: str) -> None:
        await self.execute("block-job-complete", {"device": device})

    async def block_job_cancel(self, device: str, *, force: bool = False) -> None:
        await self.execute("block-job-cancel", {"device": device, "force": force})

    async def query_block_jobs(self) -> list[Json]:
        return await self._list("query-block-jobs")

    # -- snapshots (QEMU >= 6.0 job-based savevm) ----------------------------------------

    async def snapshot_save(self, job_id: str, tag: str, vmstate: str, devices: list[str]) -> None:
        args = {"job-id": job_id, "tag": tag, "vmstate": vmstate, "devices": devices}
        await self.execute("snapshot-save", args)

    async def snapshot_load(self, job_id: str, tag: str, vmstate: str, devices: list[str]) -> None:
        args = {"job-id": job_id, "tag": tag, "vmstate": vmstate, "devices": devices}
        await self.execute("snapshot-load", args)

    async def snapshot_delete(self, job_id: str, tag: str, devices: list[str]) -> None:
        await self.execute("snapshot-delete", {"job-id": job_id, "tag": tag, "devices": devices})

    async def query_jobs(self) -> list[JobInfo]:
        jobs = await self._list("query-jobs")
        return [cast(JobInfo, {k.replace("-", "_"): v for k, v in job.items()}) for job in jobs]

    async def job_dismiss(self, job_id: str) -> None:
        await self.execute("job-dismiss", {"id": job_id})

    async def wait_job(self, job_id: str, *, timeout: float = 600.0, poll: float = 0.05) -> None:
        """Wait until job ``job_id`` concludes, dismiss it, raise its error if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            job = next((j for j in await self.query_jobs() if j.get("id") == job_id), None)
            if job is None:
                raise MonitorError(f"job '{job_id}' not found", command="query-jobs")
            if job.get("status") == "concluded":
                await self.job_dismiss(job_id)
                if "error" in job:
                    raise MonitorError(
                        f"job '{job_id}' failed - {job['error']}",
                        command=job.get("type"),
                        error_class="JobFailed",
                        desc=job["error"],
                    )
                return
            if time.monotonic() >= deadline:
                raise MonitorError(f"job '{job_id}' did not finish within {timeout} s")
            await asyncio.sleep(poll)

    # -- escape hatch ------------------------------------------------------------------

    async def human_monitor_command(self, command_line: str, *, timeout: float = 30.0) -> str:
        res = await self.execute(
            "human-monitor-command", {"command-line": command_line}, timeout=timeout
        )
        return str(res)


async def _quiet_disconnect(client: QMPClient) -> None:
    # disconnect() re-raises whatever ended the session (EOF when QEMU exited): not ours.
    with contextlib.suppress(QMPError, OSError, EOFError):
        await client.disconnect()
