"""Benchmark: config-store write rate and p99 latency against raw SQLite upserts.

Both sides write the same 4 KiB payloads to a fresh database in the same run with the
same durability (WAL, ``synchronous=FULL``, one committed transaction per write, so one
WAL fsync each), so the ratio shows what the store's bookkeeping (validation, global
version row, in-memory cache, watch feed) costs on top of SQLite itself.  The two sides
alternate in rounds so disk-speed drift affects both alike.

Usage: ``.venv/bin/python bench/store_writes.py [N]`` (N writes per side, default 3000).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from pyxis.store.local import LocalStore

SIZE = 4096
ROUNDS = 3
DISTINCT = 5000  # paths are reused beyond this, keeping the tree under the 128 MiB limit


class Raw:
    """The baseline: a bare table, one autocommitted upsert per write."""

    def __init__(self, db: Path) -> None:
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.execute(
            "CREATE TABLE entries (path TEXT PRIMARY KEY, data BLOB, version INTEGER, "
            "mtime INTEGER, writer TEXT)"
        )
        self.version = 0

    def write(self, path: str, data: bytes) -> None:
        self.version += 1
        self.conn.execute(
            "INSERT INTO entries (path, data, version, mtime, writer) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(path) DO UPDATE SET data = excluded.data, version = excluded.version, "
            "mtime = excluded.mtime, writer = excluded.writer",
            (path, data, self.version, int(time.time()), ""),
        )


def timed_raw(raw: Raw, payloads: list[bytes], start: int) -> list[float]:
    lat = []
    for i, data in enumerate(payloads, start):
        t0 = time.perf_counter()
        raw.write(f"bench/{i % DISTINCT}.conf", data)
        lat.append(time.perf_counter() - t0)
    return lat


async def timed_store(store: LocalStore, payloads: list[bytes], start: int) -> list[float]:
    lat = []
    for i, data in enumerate(payloads, start):
        t0 = time.perf_counter()
        await store.write(f"bench/{i % DISTINCT}.conf", data)
        lat.append(time.perf_counter() - t0)
    return lat


def summary(name: str, lat: list[float]) -> tuple[float, float]:
    rate = len(lat) / sum(lat)
    p99 = sorted(lat)[int(len(lat) * 0.99) - 1] * 1000
    print(f"{name:<14} {len(lat):>6} writes  {rate:>9.0f} writes/s  p99 {p99:6.2f} ms")
    return rate, p99


async def main(n: int) -> None:
    payloads = [os.urandom(SIZE) for _ in range(n)]
    with tempfile.TemporaryDirectory(prefix="pyxis-bench-") as tmp:
        raw = Raw(Path(tmp) / "raw.db")
        store = LocalStore.open(Path(tmp) / "store.db", "bench")
        raw_lat: list[float] = []
        store_lat: list[float] = []
        step = -(-n // ROUNDS)
        for start in range(0, n, step):
            chunk = payloads[start : start + step]
            raw_lat += timed_raw(raw, chunk, start)
            store_lat += await timed_store(store, chunk, start)
        raw.conn.close()
        await store.close()
    print(f"4 KiB writes, WAL + synchronous=FULL, one transaction per write, N={n}")
    raw_rate, raw_p99 = summary("raw sqlite3", raw_lat)
    store_rate, store_p99 = summary("LocalStore", store_lat)
    print(
        f"SUMMARY: LocalStore {store_rate:.0f} writes/s (p99 {store_p99:.2f} ms) = "
        f"{store_rate / raw_rate:.0%} of raw sqlite3 {raw_rate:.0f} writes/s "
        f"(p99 {raw_p99:.2f} ms); ratio {store_rate / raw_rate:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000))
