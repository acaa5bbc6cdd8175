"""Wire format of the replication protocol.

A message is ``u32 header length | JSON header | blobs``: the header is
``[kind, fields, [blob lengths]]`` and blobs carry file contents raw (no base64), so a
4 KiB write costs 4 KiB plus ~150 bytes.  JSON round-trips floats exactly, which keeps
lock expiry (``now + ttl``) bit-identical on every replica.

Kinds: ``op`` (a batch of one origin's ops), ``state`` (a member's replica summary for
a sync round), ``data`` (a chunk of the leader's full state), ``delta`` (instead of
``data``: a run of the leader's recent ops, each with its index and checksum after it,
for members whose state the leader passed through), ``done`` (end of the leader's state,
with the checksum to verify), ``applied`` (progress
after a group commit) and ``resync`` (ask for a fresh round, e.g. once quorum arrived).
A round is named ``(members, n)``: the member list of the configuration and the number
of resyncs delivered since its configuration change.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from typing import Any

from pyxis.store.base import Entry
from pyxis.store.replication.history import Step
from pyxis.store.tree import Op, Tree

_LEN = struct.Struct("!I")
CHUNK = 256 * 1024  # sync chunks and op batches stay well under corosync's limits
Round = tuple[tuple[int, ...], int]


def encode(kind: str, fields: dict[str, Any], blobs: list[bytes] | None = None) -> bytes:
    blobs = blobs or []
    header = json.dumps([kind, fields, [len(b) for b in blobs]], separators=(",", ":")).encode()
    return b"".join([_LEN.pack(len(header)), header, *blobs])


def decode(data: bytes) -> tuple[str, dict[str, Any], list[bytes]]:
    (hlen,) = _LEN.unpack_from(data)
    kind, fields, lens = json.loads(data[4 : 4 + hlen])
    blobs, pos = [], 4 + hlen
    view = memoryview(data)
    for n in lens:
        blobs.append(bytes(view[pos : pos + n]))
        pos += n
    return kind, fields, blobs


def round_json(r: Round) -> list[Any]:
    return [list(r[0]), r[1]]


def round_of(value: Any) -> Round:
    return (tuple(int(m) for m in value[0]), int(value[1]))


# --- ops ----------------------------------------------------------------------------------
def _op_row(o: Op) -> list[Any]:
    """An op's fields but its data (a blob) and origin (the message's, or a delta row's)."""
    return [
        *(o.kind, o.path, o.new_path, o.expect_digest, o.expect_version),
        *(o.writer, o.holder, o.now, o.ttl, o.seq),
    ]


def _row_op(row: list[Any], data: bytes, origin: str) -> Op:
    kind, path, new_path, ed, ev, writer, holder, now, ttl, seq = row
    return Op(kind, path, data, new_path, ed, ev, writer, holder, now, ttl, origin, seq)


def encode_ops(origin: str, ops: list[Op], report: tuple[Any, int] | None = None) -> bytes:
    """A batch of one origin's ops; ``report`` piggybacks an ``applied`` (round, index)."""
    fields: dict[str, Any] = {"o": origin, "ops": [_op_row(o) for o in ops]}
    if report is not None:
        fields["r"], fields["i"] = report
    return encode("op", fields, [o.data for o in ops])


def decode_ops(fields: dict[str, Any], blobs: list[bytes]) -> list[Op]:
    origin = fields["o"]
    return [_row_op(row, data, origin) for row, data in zip(fields["ops"], blobs, strict=True)]


def encode_delta(r: Round, steps: list[Step]) -> list[bytes]:
    """A leader's ops since some past state as ``delta`` messages of at most ~CHUNK bytes:
    each op with its origin and the leader's index and checksum after it."""
    out: list[bytes] = []
    batch: list[Step] = []
    size = 0

    def flush() -> None:
        rows = [[*_op_row(st.op), st.op.origin, st.index, st.checksum] for st in batch]
        out.append(encode("delta", {"r": round_json(r), "ops": rows}, [st.op.data for st in batch]))

    for st in steps:
        cost = op_size(st.op) + 160  # the row also names the origin, index and checksum
        if batch and size + cost > CHUNK:
            flush()
            batch, size = [], 0
        batch.append(st)
        size += cost
    if batch:
        flush()
    return out


def decode_delta(fields: dict[str, Any], blobs: list[bytes]) -> list[Step]:
    steps = []
    for row, data in zip(fields["ops"], blobs, strict=True):
        *head, origin, index, checksum = row
        steps.append(Step(_row_op(head, data, origin), int(index), str(checksum)))
    return steps


def op_size(op: Op) -> int:
    return len(op.data) + len(op.path) + len(op.new_path) + 96


# --- sync round ---------------------------------------------------------------------------
@dataclass(frozen=True)
class StateMsg:
    """One member's replica summary for a round."""

    round: Round
    epoch: int
    index: int
    gv: int
    checksum: str
    quorate: bool
    deltas: bool = True  # understands ``delta`` catch-up (nodes before it do not say so)

    def encode(self) -> bytes:
        return encode(
            "state",
            {
                "r": round_json(self.round),
                "e": self.epoch,
                "i": self.index,
                "g": self.gv,
                "c": self.checksum,
                "q": self.quorate,
                "dl": 1 if self.deltas else 0,
            },
        )

    @classmethod
    def of(cls, f: dict[str, Any]) -> StateMsg:
        return cls(
            round_of(f["r"]), f["e"], f["i"], f["g"], f["c"], bool(f["q"]), bool(f.get("dl"))
        )

    def rank(self, nodeid: int) -> tuple[int, int, str, int]:
        """Leader order: highest (epoch, index), then checksum, then lowest node id."""
        return (self.epoch, self.index, self.checksum, -nodeid)


def encode_tree(tree: Tree) -> bytes:
    """The full replicated state as one byte string (cut into ``data`` chunks)."""
    entries = tree.walk()
    fields = {
        "gv": tree.gv,
        "index": tree.index,
        "seqs": tree.seqs,
        "locks": [[n, h, x] for n, (h, x) in sorted(tree.locks.items())],
        "entries": [[e.path, e.version, e.mtime, e.writer] for e in entries],
    }
    return encode("tree", fields, [e.data for e in entries])


def decode_tree(data: bytes) -> Tree:
    _, f, blobs = decode(data)
    entries = {p: Entry(p, d, v, m, w) for (p, v, m, w), d in zip(f["entries"], blobs, strict=True)}
    locks = {n: (h, float(x)) for n, h, x in f["locks"]}
    return Tree(entries, locks, {o: int(s) for o, s in f["seqs"].items()}, f["gv"], f["index"])


def chunks(data: bytes, size: int = CHUNK) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]
