"""Crash-test writer: opens a LocalStore and writes until it is killed.

Usage: ``store_writer.py DB_PATH RUN_ID``.  Prints ``ready`` once the store is open,
then for every write, only after ``write()`` has returned (i.e. the write is
acknowledged), one line ``path version sha1`` with flush.  Most writes create a new
unique path ``w/<run>/<n>.cfg``; every fifth write overwrites ``hot.cfg``, so the test
also covers replacing an entry (the stored copy must be the acknowledged one or newer).
Content is random, 1-8 KiB.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from pathlib import Path

from pyxis.store.base import digest
from pyxis.store.local import LocalStore


async def main(db: Path, run: int) -> None:
    store = LocalStore.open(db, "n1")
    print("ready", flush=True)
    n = 0
    while True:
        n += 1
        path = "hot.cfg" if n % 5 == 0 else f"w/{run}/{n}.cfg"
        data = os.urandom(random.randint(1024, 8192))
        entry = await store.write(path, data, writer=f"run{run}")
        print(path, entry.version, digest(data), flush=True)


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2])))
