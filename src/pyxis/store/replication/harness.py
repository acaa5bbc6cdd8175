"""A one-node test harness: a ``ClusterStore`` over corosync driven by JSON lines.

Run inside a node's network namespace (libqb IPC is per namespace)::

    python -m pyxis.store.replication.harness --db DB --node NAME [--reset]

It prints ``{"ready": true, "nodeid": N}`` once the store is open, then answers one JSON
line per request on stdin, concurrently, each tagged with the request's ``id``:

- ``{"cmd": "call", "kind": "write"|"incr"|"lock", "path": P, "value": V}`` — one
  recorded call (:mod:`~pyxis.store.replication.checker`), answered as the call's dict;
- ``{"cmd": "read", "paths": [...]}`` — contents (latin-1 text) or null;
- ``{"cmd": "status"}`` — ``ClusterStore.status()``;
- ``{"cmd": "wait", "writable": true, "within": T}`` — until writable (or synced);
- ``{"cmd": "bulk", "count": N, "prefix": P, "size": S, "concurrency": C}`` — N creates;
- ``{"cmd": "bench", "writers": W, "seconds": T, "size": S}`` — W concurrent writers of
  S-byte values for T seconds; answers the per-write commit latencies (ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from pyxis.errors import PyxisError
from pyxis.store.cluster import ClusterStore
from pyxis.store.replication.checker import Call, perform
from pyxis.store.replication.cpg_transport import CpgTransport


async def _wait(store: ClusterStore, req: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + float(req.get("within", 30))
    want_writable = bool(req.get("writable", True))
    while time.monotonic() < deadline:
        if store.writable if want_writable else store.synced:
            return {"ok": True, **store.status()}
        await asyncio.sleep(0.02)
    return {"ok": False, **store.status()}


async def _bulk(store: ClusterStore, req: dict[str, Any]) -> dict[str, Any]:
    count, prefix = int(req["count"]), str(req["prefix"])
    size, conc = int(req.get("size", 64)), int(req.get("concurrency", 32))
    value = b"v" * size
    started = time.monotonic()
    nxt = 0

    async def worker() -> None:
        nonlocal nxt
        while nxt < count:
            i = nxt
            nxt += 1
            await store.create(f"{prefix}/{i}.cfg", value + b"%d" % i)

    await asyncio.gather(*(worker() for _ in range(conc)))
    return {"ok": True, "count": count, "seconds": time.monotonic() - started}


async def _bench(store: ClusterStore, req: dict[str, Any]) -> dict[str, Any]:
    writers, seconds, size = int(req["writers"]), float(req["seconds"]), int(req["size"])
    latencies: list[float] = []
    errors = 0
    end = time.monotonic() + seconds
    tag = req.get("tag", store.node)

    async def writer(w: int) -> None:
        nonlocal errors
        i = 0
        while time.monotonic() < end:
            i += 1
            t0 = time.perf_counter()
            try:
                await store.write(f"bench/{tag}/{w}.cfg", os.urandom(size // 2).hex().encode())
            except PyxisError:
                errors += 1
                continue
            latencies.append((time.perf_counter() - t0) * 1000)

    await asyncio.gather(*(writer(w) for w in range(writers)))
    return {"ok": True, "latencies": latencies, "errors": errors}


async def _handle(store: ClusterStore, req: dict[str, Any]) -> dict[str, Any]:
    cmd = req["cmd"]
    if cmd == "call":
        call = Call(store.node, req["kind"], req["path"], req.get("value", ""))
        call.start = time.time()
        await perform(store, call)
        call.end = time.time()
        return call.as_dict()
    if cmd == "read":
        return {
            "ok": True,
            "data": {
                p: (d.decode("latin-1") if (d := store.read(p)) is not None else None)
                for p in req["paths"]
            },
        }
    if cmd == "status":
        return {"ok": True, **store.status()}
    if cmd == "wait":
        return await _wait(store, req)
    if cmd == "bulk":
        return await _bulk(store, req)
    if cmd == "bench":
        return await _bench(store, req)
    return {"ok": False, "error": f"unknown command {cmd!r}"}


async def serve(db: Path, node: str, reset: bool) -> None:
    store = await ClusterStore.open(db, node, CpgTransport(), reset=reset)
    out = sys.stdout
    out.write(json.dumps({"ready": True, "nodeid": store.engine.t.nodeid}) + "\n")
    out.flush()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tasks: set[asyncio.Task[None]] = set()

    async def run(req: dict[str, Any]) -> None:
        try:
            resp = await _handle(store, req)
        except Exception as err:
            resp = {"ok": False, "error": f"{type(err).__name__}: {err}"}
        resp["id"] = req.get("id")
        out.write(json.dumps(resp) + "\n")
        out.flush()

    while line := await reader.readline():
        task = asyncio.create_task(run(json.loads(line)))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    await store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--reset", action="store_true")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    profile = os.environ.get("PYXIS_HARNESS_PROFILE")
    if profile:  # a developer aid: cProfile stats of this node, written at exit
        import cProfile

        cProfile.runctx(
            "asyncio.run(serve(args.db, args.node, args.reset))",
            globals(),
            {"args": args, "asyncio": asyncio, "serve": serve},
            f"{profile}.{args.node}",
        )
        return
    try:  # the same event loop as pyxisd
        import uvloop
    except ImportError:
        asyncio.run(serve(args.db, args.node, args.reset))
    else:
        uvloop.run(serve(args.db, args.node, args.reset))


if __name__ == "__main__":
    main()
