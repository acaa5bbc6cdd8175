"""Crash safety of the local config store: a writer process is SIGKILLed at random
points, again and again; after every kill the store must reopen cleanly, pass its
integrity check, and hold every write the writer saw acknowledged.

The writer's stdout goes to a file, so lines it printed survive its death (they sit in
the page cache); a line only exists once ``write()`` returned.  A write may be durable
without its line (killed between the two), so the store may hold more than was
acknowledged, never less.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pyxis.store.base import digest
from pyxis.store.local import LocalStore

WRITER = Path(__file__).resolve().parents[1] / "support" / "store_writer.py"
KILLS = 24


def wait_ready(out: Path, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if out.exists() and out.read_text().startswith("ready\n"):
            return
        if proc.poll() is not None:
            raise AssertionError(f"writer exited early with {proc.returncode}")
        time.sleep(0.005)
    raise AssertionError("writer did not become ready")


def acknowledged(out: Path) -> list[tuple[str, int, str]]:
    lines = out.read_text().split("\n")[1:-1]  # drop 'ready' and a possibly torn last line
    acks = []
    for line in lines:
        path, version, sha = line.split(" ")
        acks.append((path, int(version), sha))
    return acks


def check_store(db: Path, acks: dict[str, tuple[int, str]]) -> int:
    store = LocalStore.open(db, "n1")
    try:
        store.integrity_check()
        for path, (version, sha) in acks.items():
            entry = store.get(path)
            assert entry is not None, f"acknowledged write of {path} lost"
            if entry.version > version:
                # Overwritten by a later write whose acknowledgement line never got out.
                assert path == "hot.cfg", f"{path} changed without a write"
            else:
                assert (entry.version, digest(entry.data)) == (version, sha), path
        max_acked = max((v for v, _ in acks.values()), default=0)
        assert store.version >= max_acked
        return store.version
    finally:
        asyncio.run(store.close())


@pytest.mark.system
def test_sigkill_loses_no_acknowledged_write(tmp_path: Path) -> None:
    db = tmp_path / "store" / "config.db"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    acks: dict[str, tuple[int, str]] = {}
    last_version = 0
    total_acks = 0
    started = time.monotonic()
    for run in range(KILLS):
        out = tmp_path / f"writer-{run}.out"
        with out.open("wb") as fh:
            proc = subprocess.Popen(
                [sys.executable, str(WRITER), str(db), str(run)], stdout=fh, env=env
            )
        try:
            wait_ready(out, proc)
            time.sleep(random.uniform(0.02, 0.3))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        run_acks = acknowledged(out)
        for path, version, sha in run_acks:
            assert version > last_version, "versions must increase across acknowledged writes"
            last_version = version
            acks[path] = (version, sha)
        total_acks += len(run_acks)
        version = check_store(db, acks)
        assert version >= last_version
    print(f"{KILLS} kills, {total_acks} acknowledged writes, final version {last_version}")
    assert total_acks >= KILLS * 5, f"too few writes to prove anything ({total_acks})"
    assert time.monotonic() - started < 30
