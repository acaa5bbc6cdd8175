"""``pyxisd``: the node daemon.

Opens the node's services (config store, tasks, storage, access) under ``--root``,
makes the node certificate on first start, and serves the API over HTTPS on
``--listen`` and over a root-only unix socket for the CLIs.  Guests are separate
processes and are not stopped when the daemon exits.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from pyxis.cfs.mount import CfsMount
from pyxis.metrics.collector import interval_from_env
from pyxis.paths import Paths
from pyxis.server.app import ApiApp
from pyxis.server.reason import install as install_reason_phrases
from pyxis.services import Services, Settings

log = logging.getLogger("pyxisd")


class _Server(uvicorn.Server):
    """uvicorn server whose signals are handled by the daemon, not by uvicorn."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="pyxisd", description="Pyxis node daemon")
    ap.add_argument(
        "--root",
        default=os.environ.get("PYXIS_ROOT", "/"),
        help="prefix for every path the daemon owns (default /)",
    )
    ap.add_argument(
        "--node",
        default=socket.gethostname().split(".")[0],
        help="node name (default: short hostname)",
    )
    ap.add_argument("--listen", default="0.0.0.0:8006", help="HTTPS address:port")
    ap.add_argument(
        "--auth-fail-delay",
        type=float,
        default=3.0,
        help="seconds to delay a failed authentication (default 3)",
    )
    ap.add_argument(
        "--stats-interval",
        type=float,
        default=interval_from_env(),
        help="seconds between status collections (default 10, or $PYXIS_STATS_INTERVAL)",
    )
    ap.add_argument(
        "--cfs-mount",
        default="auto",
        help="where to mount the config store as files (default: /etc/pyxis when the "
        "root is /, else nowhere; 'none' turns it off)",
    )
    ap.add_argument("--log-level", default="info")
    return ap.parse_args(argv)


def cfs_mountpoint(root: str, choice: str) -> Path | None:
    """The config store mount point ``--cfs-mount`` asks for (None: no mount)."""
    if choice == "none":
        return None
    if choice == "auto":
        return Path("/etc/pyxis") if Path(root).resolve() == Path("/") else None
    return Path(choice)


def _split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"pyxisd: --listen must be ADDR:PORT, got '{listen}'")
    return host.strip("[]"), int(port)


async def serve(args: argparse.Namespace) -> None:
    paths = Paths.at(args.root)
    paths.ensure()
    settings = Settings(auth_fail_delay=args.auth_fail_delay)
    svc = await Services.open(paths, args.node, settings)
    host, port = _split_listen(args.listen)
    svc.cluster.api_port = port  # every node of a cluster serves its API on the same port
    await svc.cluster.start()  # membership + status bus (no-op standalone, idempotent)
    certfile, keyfile = await svc.tls_files()
    install_reason_phrases()
    common: dict[str, Any] = dict(
        http="httptools",
        lifespan="off",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=True,
    )
    tcp = _Server(
        uvicorn.Config(
            ApiApp(svc),
            host=host,
            port=port,
            ssl_certfile=str(certfile),
            ssl_keyfile=str(keyfile),
            **common,
        )
    )  # type: ignore[arg-type]
    tcp.config.load()  # builds the SSLContext now, so that it can be reloaded in place

    async def reload_tls() -> None:
        # new connections get the new certificate; open ones keep the old (no restart)
        cert, key = await svc.tls_files()
        assert tcp.config.ssl is not None
        tcp.config.ssl.load_cert_chain(str(cert), str(key))
        log.info("reloaded the HTTPS certificate")

    svc.tls_reload = reload_tls
    if paths.socket.exists():
        paths.socket.unlink()
    local = _Server(uvicorn.Config(ApiApp(svc, local=True), uds=str(paths.socket), **common))  # type: ignore[arg-type]
    servers = [tcp, local]

    def stop(*_: object) -> None:
        for s in servers:
            s.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    paths.pidfile.write_text(f"{os.getpid()}\n")
    (paths.run_dir / "node").write_text(args.node + "\n")

    async def announce() -> None:
        while not (tcp.started and local.started):
            await asyncio.sleep(0.02)
        os.chmod(paths.socket, 0o600)
        shown = host if host not in ("0.0.0.0", "::") else socket.gethostname()
        print(
            f"pyxisd: node '{args.node}' serving https://{shown}:{port}/ (root {paths.root})",
            flush=True,
        )
        print(
            "pyxisd: log in as root@pam with the host's root password, or create a user: "
            "pveum user add admin@pve && pveum passwd admin@pve && "
            "pveum acl modify / --users admin@pve --roles Administrator",
            flush=True,
        )

    collector = asyncio.create_task(svc.metrics.run(args.stats_interval), name="collector")
    mountpoint = cfs_mountpoint(args.root, args.cfs_mount)
    cfs = CfsMount(svc, mountpoint) if mountpoint is not None else None
    try:
        if cfs is not None:
            await cfs.start()
        await asyncio.gather(tcp.serve(), local.serve(), announce())
    finally:
        collector.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await collector
        try:
            if cfs is not None:
                await cfs.stop()
        finally:
            await svc.close()
        with contextlib.suppress(FileNotFoundError):
            paths.pidfile.unlink()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s: %(message)s",
    )
    if os.geteuid() != 0 and Path(args.root).resolve() == Path("/"):
        print("pyxisd: warning: not running as root", file=sys.stderr)
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(args))
    else:
        uvloop.run(serve(args))


if __name__ == "__main__":
    main()
