"""Snapshot sections of a VM config (``snapconf``): create, rollback, delete bookkeeping.

Table-driven: each case names a config text, an operation and the expected config text
(or the error it must raise); the configs are printed in canonical form so expected
texts read as the file would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from pyxis.errors import PyxisError
from pyxis.guests.qemu import snapconf
from pyxis.guests.qemu.config import VmConfig, parse_config, render_config

NOW = 1700000000
BASE = """\
#main notes
memory: 512
name: vm1
scsi0: local:100/vm-100-disk-0.qcow2,size=1G
ide2: none,media=cdrom
unused0: local:100/vm-100-disk-9.qcow2
"""
ONE_SNAP = """\
memory: 512
parent: s1
scsi0: local:100/vm-100-disk-0.qcow2,size=1G

[s1]
#first
memory: 256
scsi0: local:100/vm-100-disk-0.qcow2,size=1G
snaptime: 1600000000
"""
CHAIN = """\
memory: 512
parent: s2

[s1]
memory: 1
snaptime: 1

[s2]
memory: 2
parent: s1
snaptime: 2

[s3]
memory: 3
parent: s2
snaptime: 3
"""


@dataclass
class Case:
    id: str
    before: str
    op: Callable[[VmConfig], object]
    after: str | None = None
    error: str | None = None


def canon(text: str) -> str:
    return render_config(parse_config(text))


CASES = [
    Case(
        "prepare copies main without unused and lock, marks prepare",
        BASE,
        lambda c: snapconf.prepare(c, "s1", NOW, "my snap"),
        BASE.replace("memory", "lock: snapshot\nmemory", 1)
        + "\n[s1]\n#my snap\nide2: none,media=cdrom\nmemory: 512\nname: vm1\n"
        "scsi0: local:100/vm-100-disk-0.qcow2,size=1G\nsnapstate: prepare\n"
        f"snaptime: {NOW}\n",
    ),
    Case(
        "prepare records the parent chain and the state disk",
        ONE_SNAP,
        lambda c: snapconf.prepare(c, "s2", NOW, vmstate="local:100/vm-100-disk-0.qcow2"),
        ONE_SNAP.replace("memory: 512", "lock: snapshot\nmemory: 512", 1)
        + "\n[s2]\nmemory: 512\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2,size=1G\n"
        f"snapstate: prepare\nsnaptime: {NOW}\nvmstate: local:100/vm-100-disk-0.qcow2\n",
    ),
    Case("name in use", ONE_SNAP, lambda c: snapconf.prepare(c, "s1", NOW), error="already used"),
    Case("reserved name", BASE, lambda c: snapconf.prepare(c, "current", NOW), error="Parameter"),
    Case("bad name", BASE, lambda c: snapconf.prepare(c, "1abc", NOW), error="Parameter"),
    Case(
        "locked config",
        "lock: backup\nmemory: 1\n",
        lambda c: snapconf.prepare(c, "s1", NOW),
        error="locked (backup)",
    ),
    Case(
        "template",
        "template: 1\nmemory: 1\n",
        lambda c: snapconf.prepare(c, "s1", NOW),
        error="template",
    ),
    Case(
        "commit sets parent and unlocks",
        "lock: snapshot\nmemory: 1\n\n[s1]\nmemory: 1\nsnapstate: prepare\nsnaptime: 5\n",
        lambda c: snapconf.commit(c, "s1"),
        "memory: 1\nparent: s1\n\n[s1]\nmemory: 1\nsnaptime: 5\n",
    ),
    Case(
        "commit of a finished snapshot",
        ONE_SNAP,
        lambda c: snapconf.commit(c, "s1"),
        error="wrong snapshot state",
    ),
    Case(
        "abort drops the section and the lock",
        "lock: snapshot\nmemory: 1\n\n[s1]\nmemory: 1\nsnapstate: prepare\nsnaptime: 5\n",
        lambda c: snapconf.abort(c, "s1"),
        "memory: 1\n",
    ),
    Case(
        "mark_delete locks and flags",
        ONE_SNAP,
        lambda c: snapconf.mark_delete(c, "s1"),
        ONE_SNAP.replace("memory: 512", "lock: snapshot-delete\nmemory: 512", 1).replace(
            "snaptime: 1600000000", "snapstate: delete\nsnaptime: 1600000000"
        ),
    ),
    Case(
        "mark_delete of a missing snapshot",
        BASE,
        lambda c: snapconf.mark_delete(c, "nope"),
        error="does not exist",
    ),
    Case(
        "mark_delete of a half-made snapshot needs force",
        "lock: snapshot\nmemory: 1\n\n[s1]\nmemory: 1\nsnapstate: prepare\nsnaptime: 5\n",
        lambda c: snapconf.mark_delete(c, "s1"),
        error="locked (snapshot)",
    ),
    Case(
        "forced mark_delete takes over a half-made snapshot",
        "lock: snapshot\nmemory: 1\n\n[s1]\nmemory: 1\nsnapstate: prepare\nsnaptime: 5\n",
        lambda c: snapconf.mark_delete(c, "s1", force=True),
        "lock: snapshot-delete\nmemory: 1\n\n[s1]\nmemory: 1\nsnapstate: delete\nsnaptime: 5\n",
    ),
    Case(
        "remove a middle snapshot re-links its child",
        CHAIN,
        lambda c: snapconf.remove(c, "s2"),
        "memory: 512\nparent: s1\n\n[s1]\nmemory: 1\nsnaptime: 1\n\n"
        "[s3]\nmemory: 3\nparent: s1\nsnaptime: 3\n",
    ),
    Case(
        "remove the root snapshot leaves the child parentless",
        CHAIN,
        lambda c: snapconf.remove(c, "s1"),
        "memory: 512\nparent: s2\n\n[s2]\nmemory: 2\nsnaptime: 2\n\n"
        "[s3]\nmemory: 3\nparent: s2\nsnaptime: 3\n",
    ),
    Case(
        "rollback restores the snapshot, keeps description and unused",
        "#now\nmemory: 2048\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2,size=1G\n"
        "unused0: local:100/vm-100-disk-7.raw\n\n[PENDING]\nmemory: 4096\n\n"
        "[s1]\n#then\nmemory: 256\nscsi0: local:100/vm-100-disk-0.qcow2,size=1G\nsnaptime: 1\n",
        lambda c: snapconf.apply_rollback(c, "s1"),
        "#now\nmemory: 256\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2,size=1G\n"
        "unused0: local:100/vm-100-disk-7.raw\n\n"
        "[s1]\n#then\nmemory: 256\nscsi0: local:100/vm-100-disk-0.qcow2,size=1G\nsnaptime: 1\n",
    ),
    Case(
        "rollback keeps disks added after the snapshot as unused",
        "memory: 1\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2\n"
        "scsi1: local:100/vm-100-disk-1.qcow2\n\n"
        "[s1]\nmemory: 1\nscsi0: local:100/vm-100-disk-0.qcow2\nsnaptime: 1\n",
        lambda c: snapconf.apply_rollback(c, "s1"),
        "memory: 1\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2\n"
        "unused0: local:100/vm-100-disk-1.qcow2\n\n"
        "[s1]\nmemory: 1\nscsi0: local:100/vm-100-disk-0.qcow2\nsnaptime: 1\n",
    ),
    Case(
        "rollback re-attaches a disk that had become unused",
        "memory: 1\nscsi0: local:100/vm-100-disk-1.qcow2\n"
        "unused0: local:100/vm-100-disk-0.qcow2\n\n"
        "[s1]\nmemory: 1\nscsi0: local:100/vm-100-disk-0.qcow2\nsnaptime: 1\n",
        lambda c: snapconf.apply_rollback(c, "s1"),
        "memory: 1\nparent: s1\nscsi0: local:100/vm-100-disk-0.qcow2\n"
        "unused1: local:100/vm-100-disk-1.qcow2\n\n"
        "[s1]\nmemory: 1\nscsi0: local:100/vm-100-disk-0.qcow2\nsnaptime: 1\n",
    ),
    Case(
        "rollback to an incomplete snapshot",
        "memory: 1\n\n[s1]\nmemory: 1\nsnapstate: delete\nsnaptime: 1\n",
        lambda c: snapconf.rollback_volumes(c, "s1"),
        error="incomplete snapshot",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_snapshot_sections(case: Case) -> None:
    cfg = parse_config(case.before)
    if case.error is not None:
        with pytest.raises(PyxisError, match=re.escape(case.error)):
            case.op(cfg)
        return
    case.op(cfg)
    assert render_config(cfg) == canon(case.after or "")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (BASE, {"scsi0": "local:100/vm-100-disk-0.qcow2"}),
        ("ide2: local:iso/x.iso,media=cdrom\nvirtio1: /dev/sdb\n", {}),
        (
            "efidisk0: local:100/vm-100-disk-2.raw,efitype=4m\nsata1: store2:vm-100-disk-3\n",
            {"efidisk0": "local:100/vm-100-disk-2.raw", "sata1": "store2:vm-100-disk-3"},
        ),
    ],
)
def test_disk_volumes(text: str, expected: dict[str, str]) -> None:
    assert snapconf.disk_volumes(parse_config(text).main) == expected


def test_snapshotted_volumes() -> None:
    cfg = parse_config(ONE_SNAP)
    assert snapconf.snapshotted_volumes(cfg) == {"local:100/vm-100-disk-0.qcow2"}
