"""Monitor (QMP) and GuestAgent against fake servers on real unix sockets.

The fake QMP server speaks the wire protocol: greeting, ``qmp_capabilities``, replies that
echo the request id, errors, and asynchronous events interleaved with replies (which the
monitor must ignore).  Tests assert the monitor's state transitions.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from pyxis.errors import PyxisError
from pyxis.guests.qemu.agent import AgentError, AgentNotRunning, GuestAgent
from pyxis.guests.qemu.qmp import Monitor, MonitorError, MonitorState

GREETING = {
    "QMP": {
        "version": {"qemu": {"major": 7, "minor": 2, "micro": 22}, "package": "Debian"},
        "capabilities": ["oob"],
    }
}
EVENT = {"event": "RESUME", "timestamp": {"seconds": 1, "microseconds": 2}}

Handler = Callable[[dict[str, Any]], Any]


async def _json_stream(reader: asyncio.StreamReader) -> AsyncIterator[dict[str, Any]]:
    """JSON objects as QEMU's streaming parser sees them (qemu.qmp sends no newline)."""
    decoder = json.JSONDecoder()
    buf = ""
    while chunk := await reader.read(4096):
        buf += chunk.decode()
        while buf.strip():
            try:
                obj, end = decoder.raw_decode(buf.lstrip())
            except json.JSONDecodeError:
                break
            buf = buf.lstrip()[end:]
            yield obj


class FakeQmp:
    """A QMP server: ``handlers`` map a command to a return value, an error or a callable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self.status = "prelaunch"
        self.jobs: list[dict[str, Any]] = []
        self.handlers: dict[str, Any] = {
            "query-status": lambda _a: {"status": self.status, "running": self.status == "running"},
            "cont": self._cont,
            "query-version": GREETING["QMP"]["version"],
            "device_del": {"error": {"class": "DeviceNotFound", "desc": "Device 'x' not found"}},
            "query-jobs": lambda _a: self.jobs,
        }
        self.server: asyncio.Server | None = None
        self.silent: set[str] = set()  # never answered
        self.hangup: set[str] = set()  # connection closed instead of an answer

    def _cont(self, _args: dict[str, Any]) -> dict[str, Any]:
        self.status = "running"
        return {}

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def send(obj: object) -> None:
            writer.write(json.dumps(obj).encode() + b"\r\n")

        send(GREETING)
        try:
            async for msg in _json_stream(reader):
                self.received.append(msg)
                cmd = msg["execute"]
                if cmd in self.silent:
                    continue
                if cmd in self.hangup:
                    break
                if cmd != "qmp_capabilities":
                    send(EVENT)  # events arrive between replies; the monitor must skip them
                reply = self._reply(cmd, msg.get("arguments", {}))
                if "id" in msg:
                    reply["id"] = msg["id"]
                send(reply)
                await writer.drain()
                if cmd == "quit":
                    break
        finally:
            writer.close()

    def _reply(self, cmd: str, args: dict[str, Any]) -> dict[str, Any]:
        if cmd == "qmp_capabilities":
            return {"return": {}}
        h = self.handlers.get(cmd, {})
        value = h(args) if callable(h) else h
        if isinstance(value, dict) and "error" in value:
            return dict(value)
        return {"return": value}

    def commands(self) -> list[str]:
        return [m["execute"] for m in self.received]


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[FakeQmp]:
    server = FakeQmp(tmp_path / "100.qmp")
    await server.start()
    yield server
    await server.stop()


async def test_state_transitions_and_status(fake: FakeQmp) -> None:
    mon = Monitor(fake.path)
    assert mon.state is MonitorState.IDLE
    async with mon:
        assert mon.state is MonitorState.READY
        assert await mon.query_status() == "prelaunch"
        await mon.cont()
        info = await mon.query_status_info()
        assert info == {"status": "running", "running": True}
        version = await mon.query_version()
        assert version["qemu"]["major"] == 7
    assert mon.state is MonitorState.CLOSED
    assert fake.commands() == [
        "qmp_capabilities",
        "query-status",
        "cont",
        "query-status",
        "query-version",
    ]


async def test_guarded_by_state(fake: FakeQmp) -> None:
    mon = Monitor(fake.path)
    with pytest.raises(MonitorError, match="state idle"):
        await mon.query_status()
    await mon.connect()
    with pytest.raises(MonitorError, match="cannot connect when ready"):
        await mon.connect()
    await mon.close()
    with pytest.raises(MonitorError, match="state closed"):
        await mon.cont()
    await mon.close()  # idempotent


async def test_error_keeps_class_and_desc(fake: FakeQmp) -> None:
    async with Monitor(fake.path) as mon:
        with pytest.raises(MonitorError) as exc:
            await mon.device_del("x")
        assert isinstance(exc.value, PyxisError)
        assert exc.value.error_class == "DeviceNotFound"
        assert exc.value.desc == "Device 'x' not found"
        assert exc.value.command == "device_del"
        # an error reply leaves the connection usable
        assert mon.state is MonitorState.READY
        assert await mon.query_status() == "prelaunch"


async def test_arguments_on_the_wire(fake: FakeQmp) -> None:
    async with Monitor(fake.path) as mon:
        await mon.device_add("virtio-net-pci", id="net0", netdev="net0", bus="pci.0")
        await mon.block_resize("drive-scsi0", 1 << 30)
        await mon.blockdev_mirror("mirror-scsi0", "drive-scsi0", "target0", sync="full")
        await mon.blockdev_add({"driver": "null-co", "node-name": "n0"})
        await mon.set_link("net0", False)
        await mon.snapshot_save("snap-job", "s1", "drive-scsi0", ["drive-scsi0"])
    args = {m["execute"]: m.get("arguments") for m in fake.received}
    assert args["device_add"] == {
        "driver": "virtio-net-pci",
        "netdev": "net0",
        "bus": "pci.0",
        "id": "net0",
    }
    assert args["block_resize"] == {"node-name": "drive-scsi0", "size": 1 << 30}
    assert args["blockdev-mirror"] == {
        "job-id": "mirror-scsi0",
        "device": "drive-scsi0",
        "target": "target0",
        "sync": "full",
    }
    assert args["blockdev-add"] == {"driver": "null-co", "node-name": "n0"}
    assert args["set_link"] == {"name": "net0", "up": False}
    assert args["snapshot-save"] == {
        "job-id": "snap-job",
        "tag": "s1",
        "vmstate": "drive-scsi0",
        "devices": ["drive-scsi0"],
    }


async def test_wait_job_dismisses_and_raises(fake: FakeQmp) -> None:
    fake.jobs = [{"id": "j1", "type": "snapshot-save", "status": "running"}]

    def conclude(_a: dict[str, Any]) -> list[dict[str, Any]]:
        jobs = fake.jobs
        fake.jobs = [
            {"id": "j1", "type": "snapshot-save", "status": "concluded", "error": "No space"}
        ]
        return jobs

    fake.handlers["query-jobs"] = conclude
    async with Monitor(fake.path) as mon:
        with pytest.raises(MonitorError) as exc:
            await mon.wait_job("j1", poll=0.01)
        assert exc.value.error_class == "JobFailed"
        assert exc.value.desc == "No space"
    assert fake.commands()[-1] == "job-dismiss"
    assert fake.received[-1]["arguments"] == {"id": "j1"}


async def test_command_timeout_closes(fake: FakeQmp) -> None:
    fake.silent.add("query-block")
    async with Monitor(fake.path) as mon:
        with pytest.raises(MonitorError, match="got timeout"):
            await mon.execute("query-block", timeout=0.2)
        assert mon.state is MonitorState.CLOSED


async def test_quit_when_server_hangs_up(fake: FakeQmp) -> None:
    mon = Monitor(fake.path)
    await mon.connect()
    await mon.quit()
    assert mon.state is MonitorState.CLOSED
    assert fake.commands()[-1] == "quit"
    # and when QEMU exits before answering
    fake.hangup.add("quit")
    mon2 = Monitor(fake.path)
    await mon2.connect()
    await mon2.quit()
    assert mon2.state is MonitorState.CLOSED


async def test_connection_lost_mid_command(fake: FakeQmp) -> None:
    fake.hangup.add("query-pci")
    async with Monitor(fake.path) as mon:
        with pytest.raises(MonitorError, match="connection lost") as exc:
            await mon.query_pci()
        assert exc.value.error_class is None
        assert mon.state is MonitorState.CLOSED


async def test_connect_waits_for_socket(tmp_path: Path) -> None:
    server = FakeQmp(tmp_path / "late.qmp")

    async def later() -> None:
        await asyncio.sleep(0.15)
        await server.start()

    task = asyncio.create_task(later())
    async with Monitor(server.path, connect_timeout=3) as mon:
        assert await mon.query_status() == "prelaunch"
    await task
    await server.stop()


async def test_connect_timeout(tmp_path: Path) -> None:
    mon = Monitor(tmp_path / "missing.qmp", connect_timeout=0.2)
    with pytest.raises(MonitorError, match="unable to connect"):
        await mon.connect()
    assert mon.state is MonitorState.CLOSED


# -- guest agent ---------------------------------------------------------------------


class FakeAgent:
    """A qemu-ga: resync with 0xFF + guest-sync-delimited, stale junk before the answer."""

    def __init__(self, path: Path, *, alive: bool = True) -> None:
        self.path = path
        self.alive = alive
        self.received: list[dict[str, Any]] = []

    async def start(self) -> asyncio.Server:
        return await asyncio.start_unix_server(self._serve, path=str(self.path))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                if not self.alive:
                    continue
                msg = json.loads(line.lstrip(b"\xff"))
                self.received.append(msg)
                cmd, args = msg["execute"], msg.get("arguments", {})
                if cmd == "guest-sync-delimited":
                    writer.write(b'{"return": {"stale": 1}}\n\xff')
                    writer.write(json.dumps({"return": args["id"]}).encode() + b"\n")
                elif cmd == "guest-shutdown":
                    pass
                elif cmd == "guest-exec":
                    writer.write(b'{"return": {"pid": 42}}\n')
                elif cmd == "guest-exec-status":
                    out = base64.b64encode(b"hello\n").decode()
                    reply = {"exited": True, "exitcode": 0, "out-data": out}
                    writer.write(json.dumps({"return": reply}).encode() + b"\n")
                elif cmd == "guest-fsfreeze-status":
                    writer.write(b'{"return": "thawed"}\n')
                elif cmd == "guest-ping":
                    writer.write(b'{"return": {}}\n')
                else:
                    err = {
                        "class": "CommandNotFound",
                        "desc": f"The command {cmd} has not been found",
                    }
                    writer.write(json.dumps({"error": err}).encode() + b"\n")
                await writer.drain()
        finally:
            writer.close()


async def test_agent_commands(tmp_path: Path) -> None:
    fake = FakeAgent(tmp_path / "100.qga")
    server = await fake.start()
    agent = GuestAgent(fake.path, sync_timeout=1, no_reply_wait=0.1)
    await agent.ping()
    assert await agent.exec("/bin/echo", ["hello"], b"in") == 42
    status = await agent.exec_status(42)
    assert status.exited and status.exitcode == 0 and status.out_data == b"hello\n"
    assert await agent.fsfreeze_status() == "thawed"
    await agent.shutdown("reboot")
    with pytest.raises(AgentError) as exc:
        await agent.command("guest-frobnicate")
    assert exc.value.error_class == "CommandNotFound"
    execs = [m for m in fake.received if m["execute"] == "guest-exec"]
    assert execs[0]["arguments"] == {
        "path": "/bin/echo",
        "capture-output": True,
        "arg": ["hello"],
        "input-data": base64.b64encode(b"in").decode(),
    }
    syncs = [m for m in fake.received if m["execute"] == "guest-sync-delimited"]
    assert len(syncs) == 6 and len({m["arguments"]["id"] for m in syncs}) == 6
    server.close()
    await server.wait_closed()


async def test_agent_not_running(tmp_path: Path) -> None:
    with pytest.raises(AgentNotRunning, match="QEMU guest agent is not running"):
        await GuestAgent(tmp_path / "none.qga").ping()
    fake = FakeAgent(tmp_path / "dead.qga", alive=False)
    server = await fake.start()
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    with pytest.raises(AgentNotRunning, match="QEMU guest agent is not running"):
        await GuestAgent(fake.path, sync_timeout=0.2).ping()
    assert loop.time() - t0 < 1.0
    server.close()
    await server.wait_closed()
