"""A real ``pyxisd`` process in a temporary root, and the CLIs pointed at it.

The system tier drives the product the way an operator does: ``Daemon`` starts
``pyxisd --root DIR`` on a free localhost port with ``--auth-fail-delay 0``, waits for
its "serving https://" line, and stops it with SIGTERM (SIGKILL if it lingers).
``Daemon.cli`` runs ``pvesh``/``pvesm``/``pveum``/``pyxis`` with ``PYXIS_ROOT`` set and
captures their output.  Every process started here is also tracked module-wide and
killed at interpreter exit, so a crashed test run leaves nothing behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
READY = "serving https://"  # printed once both the TCP and the unix listener are up
STOP_TIMEOUT = 10.0
START_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
ADMIN = "admin@pve"
ADMIN_PW = "system-tier-pw-1"

_live: set[subprocess.Popen[bytes]] = set()


def tool(name: str) -> str:
    """Path of a console script of this environment (the venv's bin, else PATH)."""
    candidate = BIN / name
    if candidate.exists():
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"console script '{name}' not found next to {sys.executable}")
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    root: Path | None,
    *argv: str,
    input: str | None = None,
    timeout: float = CLI_TIMEOUT,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv[0]`` (a console script name) with PYXIS_ROOT=root; capture its output."""
    env = dict(os.environ)
    env.pop("PYXIS_ROOT", None)
    if root is not None:
        env["PYXIS_ROOT"] = str(root)
    return subprocess.run(
        [tool(argv[0]), *argv[1:]],
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def _reap(proc: subprocess.Popen[bytes], timeout: float = STOP_TIMEOUT) -> int:
    """SIGTERM, wait, then SIGKILL; return the exit code."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    _live.discard(proc)
    return proc.returncode


@atexit.register
def _kill_leftovers() -> None:
    for proc in list(_live):
        with contextlib.suppress(Exception):
            proc.kill()
            proc.wait(5)
        _live.discard(proc)


class DaemonError(RuntimeError):
    pass


class Daemon:
    """One node: its root, name and port; start/stop/kill it and run CLIs against it."""

    def __init__(
        self, root: Path, node: str = "pyxis1", port: int | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.root = root
        self._host = host  # any 127.x address: several nodes can share one port
        self.node = node
        self.port = port or free_port()
        self.logfile = root.parent / f"{root.name}.pyxisd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.args: list[str] = []  # more pyxisd options

    # -- lifecycle ------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> Daemon:
        if self.running:
            raise DaemonError(f"pyxisd for {self.root} is already running")
        self.root.mkdir(parents=True, exist_ok=True)
        offset = self.logfile.stat().st_size if self.logfile.exists() else 0
        with self.logfile.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    tool("pyxisd"),
                    "--root",
                    str(self.root),
                    "--node",
                    self.node,
                    "--listen",
                    f"{self._host}:{self.port}",
                    "--auth-fail-delay",
                    "0",
                    *self.args,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        _live.add(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if READY in self.output(offset):
                return self
            if self.proc.poll() is not None:
                code = self.proc.returncode
                _live.discard(self.proc)
                raise DaemonError(f"pyxisd exited with {code} before serving:\n{self.output()}")
            time.sleep(0.02)
        self.stop()
        raise DaemonError(f"pyxisd not ready after {timeout}s:\n{self.output()}")

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM (then SIGKILL after ``timeout``); the exit code, None if not started."""
        if self.proc is None:
            return None
        return _reap(self.proc, timeout)

    def kill(self) -> int | None:
        """SIGKILL, as a crash or power loss would end it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        _live.discard(self.proc)
        return self.proc.returncode

    def restart(self) -> Daemon:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self, offset: int = 0) -> str:
        """What the daemon printed (stdout and stderr) since ``offset``."""
        try:
            with self.logfile.open("rb") as fh:
                fh.seek(offset)
                return fh.read().decode(errors="replace")
        except FileNotFoundError:
            return ""

    # -- access -----------------------------------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def url(self) -> str:
        return f"https://{self.host}:{self.port}"

    def api(self, path: str) -> str:
        return f"{self.url}/api2/json{path}"

    def cli(
        self, *argv: str, input: str | None = None, timeout: float = CLI_TIMEOUT
    ) -> subprocess.CompletedProcess[str]:
        return run_cli(self.root, *argv, input=input, timeout=timeout)

    def ok(self, *argv: str, input: str | None = None) -> str:
        """Run a CLI that must succeed; return its stdout."""
        res = self.cli(*argv, input=input)
        if res.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {res.returncode}\n"
                f"stdout: {res.stdout}\nstderr: {res.stderr}"
            )
        return res.stdout

    def add_admin(self, userid: str, password: str, role: str = "Administrator") -> None:
        """Create a ``pve`` realm user with a password and ``role`` on ``/``, via pveum."""
        self.ok("pveum", "user", "add", userid)
        self.ok("pveum", "passwd", userid, input=password + "\n")
        self.ok("pveum", "acl", "modify", "/", "--users", userid, "--roles", role)


class DaemonFactory:
    """Makes daemons under one base directory and stops every one of them at ``close``."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.daemons: list[Daemon] = []

    def new(self, name: str = "node1", node: str = "pyxis1") -> Daemon:
        d = Daemon(self.base / name, node)
        self.daemons.append(d)
        return d

    def start(self, name: str = "node1", node: str = "pyxis1") -> Daemon:
        return self.new(name, node).start()

    def close(self) -> None:
        for d in self.daemons:
            d.stop()
