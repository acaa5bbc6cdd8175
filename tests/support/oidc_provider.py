"""A real OpenID Connect provider for realm tests: the npm package ``oidc-provider``.

``ensure_modules`` installs the pinned packages (``tests/support/oidc/package-lock.json``)
with ``npm ci`` into ``${XDG_CACHE_HOME:-~/.cache}/pyxis/oidc-provider/<lock hash>/``,
outside the clone, once per lock file.  ``OidcProvider.start`` copies the server script
there and runs it with ``node`` on a free localhost port (plain http); the provider
has one confidential client and one account whose login and consent are approved
automatically, so tests follow the code flow with an ordinary HTTP client.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "pyxis-test"
CLIENT_SECRET = "pyxis-test-secret-0123456789abcdef"
ACCOUNT = "oidc-user"


def available() -> bool:
    return shutil.which("node") is not None and shutil.which("npm") is not None


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    lock = (HERE / "package-lock.json").read_bytes()
    key = hashlib.sha256(lock + (HERE / "package.json").read_bytes()).hexdigest()[:16]
    return Path(base) / "pyxis" / "oidc-provider" / key


def ensure_modules() -> Path:
    """The cache directory with ``node_modules`` installed (``npm ci`` on first use)."""
    target = cache_dir()
    if (target / "node_modules" / ".installed").exists():
        return target
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(HERE / name, tmp / name)
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"],
        cwd=tmp,
        check=True,
    )
    (tmp / "node_modules" / ".installed").write_text("ok\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    return target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OidcProvider:
    """One provider process; ``issuer`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, redirect_url: str, logdir: Path) -> None:
        self.redirect_url = redirect_url
        self.logdir = logdir
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        home = ensure_modules()
        shutil.copy(HERE / "server.mjs", home / "server.mjs")
        self.port = _free_port()
        env = {
            **os.environ,
            "OIDC_PORT": str(self.port),
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "OIDC_REDIRECT": self.redirect_url,
            "OIDC_ACCOUNT": ACCOUNT,
            "NODE_ENV": "test",
        }
        logfile = self.logdir / "oidc-provider.log"
        with logfile.open("wb") as log:
            self.proc = subprocess.Popen(
                ["node", str(home / "server.mjs")],
                cwd=home,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("oidc-provider exited: " + logfile.read_text())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("oidc-provider did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
