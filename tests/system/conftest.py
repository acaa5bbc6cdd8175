"""Fixtures of the system tier: real ``pyxisd`` processes and the CLIs pointed at them.

``daemons`` makes any number of nodes for one test and stops them all at teardown, pass
or fail; ``daemon`` is one started node.  ``module_daemon`` is a node shared by a whole
module (its tests use distinct names so that they do not depend on each other's
leftovers) with an ``Administrator`` user ``admin@pve`` already made through pveum.
The process machinery itself lives in ``tests/support/daemon.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))

from daemon import ADMIN, ADMIN_PW, Daemon, DaemonFactory


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[DaemonFactory]:
    factory = DaemonFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.close()


@pytest.fixture
def daemon(daemons: DaemonFactory) -> Daemon:
    return daemons.start()


@pytest.fixture(scope="module")
def module_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    factory = DaemonFactory(tmp_path_factory.mktemp("node"))
    try:
        d = factory.start()
        d.add_admin(ADMIN, ADMIN_PW)
        yield d
    finally:
        factory.close()
