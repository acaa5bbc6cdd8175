"""API fuzzing: schemathesis against a real ``pyxisd`` through its own OpenAPI document.

Starts a daemon in a temporary root, makes an ``Administrator`` user with the real
``pveum`` CLI, logs in, and runs ``schemathesis run`` against
``https://127.0.0.1:PORT/api2/openapi.json`` with the ticket cookie and CSRF header.
The only check is ``not_a_server_error``: a 4xx for bad input is the expected answer,
any 5xx is a bug.  Exits non-zero when schemathesis reports a failure (its output lists
each failing case with a curl line to reproduce it) and prints the daemon's logged
tracebacks; always stops the daemon and any guest process the fuzzed API started.

Bounds: ``--max-examples`` per operation and a ``--max-time`` budget for the whole run
(override with PYXIS_FUZZ_EXAMPLES / PYXIS_FUZZ_MAX_TIME / PYXIS_FUZZ_SEED).

No operation is excluded, but three things are steered (see CONFIG and
``fuzz_hooks.py``): the path parameter ``node`` is pinned to the daemon's node (with any
other name a ``proxyto`` endpoint answers 595 "no such cluster node", upstream's status
for an unreachable node); the coverage phase does not probe undeclared HTTP methods
(upstream answers those with 501); a 501 from a declared operation ("not supported
yet") is listed as a known gap instead of a failure; and requests that would disable, delete or
de-privilege the fuzz user, or change or delete the ``local`` storage, are pointed at
expendable decoys instead, so that fuzzing cannot end its own session.
The daemon is kept out of ``PYXIS_HIT_LOG`` so that fuzzing does not count as coverage.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
NODE = "fuzz"
USER = "fuzz@pve"
DECOY = "decoy@pve"
DECOY_STORAGE = "decoy"
HOOKS = Path(__file__).resolve().with_name("fuzz_hooks.py")
PASSWORD = "fuzz-pass-1234"
EXAMPLES = int(os.environ.get("PYXIS_FUZZ_EXAMPLES", "5"))
MAX_TIME = int(os.environ.get("PYXIS_FUZZ_MAX_TIME", "150"))
# path.node: see the module docstring.  unexpected-methods: the coverage phase would also
# send TRACE/PATCH/OPTIONS to every path; the answer is upstream's 501 "Method ... not
# implemented" (COMPAT.md section 3), a 5xx by contract, so that probe is switched off.
CONFIG = """\
[parameters]
"path.node" = "%s"

[phases.coverage]
unexpected-methods = []
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tls() -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _request(url: str, data: dict[str, str] | None = None) -> tuple[int, bytes]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with urllib.request.urlopen(url, body, timeout=5, context=_tls()) as r:
            return int(r.status), bytes(r.read())
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"pyxisd exited early with status {proc.returncode}")
        try:
            _request(base + "/api2/json/version")
            return
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    raise RuntimeError("pyxisd did not start listening")


def _cli(root: Path, tool: str, *args: str, stdin: str | None = None) -> None:
    env = {**os.environ, "PYXIS_ROOT": str(root)}
    env.pop("PYXIS_HIT_LOG", None)
    subprocess.run(
        [str(BIN / tool), *args], input=stdin, text=True, env=env, check=True, timeout=30
    )


def _pveum(root: Path, *args: str, stdin: str | None = None) -> None:
    _cli(root, "pveum", *args, stdin=stdin)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _kill_guests(root: Path) -> None:
    """Stop guest processes the fuzzed API started (they outlive the daemon by design).

    Only processes named by a pidfile under ``root`` whose command line mentions ``root``
    are killed, so nothing outside this run is touched.
    """
    for pidfile in root.rglob("*.pid"):
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        if str(root).encode() in cmdline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)


def _server_errors(daemon_log: Path) -> str:
    """The ERROR records the daemon logged, with their tracebacks (an unexpected
    exception in a handler is logged this way before its 500 goes out)."""
    text = daemon_log.read_text(errors="replace") if daemon_log.exists() else ""
    out: list[str] = []
    keep = False
    for line in text.splitlines():
        if re.match(r"\d{4}-\d\d-\d\d ", line):
            keep = " ERROR" in line or " CRITICAL" in line
        if keep:
            out.append(line)
    return "\n".join(out)


def fuzz(root: Path) -> int:
    port = _free_port()
    base = f"https://127.0.0.1:{port}"
    daemon_log = root / "pyxisd.log"
    env = {**os.environ, "PYXIS_ROOT": str(root)}
    env.pop("PYXIS_HIT_LOG", None)
    cmd = [
        str(BIN / "pyxisd"),
        "--root",
        str(root),
        "--node",
        NODE,
        "--listen",
        f"127.0.0.1:{port}",
        "--auth-fail-delay",
        "0",
    ]
    with open(daemon_log, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        try:
            _wait_ready(base, proc)
        except RuntimeError:
            print(daemon_log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        _pveum(root, "user", "add", USER)
        _pveum(root, "passwd", USER, stdin=PASSWORD + "\n")
        _pveum(root, "acl", "modify", "/", "--users", USER, "--roles", "Administrator")
        _pveum(root, "user", "add", DECOY)
        _cli(root, "pvesm", "add", "dir", DECOY_STORAGE, "--path", str(root / "decoy"))
        status, body = _request(
            base + "/api2/json/access/ticket", {"username": USER, "password": PASSWORD}
        )
        if status != 200:
            print(f"fuzz: login failed: {status} {body[:200]!r}", file=sys.stderr)
            return 1
        data = json.loads(body)["data"]
        cookie = "PVEAuthCookie=" + urllib.parse.quote(data["ticket"], safe="")
        config = root / "schemathesis.toml"
        config.write_text(CONFIG % NODE)
        st = [
            str(BIN / "schemathesis"),
            "--config-file",
            str(config),
            "run",
            f"{base}/api2/openapi.json",
            "--checks",
            "not_a_server_error",
            "--max-examples",
            str(EXAMPLES),
            "--max-time",
            str(MAX_TIME),
            "--tls-verify",
            "false",
            "--request-timeout",
            "30",
            "--header",
            f"Cookie: {cookie}",
            "--header",
            f"CSRFPreventionToken: {data['CSRFPreventionToken']}",
            "--generation-with-security-parameters",
            "false",
            "--generation-database",
            "none",
            "--no-shrink",
            "--continue-on-failure",
        ]
        if seed := os.environ.get("PYXIS_FUZZ_SEED"):
            st += ["--seed", seed]
        st += shlex.split(os.environ.get("PYXIS_FUZZ_ARGS", ""))
        print("fuzz: " + " ".join(a if "Cookie" not in a else "Cookie: <ticket>" for a in st))
        # run from the temporary root so that schemathesis leaves no files in the checkout
        gaps = root / "gaps.txt"
        st_env = {
            **env,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "PYXIS_FUZZ_USER": USER,
            "PYXIS_FUZZ_DECOY_USER": DECOY,
            "PYXIS_FUZZ_STORAGE": "local",
            "PYXIS_FUZZ_DECOY_STORAGE": DECOY_STORAGE,
            "PYXIS_FUZZ_GAPS": str(gaps),
        }
        rc = subprocess.run(st, cwd=root, env=st_env, check=False).returncode
        if proc.poll() is not None:
            print(f"fuzz: pyxisd died during the run (status {proc.returncode})", file=sys.stderr)
            rc = rc or 1
        if gaps.exists():
            known = sorted(set(gaps.read_text().splitlines()))
            print(f"fuzz: {len(known)} known gaps (501, not counted as failures):")
            for line in known:
                print(f"  {line}")
        errors = _server_errors(daemon_log)
        if errors:
            print("fuzz: errors logged by pyxisd:\n" + errors, file=sys.stderr)
        print(f"fuzz: {'FAILED' if rc else 'ok'} (schemathesis exit status {rc})")
        return 1 if rc else 0
    finally:
        _stop(proc)
        _kill_guests(root)


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="pyxis-fuzz-"))
    try:
        return fuzz(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
