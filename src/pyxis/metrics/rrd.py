"""Round-robin metrics files: fixed-size archives per timeframe with AVERAGE and MAX.

The layout follows upstream's "pve2" RRDs: samples are averaged into primary data points
(PDPs) of ``STEP`` = 60 s, and PDPs are consolidated into one archive (RRA) per timeframe
and consolidation function, each 70 rows long: hour = 1 min rows, day = 30 min, week =
3 h, month = 12 h, year = 1 week, decade = 8 weeks (upstream 9's node graphs offer a
decade; here it keeps the 70-row shape of the others).  A row is known when at least
half of its PDPs were (rrdtool's xfiles factor 0.5); a missing PDP is simply never
added, so gaps read back as ``None``.  ``fetch`` also shows the row still being filled,
so a graph has its newest point as soon as the first sample arrived.

rrdtool itself (librrd through the ``rrdtool`` binding) was weighed and left out: it
needs a C toolchain and ``librrd-dev`` on every machine for a binding unmaintained since
2022, and whisper keeps one metric with one consolidation function per file.  This
module needs only the standard library: one ``array('d')`` ring per archive, the whole
entity persisted in one file (a JSON header, then the rings as little-endian doubles)
replaced atomically.  Values are gauges: the collector turns counters into rates first.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STEP = 60
XFF = 0.5
MAGIC = b"PYXRRD1\n"
NAN = math.nan
CFS = ("AVERAGE", "MAX")


@dataclass(frozen=True)
class Timeframe:
    """One archive shape: ``rows`` rows of ``steps`` PDPs each."""

    name: str
    steps: int
    rows: int = 70

    @property
    def seconds(self) -> int:
        """Width of one row in seconds."""
        return self.steps * STEP


TIMEFRAMES: dict[str, Timeframe] = {
    tf.name: tf
    for tf in (
        Timeframe("hour", 1),
        Timeframe("day", 30),
        Timeframe("week", 180),
        Timeframe("month", 720),
        Timeframe("year", 10080),
        Timeframe("decade", 80640),
    )
}


class RrdError(ValueError):
    """A metrics file that cannot be read, or a request for an archive it lacks."""


class Rra:
    """One archive: a ring of consolidated rows for every metric, plus the open row.

    Rows are numbered absolutely (``row = pdp // steps``); row ``r`` lives in slot
    ``r % rows``.  ``last_row`` is the newest closed row and ``cur_row`` the open one
    (``-1``: none yet); ``acc``/``known`` consolidate the PDPs of the open row.
    """

    def __init__(self, tf: Timeframe, cf: str, width: int) -> None:
        if cf not in CFS:
            raise RrdError(f"unknown consolidation function '{cf}'")
        self.tf, self.cf, self.width = tf, cf, width
        self.ring = array("d", [NAN]) * (tf.rows * width)
        self.last_row = -1
        self.cur_row = -1
        self.last_pdp = -1
        self.acc = array("d", [0.0]) * width
        self.known = array("q", [0]) * width

    def add(self, pdp: int, values: Sequence[float]) -> None:
        """Consolidate PDP number ``pdp`` (``NaN`` = unknown metric) into its row."""
        row = pdp // self.tf.steps
        if row != self.cur_row:
            if self.cur_row >= 0:
                self._close()
            self.cur_row = row
            self.acc = array("d", [0.0]) * self.width
            self.known = array("q", [0]) * self.width
        self.last_pdp = pdp
        self._merge(self.acc, self.known, values)

    def _merge(self, acc: array[float], known: array[int], values: Sequence[float]) -> None:
        avg = self.cf == "AVERAGE"
        for i, v in enumerate(values):
            if math.isnan(v):
                continue
            if known[i] == 0:
                acc[i] = v
            else:
                acc[i] = acc[i] + v if avg else max(acc[i], v)
            known[i] += 1

    def _value(self, acc: float, known: int, span: int) -> float:
        if known == 0 or known < (1 - XFF) * span:
            return NAN
        return acc / known if self.cf == "AVERAGE" else acc

    def _close(self) -> None:
        rows, row = self.tf.rows, self.cur_row
        first = row - rows + 1 if self.last_row < 0 else max(self.last_row + 1, row - rows + 1)
        for r in range(first, row):
            base = (r % rows) * self.width
            self.ring[base : base + self.width] = array("d", [NAN]) * self.width
        base = (row % rows) * self.width
        for i in range(self.width):
            self.ring[base + i] = self._value(self.acc[i], self.known[i], self.tf.steps)
        self.last_row = row

    def rows_until(
        self, end_row: int, pending: tuple[int, Sequence[float]] | None = None
    ) -> list[tuple[int, list[float]]]:
        """The ``rows`` rows ending with ``end_row``: (row start time, values).

        ``pending`` is the PDP still being sampled (number, values); it counts towards
        the open row it belongs to, as a provisional value.
        """
        open_rows: dict[int, tuple[array[float], array[int], int]] = {}
        if self.cur_row >= 0:
            open_rows[self.cur_row] = (array("d", self.acc), array("q", self.known), self.last_pdp)
        if pending is not None:
            pdp, values = pending
            row = pdp // self.tf.steps
            if row >= self.cur_row:
                acc, known, _ = open_rows.get(
                    row, (array("d", [0.0]) * self.width, array("q", [0]) * self.width, pdp)
                )
                self._merge(acc, known, values)
                open_rows[row] = (acc, known, pdp)
        newest = max(open_rows, default=-1)
        out: list[tuple[int, list[float]]] = []
        for r in range(end_row - self.tf.rows + 1, end_row + 1):
            if r in open_rows:
                acc, known, last = open_rows[r]
                # a superseded open row is complete; the newest counts PDPs so far
                span = last - r * self.tf.steps + 1 if r == newest else self.tf.steps
                vals = [self._value(acc[i], known[i], span) for i in range(self.width)]
            elif self.last_row >= 0 and self.last_row - self.tf.rows < r <= self.last_row:
                base = (r % self.tf.rows) * self.width
                vals = list(self.ring[base : base + self.width])
            else:
                vals = [NAN] * self.width
            out.append((r * self.tf.seconds, vals))
        return out

    def state(self) -> dict[str, Any]:
        return {
            "tf": self.tf.name,
            "cf": self.cf,
            "steps": self.tf.steps,
            "rows": self.tf.rows,
            "last_row": self.last_row,
            "cur_row": self.cur_row,
            "last_pdp": self.last_pdp,
            "acc": [0.0 if math.isnan(x) else x for x in self.acc],
            "known": list(self.known),
        }


class RrdFile:
    """All archives of one entity (a node, a guest, a storage) over fixed metrics."""

    def __init__(self, metrics: Sequence[str], timeframes: Sequence[Timeframe] = ()) -> None:
        self.metrics = tuple(metrics)
        self.rras: dict[tuple[str, str], Rra] = {}
        for tf in timeframes or TIMEFRAMES.values():
            for cf in CFS:
                self.rras[(tf.name, cf)] = Rra(tf, cf, len(self.metrics))
        self.last_update = 0.0
        self.pdp = -1
        self.pdp_sum = array("d", [0.0]) * len(self.metrics)
        self.pdp_cnt = array("q", [0]) * len(self.metrics)

    def update(self, when: float, values: Mapping[str, float | None]) -> bool:
        """Add one sample taken at ``when`` (epoch seconds); unknown names are ignored.

        Returns whether a PDP was completed (the file then needs saving).  A sample not
        newer than the previous one is dropped, as rrdtool refuses it.
        """
        if when <= self.last_update:
            return False
        pdp = int(when // STEP)
        closed = False
        if pdp != self.pdp:
            if self.pdp >= 0:
                self._close_pdp()
                closed = True
            self.pdp = pdp
            self.pdp_sum = array("d", [0.0]) * len(self.metrics)
            self.pdp_cnt = array("q", [0]) * len(self.metrics)
        for i, name in enumerate(self.metrics):
            v = values.get(name)
            if v is not None and not math.isnan(v):
                self.pdp_sum[i] += float(v)
                self.pdp_cnt[i] += 1
        self.last_update = when
        return closed

    def _pdp_values(self) -> list[float]:
        return [s / c if c else NAN for s, c in zip(self.pdp_sum, self.pdp_cnt, strict=True)]

    def _close_pdp(self) -> None:
        values = self._pdp_values()
        for rra in self.rras.values():
            rra.add(self.pdp, values)

    def fetch(self, timeframe: str, cf: str, now: float) -> list[dict[str, Any]]:
        """The archive's rows up to the one holding ``now``: ``{time, metric: value|None}``."""
        rra = self.rras.get((timeframe, cf))
        if rra is None:
            raise RrdError(f"no archive for timeframe '{timeframe}' cf '{cf}'")
        end_row = int(now // rra.tf.seconds)
        pending = (self.pdp, self._pdp_values()) if self.pdp >= 0 else None
        out: list[dict[str, Any]] = []
        for start, vals in rra.rows_until(end_row, pending):
            point: dict[str, Any] = {"time": start}
            for name, v in zip(self.metrics, vals, strict=True):
                point[name] = None if math.isnan(v) else v
            out.append(point)
        return out

    # --- persistence ---------------------------------------------------------------
    def dumps(self) -> bytes:
        """The whole file: magic, header length, JSON header, rings as LE doubles."""
        header = {
            "step": STEP,
            "metrics": list(self.metrics),
            "last_update": self.last_update,
            "pdp": self.pdp,
            "pdp_sum": list(self.pdp_sum),
            "pdp_cnt": list(self.pdp_cnt),
            "rras": [rra.state() for rra in self.rras.values()],
        }
        head = json.dumps(header, separators=(",", ":")).encode()
        parts = [MAGIC, struct.pack("<I", len(head)), head]
        for rra in self.rras.values():
            ring = array("d", rra.ring)
            if sys.byteorder != "little":
                ring.byteswap()
            parts.append(ring.tobytes())
        return b"".join(parts)

    @classmethod
    def loads(cls, data: bytes, metrics: Sequence[str] | None = None) -> RrdFile:
        """Parse ``dumps`` output.  With ``metrics``, columns are matched by name (new
        ones start unknown, dropped ones are discarded) and archives whose shape changed
        start empty, so a layout change never loses the history that still fits."""
        try:
            if not data.startswith(MAGIC):
                raise RrdError("not a pyxis metrics file")
            (hlen,) = struct.unpack_from("<I", data, len(MAGIC))
            start = len(MAGIC) + 4
            header = json.loads(data[start : start + hlen])
            if header["step"] != STEP:
                raise RrdError(f"step {header['step']} is not {STEP}")
            stored: list[str] = list(header["metrics"])
            rf = cls(metrics if metrics is not None else stored)
            cols = [stored.index(m) if m in stored else -1 for m in rf.metrics]
            rf.last_update = float(header["last_update"])
            rf.pdp = int(header["pdp"])
            for j, c in enumerate(cols):
                if c >= 0:
                    rf.pdp_sum[j] = float(header["pdp_sum"][c])
                    rf.pdp_cnt[j] = int(header["pdp_cnt"][c])
            offset = start + hlen
            for st in header["rras"]:
                size = int(st["rows"]) * len(stored) * 8
                ring = array("d")
                ring.frombytes(data[offset : offset + size])
                offset += size
                if len(ring) * 8 != size:
                    raise RrdError("truncated metrics file")
                rra = rf.rras.get((st["tf"], st["cf"]))
                if rra is None or (rra.tf.steps, rra.tf.rows) != (st["steps"], st["rows"]):
                    continue
                if sys.byteorder != "little":
                    ring.byteswap()
                _restore(rra, st, ring, cols, len(stored))
            return rf
        except (KeyError, ValueError, TypeError, IndexError, struct.error) as err:
            if isinstance(err, RrdError):
                raise
            raise RrdError(f"broken metrics file: {err}") from err

    def save(self, path: Path) -> None:
        """Write the file atomically (a temporary sibling renamed over it)."""
        write_atomic(path, self.dumps())

    @classmethod
    def load(cls, path: Path, metrics: Sequence[str] | None = None) -> RrdFile:
        return cls.loads(path.read_bytes(), metrics)


def _restore(rra: Rra, st: dict[str, Any], ring: array[float], cols: list[int], n: int) -> None:
    rra.last_row, rra.cur_row = int(st["last_row"]), int(st["cur_row"])
    rra.last_pdp = int(st["last_pdp"])
    for j, c in enumerate(cols):
        if c < 0:
            continue
        rra.acc[j] = float(st["acc"][c])
        rra.known[j] = int(st["known"][c])
        for r in range(rra.tf.rows):
            rra.ring[r * rra.width + j] = ring[r * n + c]


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so that readers see the old or the new file whole.

    No fsync: metrics are not worth a disk flush every minute per guest; the rename
    alone keeps a crash from leaving a half-written file in place.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, path)
