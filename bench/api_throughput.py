"""Benchmark: authenticated API requests/s and p50/p99 latency against a bare uvicorn app.

Starts a real ``pyxisd`` (HTTPS, temporary root) pinned to core 0, logs in as an
Administrator made with ``pveum``, and drives ``GET /api2/json/version`` and
``GET /api2/json/cluster/resources`` with 16 concurrent keep-alive clients carrying the
ticket cookie.  The baseline is a bare uvicorn app on the same core with the same TLS
certificate, the same HTTP parser (httptools) and event loop, answering the very bytes
pyxisd answered; the ratio ours/bare shows what authentication, routing, validation,
permission checks and the handler cost.

The load generator is pinned to core 1: ``wrk`` with a Lua script (installed with apt
when missing and running as root), else a Python asyncio client.  Each measurement runs
DURATION seconds (default 10) after a short warm-up, split into slices that alternate
between pyxisd and the baseline so that background load hits both alike.

Usage: ``.venv/bin/python bench/api_throughput.py [DURATION]``
(``PYXIS_BENCH_NO_WRK=1`` forces the Python load generator.)
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"
CLIENTS = 16
WARMUP = 2
SLICES = 5
SERVER_CPU, LOAD_CPU = "0", "1"
USER, PASSWORD = "bench@pve", "bench-pass-1234"
ENDPOINTS = ["/api2/json/version", "/api2/json/cluster/resources"]
JSON_TYPE = b"application/json;charset=UTF-8"

WRK_LUA = """
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %.1f %.1f %d %d\\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99), e.status,
    e.connect + e.read + e.write + e.timeout))
end
"""


# --- the baseline server ----------------------------------------------------------------


def bare_main(port: int, certfile: str, keyfile: str, bodies_file: str) -> None:
    """A bare ASGI app answering fixed bodies, served like pyxisd serves its app."""
    import uvicorn

    bodies = {k: v.encode() for k, v in json.loads(Path(bodies_file).read_text()).items()}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = bodies.get(scope["path"], b'{"data":null}')
        headers = [
            (b"content-type", JSON_TYPE),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"max-age=0"),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
        http="httptools",
        loop="uvloop",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=True,
    )


# --- the Python fallback load generator -------------------------------------------------


async def _client(
    host: str, port: int, request: bytes, ctx: ssl.SSLContext, until: float, out: list[float]
) -> int:
    errors = 0
    reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
    try:
        while time.perf_counter() < until:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            out.append(time.perf_counter() - t0)
            if not head.startswith(b"HTTP/1.1 200"):
                errors += 1
    finally:
        writer.close()
    return errors


def loadgen_main(url: str, duration: float, cookie: str) -> None:
    """Python load generator: CLIENTS keep-alive connections; prints one JSON result."""
    u = urllib.parse.urlsplit(url)
    host, port = u.hostname or "127.0.0.1", u.port or 443
    request = (f"GET {u.path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n\r\n").encode()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE

    async def run() -> tuple[list[float], int, float]:
        lat: list[float] = []
        t0 = time.perf_counter()
        errs = await asyncio.gather(
            *(_client(host, port, request, ctx, t0 + duration, lat) for _ in range(CLIENTS))
        )
        return lat, sum(errs), time.perf_counter() - t0

    lat, errors, elapsed = asyncio.run(run())
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [0.0] * 99
    print(
        json.dumps(
            {
                "n": len(lat),
                "secs": elapsed,
                "p50": q[49] * 1000,
                "p99": q[98] * 1000,
                "status_errors": errors,
                "socket_errors": 0,
            }
        )
    )


# --- orchestration ----------------------------------------------------------------------


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


def _get(url: str, cookie: str | None = None, data: dict[str, str] | None = None) -> bytes:
    req = urllib.request.Request(url, urllib.parse.urlencode(data).encode() if data else None)
    if cookie:
        req.add_header("Cookie", cookie)
    with urllib.request.urlopen(req, timeout=10, context=_tls()) as r:
        return bytes(r.read())


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode}")
        try:
            _get(url)
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not come up")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wrk() -> str | None:
    if os.environ.get("PYXIS_BENCH_NO_WRK"):
        return None
    found = shutil.which("wrk")
    if found or os.geteuid() != 0 or not shutil.which("apt-get"):
        return found
    print("bench: installing wrk with apt-get", flush=True)
    subprocess.run(
        ["apt-get", "install", "-y", "-q", "wrk"], check=False, stdout=subprocess.DEVNULL
    )
    return shutil.which("wrk")


def run_once(url: str, cookie: str, secs: float, wrk: str | None, tmp: Path) -> dict[str, Any]:
    """Load ``url`` for ``secs`` s from the load core: requests, seconds, p50/p99 (ms)."""
    pin = ["taskset", "-c", LOAD_CPU]
    if wrk:
        script = tmp / "bench.lua"
        script.write_text(WRK_LUA)
        cmd = [*pin, wrk, "-t1", f"-c{CLIENTS}", f"-d{max(1, round(secs))}s", "-s", str(script)]
        env = {**os.environ, "BENCH_COOKIE": cookie}
        out = subprocess.run([*cmd, url], env=env, capture_output=True, text=True).stdout
        lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise RuntimeError(f"wrk gave no result for {url}")
        n, dur_us, p50, p99, status_err, sock_err = lines[-1].split()[1:]
        return {
            "n": int(n),
            "secs": int(dur_us) / 1e6,
            "p50": float(p50) / 1000,
            "p99": float(p99) / 1000,
            "status_errors": int(status_err),
            "socket_errors": int(sock_err),
        }
    py = [sys.executable, __file__, "--loadgen", url, str(secs), cookie]
    out = subprocess.run([*pin, *py], check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    urls: dict[str, str],
    pids: dict[str, int],
    cookie: str,
    duration: float,
    wrk: str | None,
    tmp: Path,
) -> dict[str, dict[str, Any]]:
    """Warm every server up, then load them in alternating slices for ``duration`` s each.

    Alternating spreads any background load on the machine evenly over both sides.
    Requests/s is total requests over total time; p50 and p99 are medians over slices;
    CPU per request is the server process's user+system time over its requests, a
    figure that other load on the machine disturbs much less than requests/s.
    """
    for url in urls.values():
        run_once(url, cookie, WARMUP, wrk, tmp)
    slices: dict[str, list[dict[str, Any]]] = {who: [] for who in urls}
    for _ in range(SLICES):
        for who, url in urls.items():
            cpu0 = _cpu_seconds(pids[who])
            r = run_once(url, cookie, duration / SLICES, wrk, tmp)
            r["cpu"] = _cpu_seconds(pids[who]) - cpu0
            slices[who].append(r)
    out = {}
    for who, runs in slices.items():
        out[who] = {
            "rps": sum(r["n"] for r in runs) / sum(r["secs"] for r in runs),
            "cpu_us": 1e6 * sum(r["cpu"] for r in runs) / max(1, sum(r["n"] for r in runs)),
            "p50": statistics.median(r["p50"] for r in runs),
            "p99": statistics.median(r["p99"] for r in runs),
            "status_errors": sum(r["status_errors"] for r in runs),
            "socket_errors": sum(r["socket_errors"] for r in runs),
        }
    return out


def _fmt(r: dict[str, Any]) -> str:
    return (
        f"{r['rps']:6.0f} req/s p50 {r['p50']:5.2f} ms p99 {r['p99']:6.2f} ms "
        f"cpu {r['cpu_us']:4.0f} us/req"
    )


def main(duration: float) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="pyxis-bench-"))
    root = tmp / "root"
    env = {**os.environ, "PYXIS_ROOT": str(root)}
    env.pop("PYXIS_HIT_LOG", None)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        ours_port, bare_port = _free_port(), _free_port()
        ours = f"https://127.0.0.1:{ours_port}"
        pin = ["taskset", "-c", SERVER_CPU]
        daemon = [str(BIN / "pyxisd"), "--root", str(root), "--node", "bench"]
        daemon += ["--listen", f"127.0.0.1:{ours_port}", "--auth-fail-delay", "0"]
        log = open(tmp / "pyxisd.log", "wb")  # noqa: SIM115 - closed with the daemon
        procs.append(subprocess.Popen([*pin, *daemon], env=env, stdout=log, stderr=log))
        _wait_up(ours + "/api2/json/version", procs[0])
        for args in (
            ["user", "add", USER],
            ["acl", "modify", "/", "--users", USER, "--roles", "Administrator"],
        ):
            subprocess.run([str(BIN / "pveum"), *args], env=env, check=True)
        subprocess.run(
            [str(BIN / "pveum"), "passwd", USER],
            env=env,
            input=PASSWORD + "\n",
            text=True,
            check=True,
        )
        login = json.loads(
            _get(ours + "/api2/json/access/ticket", data={"username": USER, "password": PASSWORD})
        )
        cookie = "PVEAuthCookie=" + urllib.parse.quote(login["data"]["ticket"], safe="")
        bodies = {path: _get(ours + path, cookie).decode() for path in ENDPOINTS}
        (tmp / "bodies.json").write_text(json.dumps(bodies))
        run_dir = root / "run"
        cert = next(run_dir.rglob("pve-ssl.pem"), None) or next(root.rglob("pve-ssl.pem"))
        key = cert.with_suffix(".key")
        bare_cmd = [sys.executable, __file__, "--bare", str(bare_port), str(cert), str(key)]
        procs.append(subprocess.Popen([*pin, *bare_cmd, str(tmp / "bodies.json")], env=env))
        bare = f"https://127.0.0.1:{bare_port}"
        _wait_up(bare + "/api2/json/version", procs[1])

        wrk = _wrk()
        gen = f"wrk (1 thread, {CLIENTS} connections)" if wrk else f"asyncio ({CLIENTS} clients)"
        print(
            f"bench: {duration:.0f} s per run, load generator {gen} on core {LOAD_CPU}, "
            f"servers on core {SERVER_CPU}, HTTPS keep-alive, ticket cookie"
        )
        failed = False
        for path in ENDPOINTS:
            urls = {"pyxisd": ours + path, "bare": bare + path}
            pids = {"pyxisd": procs[0].pid, "bare": procs[1].pid}
            res = measure(urls, pids, cookie, duration, wrk, tmp)
            r_ours, r_bare = res["pyxisd"], res["bare"]
            for who, r in (("pyxisd", r_ours), ("bare", r_bare)):
                if r["status_errors"] or r["socket_errors"]:
                    failed = True
                    print(
                        f"bench: {who} {path}: {r['status_errors']} non-2xx, "
                        f"{r['socket_errors']} socket errors"
                    )
            ratio = r_ours["rps"] / r_bare["rps"] if r_bare["rps"] else 0.0
            print(
                f"GET {path:28} pyxisd {_fmt(r_ours)} | bare {_fmt(r_bare)} | "
                f"ratio ours/bare {ratio:.2f}",
                flush=True,
            )
        return 1 if failed else 0
    finally:
        for p in reversed(procs):
            _stop(p)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        bare_main(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5])
    elif len(sys.argv) > 1 and sys.argv[1] == "--loadgen":
        loadgen_main(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 10.0))
